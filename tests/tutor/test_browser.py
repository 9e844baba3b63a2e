"""A learner in a real browser: JupyterLab on loopback, Debian's headless Chromium via Playwright.

Releases the sample lesson 01-functions, writes answers into it as a learner would (a partly
right `greet`, an `absolute_value` whose loop never ends for negative numbers), and works
through it:

- offline: Run All reaches the end, the first cell says "Tutor ready", test cells are
  read-only; Check (with a test stopped at its time limit, Stop shown meanwhile), Hint,
  Ask with Enter, "Explain this error" under a test cell; then the notebook is saved, its
  kernel shut down and the page reloaded: the panels say how to load the tutor, never
  "Error displaying widget".
- with a model route to a scripted OpenAI-compatible server on loopback that writes slowly:
  the hint appears sentence by sentence, labelled AI-generated from its first word; answers
  wait in one queue; "No" is recorded; Stop ends an answer.

Screenshots go to test-artifacts/browser/ (gitignored); docs/img/ holds copies of some.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from eduproject.authoring.release import release
from tests.support.jupyterlab import (
    CHROMIUM,
    CHROMIUM_ARGS,
    running_jupyterlab,
    shut_down_kernels,
    wait_for_kernel,
)
from tests.support.openai import Reply, fake_openai

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "browser"
LESSON = REPO / "exercises" / "01-functions"
# The learner's attempt at exercise 1: right for names, wrong for the empty name.
ATTEMPT = 'def greet(name):\n    """Say hello."""\n    return "Hello, " + name + "!"\n'
# Exercise 2: fine for 0 and positive numbers; for a negative one the loop never ends.
ENDLESS = "def absolute_value(x):\n    while x < 0:\n        x = x - 1\n    return x\n"

MODEL_HINT = (
    "Look at what your function gives back when the name is empty. "
    "The test empty_name expects a different greeting for that case, "
    "so your function needs to notice an empty name before it builds the usual text."
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def slow_model() -> Iterator[str]:
    """A model streaming MODEL_HINT six words at a time, 0.6 s apart."""
    with fake_openai([], default=Reply(MODEL_HINT, words=6, chunk_delay=0.6)) as model:
        yield model.base_url


def _offline_config() -> str:
    """eduproject.toml next to the notebook: the offline tutor only (fast, the same everywhere)."""
    return '[tutor]\nroutes = ["offline"]\n'


def _model_config(base_url: str, ledger: Path) -> str:
    """eduproject.toml next to the notebook: one model route, a ledger we can read back."""
    return f"""
[[routes]]
name = "loopback"
provider = "openai"
model = "scripted-tutor"
family = "smollm2-instruct"
base_url = "{base_url}"
chat = false
retries = 0

[tutor]
routes = ["loopback", "offline"]
allowance = 5

[cache]
enabled = false

