"""The gateway is the authority on the course's AI policy, and serves inline completions.

Refusals are 403 with the reason and ``refused: "policy"`` whatever the learner's lesson.json
says; checks reported to ``/v1/check`` unlock hints; a completion is a ledger row (task
``complete``) that ``/v1/feedback`` marks accepted; a learner who stops waiting cancels it.
"""

from __future__ import annotations

import sqlite3
import threading
import time

import httpx
import pytest

from eduproject.core.pack import LessonPack
from eduproject.errors import PolicyRefused
from eduproject.learner.gateway_client import GatewayTutor

from .gateway_support import CODE, LESSON, Gateway, StartGateway

HINT = {"lesson": LESSON, "exercise": "sum_evens", "code": CODE, "tests": [], "level": 1}
CHECK = {"lesson": LESSON, "exercise": "sum_evens", "passed": 1, "total": 2}
SOLUTION_START = "def sum_evens(numbers):\n    total = 0\n    "


def _policy(text: str) -> str:
    return f"[gateway]\nrun_tests = false\n\n[policy]\n{text}\n"


def test_hints_unlock_after_checks_and_stop_at_the_top_level(start_gateway: StartGateway) -> None:
    config = _policy("hints_after_checks = 2\nhint_max_level = 2")
    with start_gateway(gateway=config) as gw, gw.client("ada") as ada, gw.client("bob") as bob:
        refused = ada.post("/v1/hint", json=HINT)
        assert refused.status_code == 403
        assert refused.json() == {
            "error": "Hints unlock after 2 checks: press Check twice more.",
            "refused": "policy",
            "action": "hint",
        }
        assert ada.post("/v1/check", json=CHECK).json() == {"checks": 1}
        assert ada.post("/v1/hint", json=HINT).json()["error"].endswith("press Check once more.")
        assert ada.post("/v1/check", json={**CHECK, "passed": 2}).json() == {"checks": 2}
        assert ada.post("/v1/hint", json=HINT).status_code == 200
        # Counted per learner: Bob has not checked yet.
        assert bob.post("/v1/hint", json=HINT).status_code == 403
        top = ada.post("/v1/hint", json={**HINT, "level": 3})
        assert (top.status_code, top.json()["error"]) == (
            403,
            "This exercise gives hints up to level 2 only.",
        )
        bad = ada.post("/v1/check", json={**CHECK, "passed": 3})
        assert bad.status_code == 422
        calls = gw.service.calls.calls("ada")
    outcomes = [(c.kind, c.outcome, c.passed, c.level) for c in calls]
    assert outcomes == [
        ("hint", "policy", None, 1),
        ("check", "answered", False, None),
        ("hint", "policy", None, 1),
        ("check", "answered", True, None),
        ("hint", "answered", None, 1),
        ("hint", "policy", None, 3),
    ]


def test_exam_mode_keeps_check_only(start_gateway: StartGateway) -> None:
    with start_gateway(gateway=_policy("exam = true")) as gw, gw.client("ada") as ada:
        assert ada.post("/v1/check", json=CHECK).status_code == 200
        for route, body in (
            ("hint", HINT),
            ("ask", {"question": "What is a loop?", "context": ""}),  # no lesson named
            ("explain", {"code": CODE}),
            ("complete", {"prefix": "x = "}),
        ):
            response = ada.post(f"/v1/{route}", json=body)
            assert response.status_code == 403, route
            assert response.json()["error"] == "AI help is off during the exam. Check still works."
        usage = ada.get("/v1/me").json()
    assert usage["remaining"] == 10  # refusals cost no question


def test_the_panel_in_the_kernel_meets_the_gateways_refusal(start_gateway: StartGateway) -> None:
    """A learner who edited lesson.json to turn hints on still gets the gateway's refusal, and
    not the offline tutor's answer in its place."""
    with start_gateway(gateway=_policy("hints_after_checks = 1")) as gw:
        released = LessonPack.from_lesson(gw.service.lessons[LESSON])  # policy: all on
        tutor = GatewayTutor(released, url=gw.url, token=gw.tokens["ada"])
        try:
            with pytest.raises(PolicyRefused, match="Hints unlock after 1 check"):
                tutor.hint("sum_evens", CODE, [], 1)
            assert tutor.record_check("sum_evens", 1, 2) == 1  # the gateway's count
            assert tutor.hint("sum_evens", CODE, [], 1).source == "model"
        finally:
            tutor.close()


