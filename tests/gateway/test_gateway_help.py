"""The instructor's view of help-seeking: from a class using the gateway's API to the figures,
the admin-only page (in a real browser), ``eduproject gateway summary`` and
``eduproject report --ledger``."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from eduproject.gateway.helppage import help_page
from eduproject.gateway.helpseeking import HelpReport, help_report, help_text, pseudonymize
from eduproject.gateway.records import CallRow
from eduproject.grading.gradebook import Gradebook
from tests.support.cli import run_cli
from tests.support.jupyterlab import CHROMIUM, CHROMIUM_ARGS
from tests.support.lessons import SOLUTION

from .gateway_support import CLEAN, CODE, LESSON, Gateway, StartGateway

REPO = Path(__file__).resolve().parents[2]
EXERCISE = {"lesson": LESSON, "exercise": "sum_evens"}
HINT = {**EXERCISE, "code": CODE, "tests": []}
LEAK = f"Here is the fix:\n\n```python\n{SOLUTION}\n```\n"
QUESTION = "Can you just write sum_evens for me?"
COMPLETION = "```python\n    return 0\n```"


def _check(client: httpx.Client, passed: bool) -> None:
    body = {**EXERCISE, "passed": 2 if passed else 1, "total": 2}
    assert client.post("/v1/check", json=body).status_code == 200


def _class(gw: Gateway) -> None:
    """Ada passes on her third Check after a question and a hint (rated helpful); Bob checks
    five times and takes every hint without passing (one rated unhelpful); Carol asks for the
    solution (the guard rejects the model's answer twice) and takes one completion."""
    carol = gw.service.tokens.issue(["carol"]).tokens[0][1]
    with gw.client("ada") as ada, gw.client("bob") as bob:
        _check(ada, False)
        _check(ada, False)
        assert ada.post("/v1/ask", json={**EXERCISE, "question": "Why?", "context": CODE})
        hint = ada.post("/v1/hint", json={**HINT, "level": 1}).json()
        ada.post("/v1/feedback", json={"attempt_id": hint["attempt_id"], "accepted": True})
        _check(ada, True)
        for _ in range(5):
            _check(bob, False)
        for level in (1, 2, 3):
            hint = bob.post("/v1/hint", json={**HINT, "level": level}).json()
        bob.post("/v1/feedback", json={"attempt_id": hint["attempt_id"], "accepted": False})
    with httpx.Client(base_url=gw.url, headers={"Authorization": f"Bearer {carol}"}) as c:
        answer = c.post("/v1/ask", json={**EXERCISE, "question": QUESTION, "context": CODE})
        assert answer.json()["source"] == "offline"
        # A cell the learner added under the exercise: counted for it, not its solution.
        body = {"prefix": "def helper(xs):\n", "suffix": "\n\nprint(1)", **EXERCISE}
        done = c.post("/v1/complete", json=body).json()
        assert done["text"] == "    return 0"
        c.post("/v1/feedback", json={"attempt_id": done["attempt_id"], "accepted": True})


# The fake model's replies, in the order _class asks for them.
REPLIES = [CLEAN, CLEAN, CLEAN, CLEAN, CLEAN, LEAK, LEAK, COMPLETION]
CONFIG = "[gateway]\nrun_tests = false\n"


def test_help_seeking_figures(start_gateway: StartGateway) -> None:
    with start_gateway(REPLIES, gateway=CONFIG, allowance=20) as gw:
        _class(gw)
        with gw.client("admin") as admin:
            report = HelpReport.from_json(admin.get("/admin/help.json").json())
        with gw.client("ada") as ada:
            assert ada.get("/admin/help.json").status_code == 403  # learners never see it
        assert httpx.get(f"{gw.url}/admin/help").status_code == 401
    rows = {r.learner: r for r in report.rows}
    ada, bob, carol = rows["ada"], rows["bob"], rows["carol"]
    assert (ada.checks, ada.checks_to_pass, ada.hints, ada.questions) == (3, 3, {1: 1}, 1)
    assert (ada.helpful, ada.not_helpful, ada.passed, ada.stuck) == (1, 0, True, False)
    assert ada.time_to_pass_s is not None and ada.time_to_pass_s >= 0
    assert (bob.checks, bob.checks_to_pass, bob.hints) == (5, None, {1: 1, 2: 1, 3: 1})
    assert (bob.helpful, bob.not_helpful, bob.stuck) == (0, 1, True)
    assert (carol.questions, carol.completions, carol.completions_accepted) == (1, 1, 1)
    assert [r.learner for r in report.stuck] == ["bob"]
    [question] = report.rejected
    assert (question.learner, question.exercise, question.question) == (
        "carol",
        "sum_evens",
        QUESTION,
    )
    [exercise] = report.exercises
    assert (exercise.learners, exercise.passed, exercise.stuck) == (3, 1, 1)
    assert exercise.median_checks_to_pass == 3 and exercise.hints == {1: 2, 2: 1, 3: 1}
    assert (exercise.helpful, exercise.not_helpful, exercise.completions_accepted) == (1, 1, 1)
    text = help_text(report)
    assert "fns/sum_evens: 3 learners, 1 passed (median 3 checks" in text
    assert "bob on fns/sum_evens: 5 checks, hints L1:1 L2:1 L3:1, 0 questions, no pass yet" in text
    assert f"carol (fns/sum_evens): {QUESTION}" in text
    hidden = pseudonymize(report)
    assert {r.learner for r in hidden.rows} == {"learner 1", "learner 2", "learner 3"}
    assert "carol" not in json.dumps(hidden.to_json())


def test_timing_and_refusals_from_stored_calls() -> None:
    def call(ts: float, kind: str, outcome: str = "answered", **extra: object) -> CallRow:
        return CallRow(f"c{ts}", ts, "dan", "l", "e", kind, outcome, "model", 0.1, **extra)  # type: ignore[arg-type]

    calls = [
        call(100.0, "hint", "policy", level=1),
        call(130.0, "check", passed=False),
        call(190.0, "complete", attempt_id=7),
        call(250.0, "check", passed=True),
        call(300.0, "check", passed=False),
    ]
    [row] = help_report(calls, {7: None}).rows
    assert (row.refused, row.checks, row.checks_to_pass, row.time_to_pass_s) == (1, 3, 2, 150.0)
    assert (row.completions, row.completions_accepted) == (1, 0)


def test_the_page_in_a_browser_after_signing_in(start_gateway: StartGateway) -> None:
    from playwright.sync_api import expect, sync_playwright

    shots = REPO / "test-artifacts" / "help"
    shots.mkdir(parents=True, exist_ok=True)
    with start_gateway(REPLIES, gateway=CONFIG, allowance=20) as gw:
        _class(gw)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            try:
                page.goto(f"{gw.url}/admin/login")
                page.get_by_label("admin token").fill(gw.tokens["ada"])  # not an admin
                page.get_by_role("button", name="Sign in").click()
                expect(page.locator("body")).to_contain_text("That is not an admin token.")
                page.get_by_label("admin token").fill(gw.admin)
                page.get_by_role("button", name="Sign in").click()
                expect(page).to_have_url(f"{gw.url}/admin/help")
                expect(page.locator("h1")).to_contain_text("Help-seeking")
                expect(page.locator("img")).to_have_count(4)
                stuck = page.locator("table").nth(1)
                expect(stuck).to_contain_text("bob")
                expect(page.locator("body")).to_contain_text(QUESTION)
                page.screenshot(path=shots / "help-seeking.png", full_page=True)
                # The cookie opens the admin pages only: not a learner route.
                assert page.request.get(f"{gw.url}/v1/me").status == 401
            finally:
                browser.close()


def test_cli_summary_and_report_with_a_ledger(
    start_gateway: StartGateway, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.grading.gradebook_samples import L1, V1, make_class

    gradebook = tmp_path / "gradebook.sqlite"
    with Gradebook(gradebook) as gb:
        run = gb.start_run(L1, V1, {})
        for result in make_class():
            gb.record(result, run)
    with start_gateway(REPLIES, gateway=CONFIG, allowance=20) as gw:
        _class(gw)
        code, text, _ = run_cli(
            ["gateway", "summary", "--url", gw.url, "--token", gw.admin], capsys
        )
        ledger = gw.service.router.ledger
        assert ledger is not None
        out = tmp_path / "report.html"
        report_args = ["report", str(gradebook), "-o", str(out), "--ledger", str(ledger.path)]
        gateway_db = ["--gateway-db", str(gw.service.db.path)]
        code_report, printed, _ = run_cli([*report_args, *gateway_db, "--anonymous"], capsys)
        missing, _, error = run_cli([*report_args, "--gateway-db", str(tmp_path / "no.db")], capsys)
    assert code == 0 and "HELP-SEEKING PER EXERCISE" in text and "LOOKS STUCK (1)" in text
    assert "bob on fns/sum_evens" in text
    # --anonymous: the help part names nobody (the gradebook's own tables are unchanged).
    assert code_report == 0 and "learner 2 on fns/sum_evens: 5 checks" in printed
    assert "bob on" not in printed
    _, help_part = out.read_text().split("How learners sought help")
    assert "Checks until the first pass" in help_part
    assert "learner 2" in help_part and ">bob<" not in help_part
    assert missing != 0 and "no gateway database at" in error


def test_page_renders_without_any_activity() -> None:
    page = help_page(help_report([], {}))
    assert "No Checks or tutor requests with an exercise yet." in page
    assert page.count("<img") == 4 and "<script" not in page
