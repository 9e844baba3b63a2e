"""Tutor text (markdown) to safe HTML for the panel: highlighted code, no raw HTML, no links.

Model output is untrusted: raw HTML in it is shown as text, links and images are reduced to
their text, and only a fixed set of tags survives (:func:`eduproject.util.markdown.safe_html`).
Code blocks are highlighted by Pygments with inline styles, so the panel needs no stylesheet
for them.

    render_markdown("Use `%` here:\\n\\n```python\\nx % 2\\n```")
"""

from __future__ import annotations

from eduproject.util.markdown import safe_html

__all__ = ["render_markdown"]

_CODEHILITE = {
    "noclasses": True,
    "guess_lang": False,
    "lang_prefix": "language-",
    "pygments_style": "friendly",
    "css_class": "edu-code",
}


def _python_fences(text: str, *, close_open: bool) -> str:
    """Give unlabelled code fences the language Python (the course language) for highlighting.

    While a reply streams a fence may still be open: ``close_open`` closes it so the code
    already renders as code.
    """
    lines = text.split("\n")
    inside = False
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped.startswith("```"):
            continue
        if not inside and stripped == "```":
            lines[i] = line.replace("```", "```python", 1)
        inside = not inside
    if inside and close_open:
        lines.append("```")
    return "\n".join(lines)


def render_markdown(text: str, *, streaming: bool = False) -> str:
    """Render tutor markdown to HTML that is safe to put in an ``ipywidgets.HTML``."""
    return safe_html(
        _python_fences(text, close_open=streaming),
        extensions=("fenced_code", "codehilite", "sane_lists"),
        extension_configs={"codehilite": _CODEHILITE},
    )
