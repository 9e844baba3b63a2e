"""End to end in Debian's Chromium: release a lesson with manual questions, grade a class,
grade the manual answers on the page with the keyboard, and read the points back in the
gradebook, the CSV export, the feedback pages and the report.

Screenshots go to test-artifacts/manual/ (gitignored); docs/img/ holds copies.
"""

from __future__ import annotations

import csv
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn

from eduproject.authoring.release import release
from eduproject.grading.export import export
from eduproject.grading.feedback import write_feedback
from eduproject.grading.manual import ManualDesk
from eduproject.grading.manual_page import create_manual_app
from eduproject.grading.pipeline import grade_lesson, lesson_for_grading
from eduproject.grading.report import write_report
from eduproject.util.net import listen
from tests.support.jupyterlab import CHROMIUM, CHROMIUM_ARGS
from tests.support.lessons import notebook_json
from tests.support.manual_lesson import MANUAL

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / "test-artifacts" / "manual"
TOKEN = "browser-test-token"
PLOT = (
    "import matplotlib.pyplot as plt\n"
    "plt.figure(figsize=(4, 2.5))\n"
    "plt.plot([x * x for x in range(10)], marker='o')\n"
    "plt.title('squares')\n"
    "plt.show()"
)
ANSWERS = {
    "ada": (
        "A `for` loop visits **each item once**; the total grows by each.",
        "print([x * x for x in range(10)])",
    ),
    "bob": (
        "<script>alert('x')</script><img src=x onerror=alert(1)> [link](javascript:alert(2))",
        "print('</pre><script>alert(3)</script>')",
    ),
    "cy": ("Because lists are *iterable*.", PLOT),
}


def _submission(released: dict, written: str, code: str) -> dict:
    nb = json.loads(json.dumps(released))
    for cell in nb["cells"]:
        meta = cell["metadata"].get("eduproject", {})
        if meta.get("role") == "solution":
            cell["source"] = "def double(x):\n    return 2 * x"
        elif meta.get("role") == "answer":
            cell["source"] = written if cell["cell_type"] == "markdown" else code
    return nb


@contextmanager
def _page_server(desk: ManualDesk) -> Iterator[str]:
    sock = listen("127.0.0.1", 0)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    app = create_manual_app(desk, token=TOKEN, origin=url)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            thread.join(0.05)
        yield url
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def test_grading_manual_answers_in_the_browser(tmp_path: Path) -> None:
    from playwright.sync_api import Page, expect, sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    folder = tmp_path / "exercises" / "loops"
    folder.mkdir(parents=True)
    (folder / "loops.ipynb").write_text(json.dumps(notebook_json(MANUAL)))
    released = json.loads(release(folder, tmp_path / "notebooks").notebook.read_text())
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    for learner, (written, code) in ANSWERS.items():
        nb = _submission(released, written, code)
        (submissions / f"{learner}.ipynb").write_text(json.dumps(nb))
    db = tmp_path / "gradebook.sqlite"
    summary = grade_lesson(folder, submissions, db, workers=1, progress=False)
    assert summary.graded == 3 and not summary.failures
    desk = ManualDesk(lesson_for_grading(folder)[0], db)

    def at(page: Page, learner: str) -> None:
        """On ``learner``'s page, with its keys listening."""
        expect(page.locator("#learner")).to_have_text(learner)
        expect(page.locator("html[data-keys=on]")).to_have_count(1)

    dialogs: list[str] = []
    with _page_server(desk) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        try:
            page.goto(f"{url}/login#token={TOKEN}")
            at(page, "ada")
            assert TOKEN not in page.url
            expect(page.locator("#prompt h1")).to_have_text("Why a loop?")
            expect(page.locator("#answer strong")).to_have_text("each item once")
            expect(page.locator("aside.key")).to_contain_text("MODEL-SECRET")
            expect(page.locator("aside.key")).to_contain_text("RUBRIC-SECRET")
            expect(page.locator("#lesson-left")).to_have_text("6 of 6 answers left")
            page.keyboard.press("2")  # a digit starts the points
            expect(page.locator("#points")).to_be_focused()
            page.locator("#comment").fill("Clear: each item once, a running total.")
            page.locator("#points").focus()
            page.screenshot(path=SHOTS / "manual-grading.png")
            page.keyboard.press("Enter")  # save, next learner
            at(page, "bob")
            expect(page.locator("#lesson-left")).to_have_text("5 of 6 answers left")
            expect(page.locator("#answer")).to_contain_text("<script>alert('x')</script>")
            page.screenshot(path=SHOTS / "manual-grading-hostile.png")
            page.keyboard.press("0")
            page.keyboard.press("Escape")  # leaving the field saves it
            expect(page.locator("#status")).to_have_text("saved")
            expect(page.locator("#state")).to_have_text("graded: 0 / 2")
            page.keyboard.press("k")  # back to ada: her points are there
            at(page, "ada")
            expect(page.locator("#points")).to_have_value("2")
            expect(page.locator("#state")).to_have_text("graded: 2 / 2")
            page.keyboard.press("j")
            at(page, "bob")
            page.keyboard.press("ArrowRight")
            at(page, "cy")
            page.keyboard.press("n")  # the next question, at its first answer left
            expect(page.locator("#prompt h1")).to_have_text("Show the squares")
            at(page, "ada")
            expect(page.locator("#answer .output")).to_contain_text("[0, 1, 4, 9, 16")
            page.keyboard.press("3")
            page.keyboard.press("Enter")
            at(page, "bob")
            page.keyboard.press("j")  # bob: left pending
            at(page, "cy")
            expect(page.locator("#answer img")).to_have_count(1)  # the learner's plot
            page.keyboard.press("2")
            page.locator("#comment").fill("Plot is right; label the axes.")
            page.locator("#comment").blur()
            expect(page.locator("#status")).to_have_text("saved")
            expect(page.locator("#lesson-left")).to_have_text("2 of 6 answers left")
            page.screenshot(path=SHOTS / "manual-grading-plot.png", full_page=True)
        finally:
            browser.close()
    assert dialogs == []  # no learner script ran

    export(db, "csv", tmp_path / "grades.csv")
    rows = {
        (r["learner"], r["exercise"]): (r["score"], r["status"])
        for r in csv.DictReader((tmp_path / "grades.csv").read_text().splitlines())
    }
    assert rows[("ada", "explain")] == ("2", "graded")
    assert rows[("bob", "explain")] == ("0", "graded")
    assert rows[("cy", "explain")] == ("", "pending")
    assert rows[("ada", "squares")] == ("3", "graded")
    assert rows[("bob", "squares")] == ("", "pending")
    assert rows[("cy", "squares")] == ("2", "graded")
    pages = {p.stem: p.read_text() for p in write_feedback(db, tmp_path / "feedback")}
    assert "Clear: each item once, a running total." in pages["ada"]
    assert "Plot is right; label the axes." in pages["cy"]
    assert "your instructor has not graded this answer yet" in pages["bob"]
    summary_ = write_report(db, tmp_path / "report.html")
    assert summary_.manual_pending == 2
    report = (tmp_path / "report.html").read_text()
    assert "Graded by hand" in report and "2 answers wait for your points" in report
