"""The shell of every HTML page eduproject writes: feedback, reports, the gateway's pages, bench.

One self-contained file: no script, no external resource, and a Content Security Policy that
forbids scripts even if something slipped through (only inline styles and ``data:`` images
load). The base style is ``page.css`` beside this module; a page adds its own rules::

    html_page("01-functions: ada", body_html, extra_css=".plots { display: grid; }")
"""

from __future__ import annotations

from functools import cache
from html import escape
from importlib.resources import files

__all__ = ["CSP", "base_css", "html_page"]

# Scripts are off for the whole page; only inline styles and data: images may load.
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


@cache
def base_css() -> str:
    """The style every page starts from (``eduproject/util/page.css``)."""
    return files("eduproject.util").joinpath("page.css").read_text(encoding="utf-8")


def html_page(
    title: str, body: str, *, extra_css: str = "", css: str | None = None, csp: str = CSP
) -> str:
    """A complete HTML page around ``body`` (which must already be safe); ``csp`` is its
    Content Security Policy (by default: no script at all).

    ``css`` replaces the base style (a page with a look of its own); ``extra_css`` adds to it.
    """
    style = (base_css() if css is None else css) + extra_css
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{style}</style></head>"
        f"<body>\n{body}\n</body></html>\n"
    )
