"""The shell of every HTML page eduproject writes: feedback, reports, the gateway's pages, bench.

One self-contained file: no script, no external resource, and a Content Security Policy that
forbids scripts even if something slipped through (only inline styles and ``data:`` images
load). The base style is ``page.css`` beside this module; a page adds its own rules::

    html_page("01-functions: ada", body_html, extra_css=".plots { display: grid; }")

``table`` writes an escaped table, ``png_uri`` a matplotlib figure as an embeddable image.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Collection, Sequence
from functools import cache
from html import escape
from importlib.resources import files
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["CSP", "base_css", "html_page", "png_uri", "table"]

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


def table(
    head: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    numeric: Collection[int] = (),
    row_classes: Sequence[str] | None = None,
) -> str:
    """An HTML table of text (every cell escaped); columns in ``numeric`` align right
    (class ``num``), ``row_classes`` gives rows a class each ("" for none)."""
    out = ["<table><tr>", *(f"<th>{escape(h)}</th>" for h in head), "</tr>"]
    for index, row in enumerate(rows):
        cls = row_classes[index] if row_classes else ""
        cells = (
            f"<td class='num'>{escape(c)}</td>" if i in numeric else f"<td>{escape(c)}</td>"
            for i, c in enumerate(row)
        )
        out.append((f"<tr class='{cls}'>" if cls else "<tr>") + "".join(cells) + "</tr>")
    out.append("</table>")
    return "".join(out)


def png_uri(fig: Figure) -> str:
    """``fig`` (laid out tight, 100 dpi) as a ``data:`` URI, for an ``<img src>``."""
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=100)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
