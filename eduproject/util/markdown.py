"""Untrusted markdown to safe HTML: the one sanitiser behind the tutor panel and feedback pages.

Raw HTML in the markdown is shown as text, never passed through; only a fixed set of tags and
attributes survives. Links keep only http(s), mailto and ``#`` targets (or, with
``links=False``, are reduced to their text); an image is kept only when ``images`` turns its
source into a safe one (a ``data:`` URI), else it becomes its alt text::

    safe_html("Use `%` here:\\n\\n```python\\nx % 2\\n```")
    safe_html(cell_source, links=True, images=attachment_uri, extensions=("fenced_code", "tables"))

A fresh converter is made per call: ``markdown.Markdown`` objects keep state, and the panel
renders from threads.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as etree
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import markdown
from markdown.extensions import Extension
from markdown.treeprocessors import Treeprocessor

__all__ = ["SAFE_HREF", "ImageSource", "safe_html"]

# An image's ``src`` -> a safe source to show it from (a data: URI), or None to drop it.
ImageSource = Callable[[str], str | None]

SAFE_HREF = re.compile(r"^(https?:|mailto:|#)", re.IGNORECASE)
_ALLOWED_TAGS = {
    "p", "em", "strong", "code", "pre", "ul", "ol", "li", "blockquote", "br", "hr",
    "h1", "h2", "h3", "h4", "h5", "h6", "div", "span", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
# Pygments' inline styles arrive as `style` on span/div/pre, table alignment as `style` on
# th/td; `class` names a code block's language.
_ALLOWED_ATTRS = {"style", "class"}
_LINK_ATTRS = _ALLOWED_ATTRS | {"href", "title"}
_IMAGE_ATTRS = _ALLOWED_ATTRS | {"src", "alt", "title"}


class _Sanitize(Treeprocessor):
    """Links and images as the policy says; every other tag or attribute not on the list goes
    (an unknown tag is replaced by its own text and children)."""

    def __init__(self, md: markdown.Markdown, links: bool, images: ImageSource | None) -> None:
        super().__init__(md)
        self.links = links
        self.images = images

    def run(self, root: etree.Element) -> None:
        for parent in list(root.iter()):
            for child in list(parent):
                if child.tag == "img":
                    self._image(parent, child)
                elif child.tag == "a" and self.links:
                    if not SAFE_HREF.match(child.get("href", "")):
                        child.attrib.pop("href", None)
                elif child.tag not in _ALLOWED_TAGS:
                    _unwrap(parent, child)
            allowed = (
                _LINK_ATTRS
                if parent.tag == "a" and self.links
                else _IMAGE_ATTRS
                if parent.tag == "img" and self.images is not None
                else _ALLOWED_ATTRS
            )
            for key in list(parent.attrib):
                if key not in allowed:
                    del parent.attrib[key]

    def _image(self, parent: etree.Element, child: etree.Element) -> None:
        alt = child.get("alt", "")
        if self.images is None:
            _replace_with_text(parent, child, alt)
            return
        source = self.images(child.get("src", ""))
        if source is not None:
            child.set("src", source)
            return
        note = etree.Element("span", {"class": "note"})
        note.text = f"[image: {alt}]"
        note.tail = child.tail
        parent.insert(list(parent).index(child), note)
        parent.remove(child)


def _text_before(parent: etree.Element, index: int, text: str) -> None:
    """Add ``text`` where the child at ``index`` of ``parent`` starts."""
    if index == 0:
        parent.text = (parent.text or "") + text
    else:
        prev = parent[index - 1]
        prev.tail = (prev.tail or "") + text


def _replace_with_text(parent: etree.Element, child: etree.Element, text: str) -> None:
    index = list(parent).index(child)
    _text_before(parent, index, text + (child.tail or ""))
    parent.remove(child)


def _unwrap(parent: etree.Element, child: etree.Element) -> None:
    """Replace ``child`` by its own text and children (keeps a link's words, drops the href)."""
    index = list(parent).index(child)
    grandchildren = list(child)
    _text_before(parent, index, child.text or "")
    parent.remove(child)
    for offset, grandchild in enumerate(grandchildren):
        parent.insert(index + offset, grandchild)
    if child.tail:
        if grandchildren:
            last = grandchildren[-1]
            last.tail = (last.tail or "") + child.tail
        else:
            _text_before(parent, index, child.tail)


class _SafeMarkdown(Extension):
    def __init__(self, links: bool, images: ImageSource | None) -> None:
        super().__init__()
        self.links = links
        self.images = images

    def extendMarkdown(self, md: markdown.Markdown) -> None:
        # Without these, raw HTML blocks and inline tags are escaped as text.
        md.preprocessors.deregister("html_block")
        md.inlinePatterns.deregister("html")
        md.treeprocessors.register(_Sanitize(md, self.links, self.images), "eduproject_sanitize", 0)


def safe_html(
    text: str,
    *,
    links: bool = False,
    images: ImageSource | None = None,
    extensions: Sequence[str | Extension] = ("fenced_code",),
    extension_configs: Mapping[str, Mapping[str, Any]] | None = None,
) -> str:
    """``text`` (untrusted markdown) as HTML that is safe to show; ``extensions`` choose the
    markdown dialect (Python-Markdown's extension names)."""
    md = markdown.Markdown(
        extensions=[*extensions, _SafeMarkdown(links, images)],
        extension_configs=dict(extension_configs or {}),
        output_format="html",
    )
    return md.convert(text)
