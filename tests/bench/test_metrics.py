"""Figures from records: pass@k, rates, latency, cost and the unpriced flag."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from eduproject.bench.metrics import Record, pass_at, pass_at_k, task_metrics


@pytest.mark.parametrize(("n", "c", "k"), [(5, 0, 1), (5, 2, 1), (5, 2, 3), (6, 3, 6), (4, 4, 2)])
def test_pass_at_k_matches_counting_subsets(n: int, c: int, k: int) -> None:
    samples = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    expected = sum(any(samples[i] for i in s) for s in subsets) / len(subsets)
    assert pass_at_k(n=n, c=c, k=k) == pytest.approx(expected)


def test_pass_at_k_needs_enough_samples() -> None:
    with pytest.raises(ValueError, match="needs at least 3 samples"):
        pass_at_k(n=2, c=1, k=3)


def rec(**fields: Any) -> Record:
    base: dict[str, Any] = {
        "route": "r",
        "suite": "s",
        "task": "completion",
        "item": "i",
        "sample": 0,
        "status": "ok",
        "accepted": False,
        "reason": "",
        "answered": True,
        "latency_s": 1.0,
        "ttft_s": 0.5,
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "cost_usd": 0.01,
        "attempts": 1,
    }
    base.update(fields)
    return Record(**base)


def test_pass_at_averages_items() -> None:
    records = [
        rec(item="a", sample=0, accepted=True),
        rec(item="a", sample=1, accepted=False),
        rec(item="b", sample=0, accepted=False),
        rec(item="b", sample=1, accepted=False),
    ]
    assert pass_at(records, [1, 2]) == {1: 0.25, 2: 0.5}


def test_summary_figures() -> None:
    records = [
        rec(accepted=True, latency_s=1.0),
        rec(accepted=True, latency_s=3.0, fallback_used=True),
        rec(accepted=False, latency_s=2.0, status="malformed"),
        rec(status="timeout", answered=False, latency_s=30.0, ttft_s=None, prompt_tokens=None,
            completion_tokens=None, cost_usd=0.0),
        rec(status="error", answered=False, latency_s=0.1, ttft_s=None, prompt_tokens=None,
            completion_tokens=None, cost_usd=0.0),
    ]  # fmt: skip
    (m,) = task_metrics(records)
    assert (m.requests, m.accepted, m.accepted_rate) == (5, 2, 0.4)
    assert (m.timeout_rate, m.error_rate, m.malformed_rate, m.fallback_rate) == (0.2, 0.2, 0.2, 0.2)
    assert (m.p50_latency_s, m.p95_latency_s) == (2.0, pytest.approx(2.9))
    assert (m.prompt_tokens, m.completion_tokens) == (30, 15)
    assert m.cost_usd == pytest.approx(0.03) and not m.unpriced
    assert m.cost_per_accepted_usd == pytest.approx(0.015)
    assert m.pass_at == {1: 0.4}


def test_unpriced_is_never_zero() -> None:
    records = [rec(accepted=True, cost_usd=None), rec(accepted=True, cost_usd=0.02)]
    (m,) = task_metrics(records)
    assert m.unpriced and m.cost_usd is None and m.cost_per_accepted_usd is None
    assert (m.cost_text(), m.cost_per_accepted_text()) == ("unpriced", "unpriced")


def test_requests_without_attempts_cost_nothing() -> None:
    # A request the router refused before any attempt (no ledger row) is not "unpriced".
    (m,) = task_metrics([rec(status="error", answered=False, cost_usd=None, attempts=0)])
    assert not m.unpriced and m.cost_usd == 0.0 and m.cost_per_accepted_usd is None
    assert m.cost_per_accepted_text() == "n/a (none accepted)"


def test_groups_keep_first_seen_order() -> None:
    rows = task_metrics(
        [rec(route="b"), rec(route="a", task="hint"), rec(route="b", task="explain")]
    )
    assert [(m.route, m.task) for m in rows] == [
        ("b", "completion"),
        ("a", "hint"),
        ("b", "explain"),
    ]
    assert rows[1].pass_at == {}
