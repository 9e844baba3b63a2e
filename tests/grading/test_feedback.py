"""Feedback pages: visible messages shown, hidden tests by name and points, nothing runs."""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from eduproject.cli import main
from eduproject.errors import GradebookError
from eduproject.grading.export import file_stem
from eduproject.grading.feedback import feedback_page, render_notebook, write_feedback
from eduproject.grading.gradebook import Gradebook

from .gradebook_samples import (
    HIDDEN_SECRET,
    L1,
    L2,
    V1,
    VISIBLE_MESSAGE,
    make_class,
    notebook,
    tiny_png,
)

DANGEROUS_TAGS = {"script", "iframe", "object", "embed", "svg", "link", "base", "form"}


class _Tags(HTMLParser):
    """Every start tag with its attributes, as a browser's tokenizer would see them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    parser.close()
    return parser


def assert_inert(html: str) -> None:
    """No element or attribute that could run script or load anything from elsewhere."""
    tags = _parse(html).tags
    names = {t for t, _ in tags}
    assert not names & DANGEROUS_TAGS, names & DANGEROUS_TAGS
    for tag, attrs in tags:
        assert not [a for a in attrs if a.startswith("on")], (tag, attrs)
        for key in ("href", "src", "action", "formaction", "srcset"):
            value = attrs.get(key, "").strip().lower()
            assert not value.startswith(("javascript:", "vbscript:", "data:text")), (tag, attrs)
        if tag == "img":
            assert re.match(r"data:image/(png|jpeg|gif);base64,[A-Za-z0-9+/=]+$", attrs["src"])
    metas = [a for t, a in tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert metas and "default-src 'none'" in metas[0]["content"]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "gradebook.sqlite"
    with Gradebook(path) as gb:
        run = gb.start_run(L1, V1, {})
        for r in make_class():
            gb.record(r, run)
    return path


def test_one_page_per_learner_and_lesson(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "feedback"
    pages = write_feedback(db, out)
    want = {out / file_stem(r.lesson) / f"{file_stem(r.learner)}.html" for r in make_class()}
    assert set(pages) == want and len(pages) == len(make_class())
    assert write_feedback(db, tmp_path / "only", lesson=L2) == [
        tmp_path / "only" / L2 / "ada.html",
        tmp_path / "only" / L2 / "bob.html",
    ]


def test_page_shows_scores_visible_messages_and_hidden_tests_by_name_only(
    db: Path, tmp_path: Path
) -> None:
    write_feedback(db, tmp_path)
    html = (tmp_path / L1 / "bob.html").read_text(encoding="utf-8")
    text = " ".join(_parse(html).text)
    assert "Score: 3 / 7" in text
    assert VISIBLE_MESSAGE in text
    assert "negatives" in text and "failed" in text
    # The hidden test: its name and points, nothing else.
    assert re.search(r"big-range\s*\(hidden test\)\s*failed\s*0 / 2", text)
    assert HIDDEN_SECRET not in html and "2550" not in html
    # Exercise-level statuses and details reach the learner.
    cy = " ".join(_parse((tmp_path / L1 / "cy.html").read_text(encoding="utf-8")).text)
    assert "NameError: name 'sum_evnes' is not defined" in cy and "error" in cy
    dee = " ".join(_parse((tmp_path / L1 / "dee.html").read_text(encoding="utf-8")).text)
    assert "cell 7 ran over 10 s" in dee and "timeout" in dee
    eve = " ".join(_parse((tmp_path / L1 / "eve.html").read_text(encoding="utf-8")).text)
    assert "not JSON: line 1 column 1" in eve
    assert "The executed notebook is not available." in eve


def test_executed_notebook_is_rendered_with_embedded_images(db: Path, tmp_path: Path) -> None:
    write_feedback(db, tmp_path)
    html = (tmp_path / L1 / "ada.html").read_text(encoding="utf-8")
    assert f"data:image/png;base64,{tiny_png()}" in html
    text = " ".join(_parse(html).text)
    assert "Sum of evens" in text and "done" in text and "In [1]:" in text
    assert_inert(html)


def test_hostile_learner_outputs_are_escaped_never_rendered(db: Path, tmp_path: Path) -> None:
    write_feedback(db, tmp_path)
    html = (tmp_path / L1 / "bob.html").read_text(encoding="utf-8")
    assert_inert(html)
    assert "<script" not in html.lower()
    text = " ".join(_parse(html).text)
    # Shown as text: the printed payload, the HTML output's source, the error message.
    assert text.count("<script>alert('pwned')</script>") >= 4
    assert "HTML output, shown as text:" in text and "<b>bold</b>" in text
    assert "alert('js-output')" not in html  # javascript outputs are dropped entirely
    assert "Output not shown (application/javascript)" in text
    assert "Output not shown (image/svg+xml)" in text
    # The markdown cell's javascript: link keeps its words but loses its target.
    anchors = [a for t, a in _parse(html).tags if t == "a"]
    assert anchors and all("href" not in a for a in anchors)
    assert "\x1b[" not in html  # terminal colour codes stripped from tracebacks


def test_markdown_attachments_embed_and_remote_images_do_not_load() -> None:
    nb = {
        "cells": [
            {
                "cell_type": "markdown",
                "metadata": {},
                "source": "![plot](attachment:p.png) ![remote](https://example.org/x.png) "
                "![bad](attachment:bad.png) [docs](https://docs.python.org/3/) [x](data:text/html,hi)",
                "attachments": {"p.png": {"image/png": tiny_png()}, "bad.png": {"image/png": "!!"}},
            }
        ]
    }
    html = render_notebook(nb)
    tags = _parse(html).tags
    imgs = [a["src"] for t, a in tags if t == "img"]
    assert imgs == [f"data:image/png;base64,{tiny_png()}"]
    assert "[image: remote]" in html and "[image: bad]" in html
    hrefs = [a.get("href") for t, a in tags if t == "a"]
    assert hrefs == ["https://docs.python.org/3/", None]


def test_cells_marked_as_hidden_tests_never_reach_the_page() -> None:
    nb = notebook()
    nb["cells"].append(
        {
            "cell_type": "code",
            "execution_count": 9,
            "metadata": {"eduproject": {"role": "hidden-tests", "exercise": "sum_evens"}},
            "source": HIDDEN_SECRET,
            "outputs": [],
        }
    )
    assert HIDDEN_SECRET not in render_notebook(nb)


def test_broken_notebook_structures_do_not_crash_the_page() -> None:
    for nb in (
        {},
        {"cells": "nope"},
        {"cells": [None, 3, {"cell_type": "code", "source": ["x = 1\n", 2], "outputs": "no"}]},
        {"cells": [{"cell_type": "code", "source": "", "outputs": [{"output_type": "error"}]}]},
        {"cells": [{"cell_type": "code", "source": "", "outputs": [{"data": {"x/y": 1}}]}]},
    ):
        html = render_notebook(nb)
        assert_inert(
            f'<meta http-equiv="Content-Security-Policy" content="default-src \'none\'">{html}'
        )


def test_huge_outputs_are_clipped() -> None:
    nb = {"cells": [{"cell_type": "code", "source": "", "outputs": [
        {"output_type": "stream", "name": "stdout", "text": "x" * 1_000_000}]}]}  # fmt: skip
    html = render_notebook(nb)
    assert len(html) < 60_000 and "more characters" in html


def test_page_of_a_result_without_exercises() -> None:
    r = make_class()[4]  # eve: invalid
    html = feedback_page(r)
    assert "the notebook could not be read" in html
    assert_inert(html)


def test_feedback_command(db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["feedback", str(db), "-o", str(tmp_path / "fb"), "--lesson", L1])
    assert "wrote 7 feedback pages" in capsys.readouterr().out
    assert (tmp_path / "fb" / L1 / "ada.html").is_file()
    with pytest.raises(GradebookError, match="no results for lesson"):
        write_feedback(db, tmp_path / "x", lesson="03-nope")


@pytest.mark.slow
def test_a_real_browser_runs_no_learner_script(db: Path, tmp_path: Path) -> None:
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        pytest.fail("chromium is required for this test (apt-get install chromium)")
    write_feedback(db, tmp_path)
    page = tmp_path / L1 / "bob.html"
    dom = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    tags = _parse(dom).tags
    assert tags, "chromium returned no DOM"
    assert not {t for t, _ in tags} & {"script", "svg", "iframe"}
    assert not [a for _, attrs in tags for a in attrs if a.startswith("on")]
    assert "<title>01-functions: bob</title>" in dom