[ledger]
path = "{ledger}"
"""


def _learner_folder(out: Path) -> Path:
    result = release(LESSON, out, out / "grader")
    nb = json.loads(result.notebook.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["metadata"].get("eduproject", {}).get("cell") == "greet-solution":
            cell["source"] = ATTEMPT.splitlines(keepends=True)
    result.notebook.write_text(json.dumps(nb, indent=1), encoding="utf-8")
    return result.notebook.parent


@pytest.fixture(scope="module")
def lab(
    tmp_path_factory: pytest.TempPathFactory, slow_model: str
) -> Iterator[tuple[str, str, Path]]:
    """JupyterLab serving two copies of a released lesson: ``offline/`` and ``model/``, each
    with its own eduproject.toml. Yields (base URL, token, root folder)."""
    tmp_path = tmp_path_factory.mktemp("lab")
    root = tmp_path / "root"
    (_learner_folder(root / "offline") / "eduproject.toml").write_text(_offline_config())
    (_learner_folder(root / "model") / "eduproject.toml").write_text(
        _model_config(slow_model, root / "ledger.sqlite3")
    )
    with running_jupyterlab(root, tmp_path) as (base, token):
        yield base, token, root


def _accepted(ledger: Path) -> list[int | None]:
    with sqlite3.connect(ledger) as db:
        return [
            row[0] for row in db.execute("SELECT accepted FROM attempts WHERE accepted IS NOT NULL")
        ]


@contextmanager
def _notebook(lab: tuple[str, str, Path], kind: str) -> Iterator[Any]:
    """A browser page on the released notebook of ``kind``, after Run All reached the end."""
    from playwright.sync_api import expect, sync_playwright

    base, token, _ = lab
    shots = ARTIFACTS / kind
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        try:
            page.set_default_timeout(60_000)
            expect.set_options(timeout=60_000)  # kernel start and Run All take a while on 2 cores
            # `reset`: a fresh workspace, not the tabs the previous test left open.
            page.goto(f"{base}/lab/tree/{kind}/01-functions/01-functions.ipynb?reset&token={token}")
            page.wait_for_selector(".jp-Notebook .jp-Cell")
            wait_for_kernel(base, token)
            page.keyboard.press("Control+b")  # hide the file browser: more room for the notebook
            page.get_by_role("menuitem", name="Run", exact=True).click()
            page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
            # Unfinished exercises do not stop Run All: every panel comes up, the last one too.
            expect(page.locator(".edu-panel")).to_have_count(4, timeout=120_000)
            yield page, shots
        except Exception:
            page.screenshot(path=shots / "failure.png")  # what the learner saw when it broke
            raise
        finally:
            browser.close()
            shut_down_kernels(base, token)  # the next notebook gets both cores


def _panel(page: Any, exercise: str) -> Any:
    cell = page.locator(".jp-CodeCell").filter(
        has=page.locator(".edu-title", has_text=re.compile(exercise))
    )
    panel = cell.locator(".edu-panel")
    panel.scroll_into_view_if_needed()
    return panel


def test_offline_learner_day(lab: tuple[str, str, Path]) -> None:
    from playwright.sync_api import expect

    base, token, _ = lab
    with _notebook(lab, "offline") as (page, shots):
        start = page.locator(".jp-CodeCell", has_text="eduproject.start()")
        expect(start.locator(".jp-OutputArea-output")).to_contain_text("Tutor ready for")
        expect(start.locator(".jp-OutputArea-executeResult")).to_have_count(0)  # no `True`

        # Test cells are read-only in JupyterLab: typing there changes nothing.
        tests_cell = page.locator(".jp-CodeCell", has_text="### TEST says_hello")
        before = tests_cell.locator(".cm-content").inner_text()
        tests_cell.locator(".cm-content").click()
        page.keyboard.press("End")
        page.keyboard.type("zz")
        assert tests_cell.locator(".cm-content").inner_text() == before
        page.keyboard.press("Escape")

        greet = _panel(page, "Say hello")
        greet.get_by_role("button", name="Check").click()
        response = greet.locator(".edu-response")
        expect(response).to_contain_text("greet: 1 of 2 visible tests passed")
        expect(response).to_contain_text("hidden: checked when graded")
        greet.screenshot(path=shots / "panel-check.png")

        # A loop that never ends (typed and run in its cell, not by Run All, which would
        # hang on the test cell as in any notebook): its test stops at the time limit.
        solution = page.locator(".jp-CodeCell", has_text="def absolute_value(x):").first
        solution.locator(".cm-content").click()
        page.keyboard.press("Control+a")
        page.keyboard.insert_text(ENDLESS)  # no auto-indent, unlike typing
        page.keyboard.press("Control+Enter")
        absolute = _panel(page, "Distance from zero")
        absolute.get_by_role("button", name="Check").click()
        status = absolute.locator(".edu-status")
        expect(status).to_have_text("Running your tests…")
        expect(absolute.get_by_role("button", name="Stop")).to_be_visible()
        absolute.screenshot(path=shots / "panel-running.png")
        answer = absolute.locator(".edu-response")
        expect(answer).to_contain_text(
            "absolute_value did not finish within 5 s: does a loop never end?", timeout=30_000
        )
        expect(answer).to_contain_text("hidden test 1")
        expect(absolute.get_by_role("button", name="Stop")).to_be_hidden()
        absolute.screenshot(path=shots / "panel-time-limit.png")

        greet = _panel(page, "Say hello")
        greet.get_by_role("button", name="Hint").click()
        expect(response).to_contain_text("Hint 1 of 3")
        expect(greet.locator(".edu-meta")).to_contain_text("Offline tutor")
        expect(greet.get_by_role("button", name="Next hint")).to_be_visible()
        greet.screenshot(path=shots / "panel-hint.png")

        # Enter in the question box sends the question.
        box = greet.locator(".edu-question input")
        box.fill("What does == mean?")
        box.press("Enter")
        expect(response).to_contain_text("Your question")
        expect(response).to_contain_text("asks whether two values are equal")
        _no_horizontal_scrollbar(greet)
        greet.screenshot(path=shots / "panel-ask.png")

        # "Explain this error" under the failing test cell knows its exercise.
        tests_cell.locator(".jp-InputArea-editor").click()
        page.keyboard.press("Control+Enter")
        explain_error = tests_cell.locator(".edu-explain-error")
        expect(explain_error).to_be_visible()
        explain_error.click()
        help_box = tests_cell.locator(".edu-error-help")
        expect(help_box.locator(".edu-response")).to_contain_text("About this error")
        expect(help_box.locator(".edu-reply")).to_contain_text("Where to look")
        expect(help_box.locator(".edu-reply")).to_contain_text("greet")
        tests_cell.screenshot(path=shots / "explain-error.png")

        # Saved, kernel gone, page reloaded: a calm notebook that says what to do.
        page.keyboard.press("Control+s")
        expect(page.locator(".jp-mod-dirty")).to_have_count(0)
        shut_down_kernels(base, token)
        page.reload()
        page.wait_for_selector(".jp-Notebook .jp-Cell")
        wait_for_kernel(base, token)
        placeholders = page.get_by_text("Tutor panel: run the first cell of the notebook")
        expect(placeholders).to_have_count(4)
        assert page.get_by_text("Error displaying widget").count() == 0
        assert page.locator(".edu-explain-error").count() == 0
        placeholders.first.scroll_into_view_if_needed()
        page.screenshot(path=shots / "reopened.png")


def _no_horizontal_scrollbar(panel: Any) -> None:
    widths = panel.locator(".edu-response").evaluate(
        "el => [el.scrollWidth, el.clientWidth,"
        " ...Array.from(el.querySelectorAll('*')).map(c => c.scrollWidth - c.clientWidth)]"
    )
    outer, inner, *children = widths
    assert outer <= inner, widths
    assert max(children, default=0) <= 1, widths


def test_model_answers_stream_checked_and_labelled(lab: tuple[str, str, Path]) -> None:
    from playwright.sync_api import expect

    _, _, root = lab
    with _notebook(lab, "model") as (page, shots):
        greet = _panel(page, "Say hello")
        greet.get_by_role("button", name="Hint").click()
        reply, meta = greet.locator(".edu-reply"), greet.locator(".edu-meta")
        # Checked sentences show while the model still writes, labelled from the first word.
        expect(greet.locator(".edu-status")).to_contain_text("The AI tutor is writing")
        expect(reply).not_to_be_empty()
        partial = reply.inner_text()
        expect(meta).to_contain_text("AI-generated")
        expect(greet.locator(".edu-remaining")).to_have_text("4 questions left")  # counted now
        greet.screenshot(path=shots / "panel-streaming.png")
        assert partial and len(partial) < len(MODEL_HINT) and MODEL_HINT.startswith(partial)
        expect(greet.locator(".edu-status")).to_have_count(0)
        expect(reply).to_have_text(MODEL_HINT)  # what streamed is what stays
        expect(meta).to_contain_text(re.compile(r"AI-generated by scripted-tutor via loopback"))
        expect(greet.locator(".edu-remaining")).to_have_text("4 questions left")
        _footer_on_one_line(greet)
        greet.screenshot(path=shots / "panel-hint.png")
        greet.get_by_role("button", name="No").click()
        expect(greet.locator(".edu-response")).to_contain_text("Thanks for the feedback.")
        assert _accepted(root / "ledger.sqlite3") == [0]

        # Two answers at once: the second waits its turn and says so.
        absolute = _panel(page, "Distance from zero")
        greet.get_by_role("button", name="Next hint").click()
        absolute.get_by_role("button", name="Explain my code").click()
        expect(absolute.locator(".edu-status")).to_have_text("Queued: 1 answer ahead of yours…")
        absolute.screenshot(path=shots / "panel-queued.png")
        # Stop ends the waiting answer at once.
        absolute.get_by_role("button", name="Stop").click()
        expect(absolute.locator(".edu-response")).to_contain_text("Stopped.")
        expect(absolute.get_by_role("button", name="Explain my code")).to_be_enabled()
        expect(greet.locator(".edu-status")).to_have_count(0, timeout=60_000)
        expect(absolute.locator(".edu-remaining")).to_have_text("3 questions left")


def _footer_on_one_line(panel: Any) -> None:
    heights = panel.locator(".edu-footer > *").evaluate_all(
        "els => els.filter(e => e.offsetParent).map(e => e.getBoundingClientRect().top)"
    )
    assert len(heights) >= 2 and max(heights) - min(heights) < 8, heights
