"""The instructor's summary: costs, calls and error rates attributed to learners and exercises."""

from __future__ import annotations

import json

import pytest

from eduproject.gateway.summary import Summary, summary_text
from tests.support.cli import run_cli

from .gateway_support import CLEAN, CODE, LESSON, SERVER_ERROR, StartGateway

HINT = {"lesson": LESSON, "exercise": "sum_evens", "code": CODE, "tests": [], "level": 1}
ATTEMPT_USD = (50 * 1.0 + 40 * 2.0) / 1e6  # the fake model's usage at the route's prices


def test_summary_attributes_every_attempt(
    start_gateway: StartGateway, capsys: pytest.CaptureFixture[str]
) -> None:
    with start_gateway([CLEAN, SERVER_ERROR], allowance=2, refill_seconds=3600) as gw:
        with gw.client("ada") as ada, gw.client("bob") as bob:
            first = ada.post("/v1/hint", json=HINT).json()
            assert first["source"] == "model"
            assert ada.post("/v1/hint", json=HINT).json()["source"] == "offline"  # model down
            # Mentions a test while no exercise is given: both tries rejected, offline answer.
            assert (
                bob.post("/v1/ask", json={"question": "What is a test?"}).json()["source"]
                == "offline"
            )
            assert bob.post("/v1/hint", json=HINT).status_code == 200
            assert bob.post("/v1/hint", json=HINT).status_code == 200
            assert bob.post("/v1/hint", json=HINT).status_code == 429
            ada.post("/v1/feedback", json={"attempt_id": first["attempt_id"], "accepted": True})
        with gw.client("admin") as admin:
            data = admin.get("/admin/summary").json()
        code, text, _ = run_cli(
            ["gateway", "summary", "--url", gw.url, "--token", gw.admin], capsys
        )
        code_json, raw, _ = run_cli(
            ["gateway", "summary", "--url", gw.url, "--token", gw.admin, "--json"], capsys
        )
        _, via_ledger, _ = run_cli(["ledger", "--url", gw.url, "--token", gw.admin], capsys)
    report = Summary.from_json(data)
    learners = {g.key: g for g in report.learners}
    ada_, bob_ = learners["ada"], learners["bob"]
    assert (ada_.calls, ada_.answered, ada_.refused, ada_.attempts) == (2, 2, 0, 2)
    assert ada_.by_source == {"model": 1, "offline": 1}
    assert ada_.error_rate == 0.5 and ada_.fallback_rate == 0.0
    assert ada_.cost_usd == pytest.approx(ATTEMPT_USD) and ada_.unpriced == 0
    assert (bob_.calls, bob_.answered, bob_.refused, bob_.attempts) == (4, 3, 1, 4)
    assert bob_.by_source == {"model": 2, "offline": 1} and bob_.error_rate == 0.0
    assert bob_.cost_usd == pytest.approx(4 * ATTEMPT_USD)

    [exercise] = report.exercises
    assert exercise.key == f"{LESSON}/sum_evens"
    assert (exercise.calls, exercise.answered, exercise.refused, exercise.attempts) == (5, 4, 1, 4)
    assert exercise.cost_usd == pytest.approx(3 * ATTEMPT_USD)

    total = report.total
    assert (total.calls, total.attempts, total.refused) == (6, 6, 1)
    assert total.cost_usd == pytest.approx(5 * ATTEMPT_USD)
    assert total.error_rate == pytest.approx(1 / 6)
    assert total.p50_latency_s is not None and total.p95_latency_s is not None
    assert total.p50_latency_s <= total.p95_latency_s
    assert report.model_p50_latency_s is not None and (report.accepted, report.rejected) == (1, 2)

    costs = summary_text(Summary.from_json(json.loads(raw)))
    # `gateway summary` adds how learners sought help; `ledger --url` prints the costs only.
    assert code == 0 and text.startswith(costs) and "HELP-SEEKING PER EXERCISE" in text
    assert code_json == 0 and "help_seeking" in json.loads(raw)
    assert via_ledger.rstrip("\n") == costs
    assert (
        "PER EXERCISE\nfns/sum_evens\n  calls 5  answered 4 (model 3, offline 1)  refused 1" in text
    )
    assert "errors 17%" in text and "cost $0.000650" in text


def test_unpriced_routes_are_not_zero(start_gateway: StartGateway) -> None:
    with start_gateway(price=False) as gw, gw.client("ada") as ada:
        ada.post("/v1/hint", json=HINT)
        with gw.client("admin") as admin:
            report = Summary.from_json(admin.get("/admin/summary").json())
    assert report.total.unpriced == 1 and report.total.cost_usd == 0.0
    assert "cost $0.000000 (+1 unpriced)" in summary_text(report)


def test_summary_cli_without_a_gateway_or_a_token(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(
        ["gateway", "summary", "--url", "http://127.0.0.1:9", "--token", "edut_x"], capsys
    )
    assert code == 1 and "cannot reach the tutor service at http://127.0.0.1:9" in err
    assert "Traceback" not in err
    code, _, err = run_cli(["ledger", "--url", "http://127.0.0.1:9"], capsys)
    assert code == 2 and "the gateway summary needs an admin token" in err
    assert "EDUPROJECT_ADMIN_TOKEN" in err