def test_completion_in_a_graded_solution_is_refused_whatever_the_request_claims(
    start_gateway: StartGateway,
) -> None:
    with start_gateway(gateway=_policy("")) as gw, gw.client("ada") as ada:
        for body in (
            {"prefix": SOLUTION_START, "lesson": LESSON, "role": "context"},
            {"prefix": SOLUTION_START},  # no lesson named: every lesson's exercises count
            {"prefix": "x = ", "lesson": LESSON, "exercise": "sum_evens", "role": "solution"},
        ):
            response = ada.post("/v1/complete", json=body)
            assert response.status_code == 403, body
            assert response.json()["error"] == (
                "Code completion is off in the solution cells of graded exercises."
            )
        assert gw.fake is not None and gw.fake.requests == []  # the model never saw them
        calls = gw.service.calls.calls("ada")
    assert {(c.kind, c.outcome, c.exercise) for c in calls} == {("complete", "policy", "sum_evens")}


def _ledger(gw: Gateway) -> list[tuple[str, str, int | None]]:
    assert gw.service.router.ledger is not None
    with sqlite3.connect(gw.service.router.ledger.path) as db:
        return db.execute("SELECT task, status, accepted FROM attempts ORDER BY id").fetchall()


def test_a_completion_is_a_ledger_row_that_tab_marks_accepted(start_gateway: StartGateway) -> None:
    reply = "```python\n    return sum(n for n in numbers)\n```"
    with start_gateway([reply], gateway=_policy("")) as gw, gw.client("ada") as ada:
        body = {"prefix": "def helper(numbers):\n", "suffix": "\n\nprint(helper([1]))"}
        done = ada.post("/v1/complete", json=body).json()
        assert done["text"] == "    return sum(n for n in numbers)"
        assert done["label"] == "AI-generated by fake/tutor-model via fake"
        assert _ledger(gw) == [("complete", "ok", None)]
        assert gw.service.calls.owns("ada", done["attempt_id"])
        accepted = {"attempt_id": done["attempt_id"], "accepted": True}
        with gw.client("bob") as bob:
            assert bob.post("/v1/feedback", json=accepted).status_code == 404  # not Bob's
        assert ada.post("/v1/feedback", json=accepted).status_code == 200
        assert _ledger(gw) == [("complete", "ok", 1)]
        (call,) = gw.service.calls.calls("ada")
        assert (call.kind, call.outcome, call.attempt_id) == (
            "complete",
            "answered",
            done["attempt_id"],
        )


def test_the_next_keystroke_cancels_the_model_call(start_gateway: StartGateway) -> None:
    slow = {"chunk_delay_s": 0.5}  # a long answer, half a second per piece
    with start_gateway(gateway=_policy(""), fake_options=slow) as gw:
        gone = threading.Event()

        def type_on() -> None:
            try:
                httpx.post(
                    f"{gw.url}/v1/complete",
                    json={"prefix": "def helper(numbers):\n"},
                    headers={"Authorization": f"Bearer {gw.tokens['ada']}"},
                    timeout=0.8,  # the learner types on: the browser drops the request
                )
            except httpx.ReadTimeout:
                gone.set()

        thread = threading.Thread(target=type_on)
        thread.start()
        thread.join()
        assert gone.is_set()
        deadline = time.monotonic() + 10
        while not gw.service.calls.calls("ada") and time.monotonic() < deadline:
            time.sleep(0.05)
        (call,) = gw.service.calls.calls("ada")
        assert gw.service.router.ledger is not None
        (row,) = gw.service.router.ledger.attempts()
    assert (call.kind, call.outcome) == ("complete", "cancelled")
    # The model had begun: a partial answer, stopped by the caller, on the ledger all the same.
    assert (row.task, row.status, row.id) == ("complete", "partial", call.attempt_id or row.id)
    assert row.error is not None and "stopped by the caller" in row.error
