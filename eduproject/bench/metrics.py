"""Benchmark figures: one :class:`Record` per model request, summed up per route and task.

Rates are fractions of all requests of a (route, suite, task) -- a timeout is a request
whose output was not accepted, so ``accepted_rate`` counts it in the denominator (the
ledger's own summary divides by answered attempts instead). Latencies are over answered
requests. Cost sums what the ledger priced for every attempt of every request (retries and
fallbacks included); when any attempt had no price the figure is *unpriced* -- never $0.

    >>> round(pass_at_k(n=10, c=3, k=1), 3), round(pass_at_k(n=10, c=3, k=5), 3)
    (0.3, 0.917)
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from eduproject.util.stats import p50_p95, per, percentile

Outcome = Literal["ok", "malformed", "timeout", "error"]
OUTCOMES: tuple[Outcome, ...] = ("ok", "malformed", "timeout", "error")


@dataclass(frozen=True)
class Record:
    """One benchmark request and what became of it.

    ``status``: ``ok`` (answered and well-formed), ``malformed`` (the router rejected the
    answer's form, or the task's well-formedness check did), ``timeout`` or ``error`` (no
    answer). ``cost_usd`` is None when some attempt of the request was unpriced.
    """

    route: str  # the contestant: one route name, or a fallback chain "a>b"
    suite: str
    task: str
    item: str
    sample: int
    status: Outcome
    accepted: bool
    reason: str
    answered: bool = False
    latency_s: float | None = None
    ttft_s: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float | None = None
    attempts: int = 0
    fallback_used: bool = False
    answered_by: str | None = None
    attempt_id: int | None = None
    output: str = ""
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TaskMetrics:
    """The figures of one (route, suite, task)."""

    route: str
    suite: str
    task: str
    requests: int
    accepted: int
    accepted_rate: float
    p50_latency_s: float | None
    p95_latency_s: float | None
    p50_ttft_s: float | None
    timeout_rate: float
    error_rate: float
    fallback_rate: float
    malformed_rate: float
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None  # None: unpriced
    unpriced: bool
    cost_per_accepted_usd: float | None  # None: unpriced, or nothing accepted
    pass_at: dict[int, float] = field(default_factory=dict)  # completion only

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def cost_text(self) -> str:
        return "unpriced" if self.unpriced else _usd(self.cost_usd or 0.0)

    def cost_per_accepted_text(self) -> str:
        if self.unpriced:
            return "unpriced"
        if self.cost_per_accepted_usd is None:
            return "n/a (none accepted)"
        return _usd(self.cost_per_accepted_usd)


def _usd(value: float) -> str:
    """Dollars; an exact zero (a local route priced at $0 per second) reads as $0."""
    return "$0" if value == 0 else f"${value:.6f}"


def pass_at_k(*, n: int, c: int, k: int) -> float:
    """The unbiased pass@k estimator of Chen et al. (2021): ``1 - C(n-c, k) / C(n, k)``."""
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} samples, got {n}")
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def pass_at(records: Sequence[Record], ks: Iterable[int]) -> dict[int, float]:
    """Mean pass@k over the items of ``records`` (completion records of one route and suite)."""
    per_item: dict[str, list[bool]] = defaultdict(list)
    for record in records:
        per_item[record.item].append(record.accepted)
    result: dict[int, float] = {}
    for k in ks:
        scores = [
            pass_at_k(n=len(samples), c=sum(samples), k=k)
            for samples in per_item.values()
            if len(samples) >= k
        ]
        if scores:
            result[k] = sum(scores) / len(scores)
    return result


def task_metrics(records: Sequence[Record], *, samples: int = 1) -> list[TaskMetrics]:
    """Per (route, suite, task), in first-seen order of routes and suites."""
    groups: dict[tuple[str, str, str], list[Record]] = {}
    for record in records:
        groups.setdefault((record.route, record.suite, record.task), []).append(record)
    ks = sorted({1, samples})
    return [_metrics(key, rows, ks) for key, rows in groups.items()]


def _metrics(key: tuple[str, str, str], rows: list[Record], ks: list[int]) -> TaskMetrics:
    n = len(rows)

    def rate(status: Outcome) -> float:
        return sum(1 for r in rows if r.status == status) / n

    answered = [r for r in rows if r.answered]
    p50, p95 = p50_p95(r.latency_s for r in answered if r.latency_s is not None)
    ttfts = sorted(r.ttft_s for r in answered if r.ttft_s is not None)
    accepted = sum(1 for r in rows if r.accepted)
    unpriced = any(r.cost_usd is None and r.attempts > 0 for r in rows)
    cost = None if unpriced else sum(r.cost_usd or 0.0 for r in rows)
    return TaskMetrics(
        route=key[0],
        suite=key[1],
        task=key[2],
        requests=n,
        accepted=accepted,
        accepted_rate=accepted / n,
        p50_latency_s=p50,
        p95_latency_s=p95,
        p50_ttft_s=percentile(ttfts, 0.50),
        timeout_rate=rate("timeout"),
        error_rate=rate("error"),
        fallback_rate=sum(1 for r in rows if r.fallback_used) / n,
        malformed_rate=rate("malformed"),
        prompt_tokens=sum(r.prompt_tokens or 0 for r in rows),
        completion_tokens=sum(r.completion_tokens or 0 for r in rows),
        cost_usd=cost,
        unpriced=unpriced,
        cost_per_accepted_usd=per(cost, accepted),
        pass_at=pass_at(rows, ks) if key[2] == "completion" else {},
    )
