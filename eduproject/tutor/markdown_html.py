"""Tutor text (markdown) to safe HTML for the panel: highlighted code, no raw HTML, no links.

Model output is untrusted: raw HTML in it is shown as text, links and images are reduced to
their text, and only a fixed set of tags survives. Code blocks are highlighted by Pygments
with inline styles, so the panel needs no stylesheet for them.

    render_markdown("Use `%` here:\\n\\n```python\\nx % 2\\n```")
"""

from __future__ import annotations

import xml.etree.ElementTree as etree

import markdown
from markdown.extensions import Extension
from markdown.treeprocessors import Treeprocessor

__all__ = ["render_markdown"]

_ALLOWED_TAGS = {
    "p", "em", "strong", "code", "pre", "ul", "ol", "li", "blockquote", "br", "hr",
    "h1", "h2", "h3", "h4", "h5", "h6", "div", "span", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
# Pygments' inline styles arrive as `style` on span/div/pre; codehilite adds `class` on div.
_ALLOWED_ATTRS = {"style", "class"}


class _Sanitize(Treeprocessor):
    """Unwrap links/images to their text and drop every tag or attribute not on the list."""

    def run(self, root: etree.Element) -> None:
        for parent in list(root.iter()):
            for child in list(parent):
                if child.tag == "img":
                    alt = child.get("alt", "")
                    _replace_with_text(parent, child, alt)
                elif child.tag not in _ALLOWED_TAGS:
                    _unwrap(parent, child)
            for key in list(parent.attrib):
                if key not in _ALLOWED_ATTRS:
                    del parent.attrib[key]


def _replace_with_text(parent: etree.Element, child: etree.Element, text: str) -> None:
    index = list(parent).index(child)
    tail = text + (child.tail or "")
    if index == 0:
        parent.text = (parent.text or "") + tail
    else:
        prev = parent[index - 1]
        prev.tail = (prev.tail or "") + tail
    parent.remove(child)


def _unwrap(parent: etree.Element, child: etree.Element) -> None:
    """Replace ``child`` by its own text and children (keeps a link's words, drops the href)."""
    index = list(parent).index(child)
    grandchildren = list(child)
    lead = child.text or ""
    if index == 0:
        parent.text = (parent.text or "") + lead
    else:
        prev = parent[index - 1]
        prev.tail = (prev.tail or "") + lead
    parent.remove(child)
    for offset, grandchild in enumerate(grandchildren):
        parent.insert(index + offset, grandchild)
    if child.tail:
        if grandchildren:
            last = grandchildren[-1]
            last.tail = (last.tail or "") + child.tail
        elif index == 0:
            parent.text = (parent.text or "") + child.tail
        else:
            prev = parent[index - 1]
            prev.tail = (prev.tail or "") + child.tail


class _SafeMarkdown(Extension):
    def extendMarkdown(self, md: markdown.Markdown) -> None:
        # Without these, raw HTML blocks and inline tags are escaped as text.
        md.preprocessors.deregister("html_block")
        md.inlinePatterns.deregister("html")
        md.treeprocessors.register(_Sanitize(md), "eduproject_sanitize", 0)


def _converter() -> markdown.Markdown:
    return markdown.Markdown(
        extensions=["fenced_code", "codehilite", "sane_lists", _SafeMarkdown()],
        extension_configs={
            "codehilite": {
                "noclasses": True,
                "guess_lang": False,
                "lang_prefix": "language-",
                "pygments_style": "friendly",
                "css_class": "edu-code",
            }
        },
        output_format="html",
    )


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
    text = _python_fences(text, close_open=streaming)
    # A fresh converter per call: Markdown objects keep state and the panel renders from threads.
    return _converter().convert(text)
