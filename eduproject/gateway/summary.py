"""The instructor's summary: cost per learner and per exercise, latency, error and fallback rates.

Calls come from the gateway's call log, costs and model latencies from the router's ledger
rows those calls caused (``call_attempts`` links the two). Costs of unpriced routes are
counted as *unpriced*, never as $0::

    report = build_summary(service)                   # on the server: GET /admin/summary
    report = fetch_summary("http://tutor:8765", admin_token)     # anywhere else
    report = local_summary(Path("course"))            # from the database itself
    print(summary_text(report))
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eduproject.errors import GatewayError
from eduproject.models.ledger import Attempt, model_latencies, priced_cost
from eduproject.util.stats import p50_p95, per

if TYPE_CHECKING:
    from eduproject.gateway.records import CallRow
    from eduproject.gateway.service import TutorService

_ERROR_STATUSES = ("error", "timeout", "rate_limited")


@dataclass(frozen=True)
class Group:
    """Figures for one learner, one exercise, or everything (``key``).

    ``calls`` counts tutor requests (``refused`` of them for an exhausted allowance);
    latencies are the gateway's own, request to final reply, over answered calls.
    ``error_rate`` and ``fallback_rate`` are fractions of the model ``attempts``.
    """

    key: str
    calls: int
    answered: int
    refused: int
    by_source: dict[str, int]
    attempts: int
    error_rate: float | None
    fallback_rate: float | None
    cost_usd: float
    unpriced: int
    p50_latency_s: float | None
    p95_latency_s: float | None


@dataclass(frozen=True)
class Summary:
    generated_at: float
    total: Group
    learners: list[Group] = field(default_factory=list)
    exercises: list[Group] = field(default_factory=list)
    model_p50_latency_s: float | None = None  # model attempts that answered (not cached)
    model_p95_latency_s: float | None = None
    # The ledger's accepted flag: a thumbs up, or a thumbs down / a guard's rejection.
    accepted: int = 0
    rejected: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> Summary:
        try:
            return cls(
                generated_at=float(data["generated_at"]),
                total=Group(**data["total"]),
                learners=[Group(**g) for g in data["learners"]],
                exercises=[Group(**g) for g in data["exercises"]],
                model_p50_latency_s=data["model_p50_latency_s"],
                model_p95_latency_s=data["model_p95_latency_s"],
                accepted=int(data["accepted"]),
                rejected=int(data["rejected"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise GatewayError(
                f"the tutor service sent a summary this version cannot read ({exc})",
                hint="use the same eduproject version on the server and here",
            ) from None


def build_summary(service: TutorService) -> Summary:
    ledger = service.router.ledger
    attempts = ledger.attempts() if ledger is not None else []
    return calls_summary(service.calls.calls(), service.calls.attempt_owners(), attempts)


def calls_summary(
    calls: Sequence[CallRow],
    owners: dict[int, tuple[str, str | None, str | None]],
    attempts: Iterable[Attempt],
) -> Summary:
    """The summary of ``calls`` and the ledger ``attempts`` that ``owners`` attributes."""
    mine = [a for a in attempts if a.id in owners]
    calls_by: dict[str, list[CallRow]] = defaultdict(list)
    attempts_by: dict[str, list[Attempt]] = defaultdict(list)
    for c in calls:
        calls_by[f"learner:{c.learner}"].append(c)
        if c.exercise:
            calls_by[f"exercise:{c.lesson}/{c.exercise}"].append(c)
    for a in mine:
        assert a.id is not None
        learner, lesson, exercise = owners[a.id]
        attempts_by[f"learner:{learner}"].append(a)
        if exercise:
            attempts_by[f"exercise:{lesson}/{exercise}"].append(a)

    def groups(prefix: str) -> list[Group]:
        keys = sorted({k for k in (*calls_by, *attempts_by) if k.startswith(prefix)})
        return [_group(k.removeprefix(prefix), calls_by[k], attempts_by[k]) for k in keys]

    model_p50, model_p95 = model_latencies(mine)
    return Summary(
        generated_at=time.time(),
        total=_group("all", calls, mine),
        learners=groups("learner:"),
        exercises=groups("exercise:"),
        model_p50_latency_s=model_p50,
        model_p95_latency_s=model_p95,
        accepted=sum(1 for a in mine if a.accepted is True),
        rejected=sum(1 for a in mine if a.accepted is False),
    )


def _group(key: str, calls: Sequence[CallRow], attempts: Sequence[Attempt]) -> Group:
    done = [c for c in calls if c.outcome == "answered"]
    sources: dict[str, int] = defaultdict(int)
    for c in done:
        sources[c.source or "unknown"] += 1
    p50, p95 = p50_p95(c.latency_s for c in done if c.latency_s is not None)
    n = len(attempts)
    cost, unpriced = priced_cost(attempts)
    return Group(
        key=key,
        calls=len(calls),
        answered=len(done),
        refused=sum(1 for c in calls if c.outcome == "quota"),
        by_source=dict(sorted(sources.items())),
        attempts=n,
        error_rate=per(sum(1 for a in attempts if a.status in _ERROR_STATUSES), n),
        fallback_rate=per(sum(1 for a in attempts if a.fallback_used), n),
        cost_usd=cost,
        unpriced=unpriced,
        p50_latency_s=p50,
        p95_latency_s=p95,
    )


def course_stores(course_dir: Path, db: Path | None = None) -> tuple[Path | str, Path | str]:
    """The course's gateway database and ledger (``--db`` wins): PostgreSQL URLs or files.

    A missing database file is a GatewayError saying where to run the command.
    """
    from eduproject.config import read_section
    from eduproject.gateway.settings import SECTION as GATEWAY_SECTION
    from eduproject.models.config import load_config

    config = load_config(course_dir)
    settings = read_section(config.other, GATEWAY_SECTION, course_dir)
    target: Path | str = db if db is not None else settings.target
    if isinstance(target, Path) and not target.is_file():
        raise GatewayError(
            f"no gateway database at {target}",
            hint="run it in the course folder (or pass --course / --db), or use --url",
        )
    return target, settings.database or config.ledger_path


def local_summary(course_dir: Path, db: Path | None = None) -> Summary:
    """The summary from the course's gateway database and ledger, without a server (the
    PostgreSQL database of ``[gateway] database``, else the SQLite files)."""
    from eduproject.gateway.db import Database
    from eduproject.gateway.records import CallLog
    from eduproject.models.ledger import Ledger

    target, ledger_target = course_stores(course_dir, db)
    database = Database(target)
    try:
        calls = CallLog(database)
        attempts = []
        if not isinstance(ledger_target, Path) or ledger_target.is_file():
            ledger = Ledger(ledger_target)
            try:
                attempts = ledger.attempts()
            finally:
                ledger.close()
        return calls_summary(calls.calls(), calls.attempt_owners(), attempts)
    finally:
        database.close()


def fetch_summary(url: str, token: str, *, timeout_s: float = 30.0) -> Summary:
    """``GET /admin/summary`` of the gateway at ``url`` with an admin token."""
    return Summary.from_json(admin_get(url, "/admin/summary", token, timeout_s=timeout_s))


def admin_get(url: str, path: str, token: str, *, timeout_s: float = 30.0) -> Any:
    """The JSON of an admin route of the gateway at ``url``; GatewayError saying what failed."""
    import httpx

    try:
        response = httpx.get(
            url.rstrip("/") + path,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout_s,
        )
    except httpx.HTTPError as exc:
        raise GatewayError(
            f"cannot reach the tutor service at {url}: {type(exc).__name__}",
            hint="is `eduproject serve` running there? check --url",
        ) from None
    if response.status_code in (401, 403):
        raise GatewayError(
            f"the tutor service at {url} refused the token (HTTP {response.status_code})",
            hint="pass an admin token from `eduproject tokens admin`",
        )
    if response.status_code != 200:
        raise GatewayError(f"the tutor service at {url} answered HTTP {response.status_code}")
    try:
        return response.json()
    except ValueError:
        raise GatewayError(f"the tutor service at {url} did not answer JSON") from None


def summary_text(report: Summary) -> str:
    """The summary as plain text, one block per group."""

    def pct(x: float | None) -> str:
        return "-" if x is None else f"{x:.0%}"

    def secs(x: float | None) -> str:
        return "-" if x is None else f"{x:.2f} s"

    def usd(x: float) -> str:
        # Per-learner costs of cheap models are fractions of a cent: keep their digits.
        return f"${x:.2f}" if x >= 1 else f"${x:.6f}"

    def line(g: Group) -> str:
        sources = ", ".join(f"{k} {v}" for k, v in g.by_source.items()) or "none"
        unpriced = f" (+{g.unpriced} unpriced)" if g.unpriced else ""
        return (
            f"{g.key}\n"
            f"  calls {g.calls}  answered {g.answered} ({sources})  refused {g.refused}\n"
            f"  latency p50 {secs(g.p50_latency_s)}  p95 {secs(g.p95_latency_s)}  "
            f"model attempts {g.attempts}  errors {pct(g.error_rate)}  "
            f"fallbacks {pct(g.fallback_rate)}\n"
            f"  cost {usd(g.cost_usd)}{unpriced}"
        )

    parts = [
        "TOTAL\n" + line(report.total),
        f"model latency p50 {secs(report.model_p50_latency_s)}  "
        f"p95 {secs(report.model_p95_latency_s)}  accepted {report.accepted}  "
        f"rejected {report.rejected} (thumbs down or guards)",
    ]
    if report.exercises:
        parts.append("PER EXERCISE\n" + "\n".join(line(g) for g in report.exercises))
    if report.learners:
        parts.append("PER LEARNER\n" + "\n".join(line(g) for g in report.learners))
    return "\n\n".join(parts)
