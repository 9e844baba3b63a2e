"""The ledger (SQLite, or PostgreSQL for a gateway on several hosts): one row per attempt, and
the summary ``eduproject ledger`` prints.

An attempt is one route tried for one request, including its retries. ``cost_usd`` is
NULL when the route has no price -- counted as *unpriced*, never as $0. ``accepted``
stays NULL until the tutor, the benchmark or a learner's thumbs-up sets it::

    ledger = Ledger(Path("ledger.sqlite3"))
    attempt_id = ledger.record(Attempt(task="hint", route="sc2", model="m", family="starcoder2",
                                       provider="openai", status="ok", latency_s=0.8))
    ledger.mark_accepted(attempt_id, True)
    for row in ledger.summary():
        print(row.route, row.requests, row.p50_latency_s, row.cost_usd)
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from eduproject.core.storage import open_store
from eduproject.errors import ModelError
from eduproject.util.stats import p50_p95, per

_HINT = (
    "choose a writable place ([ledger] path, or EDUPROJECT_LEDGER), or a reachable "
    "[gateway] database URL"
)
Status = Literal["ok", "timeout", "error", "malformed", "rate_limited", "partial"]
STATUSES: tuple[Status, ...] = ("ok", "timeout", "error", "malformed", "rate_limited", "partial")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    request_id TEXT NOT NULL,
    task TEXT NOT NULL,
    route TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    family TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    finish_reason TEXT,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    usage_estimated INTEGER NOT NULL DEFAULT 0,
    ttft_s REAL,
    latency_s REAL NOT NULL,
    retries INTEGER NOT NULL DEFAULT 0,
    fallback_used INTEGER NOT NULL DEFAULT 0,
    cost_usd REAL,
    unpriced INTEGER NOT NULL DEFAULT 0,
    cache_hit INTEGER NOT NULL DEFAULT 0,
    accepted INTEGER
);
CREATE INDEX IF NOT EXISTS attempts_ts ON attempts (ts);
CREATE INDEX IF NOT EXISTS attempts_request ON attempts (request_id);
"""


@dataclass(frozen=True)
class Attempt:
    """One ledger row (``id`` and ``accepted`` are filled in by the ledger)."""

    task: str
    route: str
    model: str
    family: str
    provider: str
    status: Status
    latency_s: float
    request_id: str = ""
    ts: float = field(default_factory=time.time)
    error: str | None = None
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    usage_estimated: bool = False
    ttft_s: float | None = None
    retries: int = 0
    fallback_used: bool = False
    cost_usd: float | None = None  # None = unpriced
    cache_hit: bool = False
    accepted: bool | None = None
    id: int | None = None


_COLUMNS = (
    "ts",
    "request_id",
    "task",
    "route",
    "provider",
    "model",
    "family",
    "status",
    "error",
    "finish_reason",
    "prompt_tokens",
    "completion_tokens",
    "usage_estimated",
    "ttft_s",
    "latency_s",
    "retries",
    "fallback_used",
    "cost_usd",
    "unpriced",
    "cache_hit",
    "accepted",
)


@dataclass(frozen=True)
class SummaryRow:
    """Figures for one (route, model, task). Rates are fractions of ``requests``
    except ``accepted_rate``, which is a fraction of the answered attempts (ok/partial)."""

    route: str
    model: str
    task: str
    requests: int
    p50_latency_s: float | None  # over ok, non-cached attempts
    p95_latency_s: float | None
    timeout_rate: float
    error_rate: float  # errors and rate limits
    fallback_rate: float
    malformed_rate: float
    partial_rate: float
    cache_hits: int
    accepted: int
    accepted_rate: float | None
    cost_usd: float  # sum over priced attempts
    cost_per_accepted_usd: float | None
    unpriced: int


