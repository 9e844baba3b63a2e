"""The one markdown sanitiser, under the tutor's policy (no links, no images) and the
feedback pages' (safe links, embedded images only)."""

from __future__ import annotations

from eduproject.util.markdown import safe_html

PNG = "data:image/png;base64,iVBORw0KGgo="


def test_raw_html_is_text_and_links_and_images_become_their_words() -> None:
    html = safe_html(
        "<script>alert(1)</script>\n\nSee [the docs](https://x.org) and ![a cat](cat.png) "
        "or <b>bold</b>."
    )
    assert "<script" not in html and "&lt;script&gt;" in html
    assert "<a" not in html and "the docs" in html
    assert "<img" not in html and "a cat" in html
    assert "<b>" not in html and "&lt;b&gt;" in html


def test_feedback_links_keep_safe_targets_only_and_images_need_a_source() -> None:
    def image(src: str) -> str | None:
        return PNG if src == "attachment:plot.png" else None

    html = safe_html(
        "[ok](https://x.org) [bad](javascript:alert(1)) ![plot](attachment:plot.png) "
        "![remote](http://evil/x.png)",
        links=True,
        images=image,
    )
    assert '<a href="https://x.org">ok</a>' in html
    assert "javascript:" not in html and "<a>bad</a>" in html
    assert f'src="{PNG}"' in html and 'alt="plot"' in html
    assert "evil" not in html and '<span class="note">[image: remote]</span>' in html


def test_an_unwrapped_tag_keeps_its_text_in_place() -> None:
    html = safe_html("before [a **bold** link](https://x.org) after")
    assert html == "<p>before a <strong>bold</strong> link after</p>"
