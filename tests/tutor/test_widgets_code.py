"""The panel's helpers: which executed code belongs to an exercise, and safe markdown."""

from __future__ import annotations

from eduproject.tutor.learner_code import defined_names, latest_code, stub_names
from eduproject.tutor.markdown_html import render_markdown

STUB = (
    'def greet(name):\n    """Say hello."""\n    # YOUR CODE HERE\n    raise NotImplementedError()'
)


def test_stub_names_cover_functions_classes_and_assignments() -> None:
    assert stub_names(STUB) == {"greet"}
    source = "class Box:\n    pass\nLIMIT: int = 3\na, (b, *c) = 1, (2, 3)\ntotal += 1\nfor i in x:\n    y = 1"
    assert defined_names(source) == {"Box", "LIMIT", "a", "b", "c", "total"}


def test_cells_that_do_not_parse_are_matched_line_by_line() -> None:
    broken = "def greet(name)\n    return 'Hello, ' + name\nanswer = 42\nif answer == 3:\n    pass"
    assert defined_names(broken) == {"greet", "answer"}
    assert latest_code(["x = 1", broken], {"greet"}) == broken


def test_latest_executed_cell_defining_the_names_wins() -> None:
    history = [
        "",
        STUB,
        "def greet(name):\n    return 'Hi'",
        'assert greet("Ada") == "Hello, Ada!"',  # a test cell only calls greet
        'import eduproject\neduproject.panel("greet")',
        "def greet(name):\n    return 'Hello, ' + name + '!'\n",
        "greet('x')",
    ]
    assert latest_code(history, {"greet"}) == "def greet(name):\n    return 'Hello, ' + name + '!'"
    assert latest_code(history[:2], {"greet"}) == STUB.strip("\n")
    assert latest_code(history[3:5], {"greet"}) is None
    assert latest_code(history, set()) is None


def test_exercise_split_over_two_cells_keeps_both_oldest_first() -> None:
    history = ["RATE = 2", "def pay(hours):\n    return hours * RATE", "RATE = 3"]
    assert (
        latest_code(history, {"RATE", "pay"})
        == "def pay(hours):\n    return hours * RATE\n\nRATE = 3"
    )


def test_markdown_escapes_raw_html_and_drops_links_and_images() -> None:
    out = render_markdown(
        'Hi <script>alert(1)</script> <img src=x onerror="y"> [click](javascript:alert(1)) '
        "![pic](http://example.invalid/p.png) **bold**"
    )
    assert "<script" not in out and "<img" not in out and "<a" not in out
    assert "&lt;script&gt;" in out
    assert "click" in out and "pic" in out and "<strong>bold</strong>" in out
    assert "javascript" not in out and "href" not in out


def test_markdown_html_block_is_text() -> None:
    out = render_markdown('<div onclick="steal()">x</div>\n\nok')
    assert "<div onclick" not in out
    assert "&lt;div onclick" in out


def test_code_blocks_are_highlighted_inline_and_default_to_python() -> None:
    out = render_markdown("Look:\n\n```\nfor n in numbers:\n    total += n\n```\n")
    assert '<div class="edu-code"' in out
    assert 'style="color:' in out  # pygments inline styles: no stylesheet needed
    assert ">for</span>" in out


def test_streaming_closes_an_open_fence() -> None:
    partial = "Try this shape:\n\n```python\nif x < 0:\n"
    assert "```" in render_markdown(partial)  # unfinished fence shows as text...
    assert "```" not in render_markdown(partial, streaming=True)  # ...unless streaming
    assert ">if</span>" in render_markdown(partial, streaming=True)