class Ledger:
    """Append-only attempt log in one SQLite file, safe across processes (WAL), or in a
    PostgreSQL database when ``path`` is a ``postgresql://`` URL."""

    def __init__(self, path: Path | str) -> None:
        self.path = path
        self._db = open_store(path, _SCHEMA, hint=_HINT)
        self._lock = self._db.lock

    def record(self, attempt: Attempt) -> int:
        values = [
            attempt.ts,
            attempt.request_id,
            attempt.task,
            attempt.route,
            attempt.provider,
            attempt.model,
            attempt.family,
            attempt.status,
            attempt.error,
            attempt.finish_reason,
            attempt.prompt_tokens,
            attempt.completion_tokens,
            int(attempt.usage_estimated),
            attempt.ttft_s,
            attempt.latency_s,
            attempt.retries,
            int(attempt.fallback_used),
            attempt.cost_usd,
            int(attempt.cost_usd is None),
            int(attempt.cache_hit),
            None if attempt.accepted is None else int(attempt.accepted),
        ]
        sql = (
            f"INSERT INTO attempts ({', '.join(_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(_COLUMNS))}) RETURNING id"
        )
        with self._lock:
            rows = self._db.execute(sql, values).fetchall()
        return int(rows[0][0])

    def mark_accepted(self, attempt_id: int, accepted: bool) -> None:
        """Record whether the answer of attempt ``attempt_id`` was accepted."""
        with self._lock:
            cursor = self._db.execute(
                "UPDATE attempts SET accepted = ? WHERE id = ?", (int(accepted), attempt_id)
            )
        if cursor.rowcount == 0:
            raise ModelError(
                f"no ledger attempt with id {attempt_id} in {self._db.where}",
                hint="pass ModelResponse.attempt_id of an answer from this ledger",
            )

    def attempts(self, *, request_id: str | None = None) -> list[Attempt]:
        where, args = ("WHERE request_id = ?", (request_id,)) if request_id else ("", ())
        with self._lock:
            rows = self._db.execute(
                f"SELECT id, {', '.join(_COLUMNS)} FROM attempts {where} ORDER BY id", args
            ).fetchall()
        result = []
        for row in rows:
            data = dict(zip(("id", *_COLUMNS), row, strict=True))
            data.pop("unpriced")
            for flag in ("usage_estimated", "fallback_used", "cache_hit"):
                data[flag] = bool(data[flag])
            if data["accepted"] is not None:
                data["accepted"] = bool(data["accepted"])
            result.append(Attempt(**data))
        return result

    def summary(self) -> list[SummaryRow]:
        """Per (route, model, task), sorted by those keys."""
        groups: dict[tuple[str, str, str], list[Attempt]] = defaultdict(list)
        for attempt in self.attempts():
            groups[(attempt.route, attempt.model, attempt.task)].append(attempt)
        return [summary_row(key, rows) for key, rows in sorted(groups.items())]

    def close(self) -> None:
        with self._lock:
            self._db.close()


def summary_row(key: tuple[str, str, str], rows: Sequence[Attempt]) -> SummaryRow:
    """The figures of the attempts ``rows`` of one (route, model, task) ``key``."""
    n = len(rows)

    def rate(*statuses: str) -> float:
        return sum(1 for r in rows if r.status in statuses) / n

    p50, p95 = model_latencies(rows)
    answered = [r for r in rows if r.status in ("ok", "partial")]
    accepted = sum(1 for r in answered if r.accepted)
    cost, unpriced = priced_cost(rows)
    return SummaryRow(
        route=key[0],
        model=key[1],
        task=key[2],
        requests=n,
        p50_latency_s=p50,
        p95_latency_s=p95,
        timeout_rate=rate("timeout"),
        error_rate=rate("error", "rate_limited"),
        fallback_rate=sum(1 for r in rows if r.fallback_used) / n,
        malformed_rate=rate("malformed"),
        partial_rate=rate("partial"),
        cache_hits=sum(1 for r in rows if r.cache_hit),
        accepted=accepted,
        accepted_rate=per(accepted, len(answered)),
        cost_usd=cost,
        cost_per_accepted_usd=per(cost, accepted),
        unpriced=unpriced,
    )


def model_latencies(attempts: Iterable[Attempt]) -> tuple[float | None, float | None]:
    """p50 and p95 seconds of the attempts a model answered (``ok``; a cache hit is not a
    model's latency)."""
    return p50_p95(a.latency_s for a in attempts if a.status == "ok" and not a.cache_hit)


def priced_cost(attempts: Iterable[Attempt]) -> tuple[float, int]:
    """The cost of the priced attempts, and how many had no price (never counted as $0)."""
    cost, unpriced = 0.0, 0
    for a in attempts:
        if a.cost_usd is None:
            unpriced += 1
        else:
            cost += a.cost_usd
    return cost, unpriced
