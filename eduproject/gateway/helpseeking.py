"""How learners seek help: per exercise and learner, from the gateway's calls and the ledger.

For each learner and exercise: Checks until the first pass, hints by level, questions and
explanations, answers rated helpful or not (the thumbs, the ledger's ``accepted`` flag of the
answer shown), completions asked for and accepted (Tab), requests the policy refused, and the
time from the first help-related action to the first passing Check. Learners who look stuck
(no pass after many Checks or several hints) are listed, as are the questions whose model
answer the leak guard rejected. Only the admin sees learner names (``GET /admin/help``);
:func:`pseudonymize` replaces them for reports shared further::

    report = help_report(service.calls.calls(), accepted_flags(service))
    print(help_text(report))
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eduproject.errors import GatewayError
from eduproject.models.ledger import Attempt
from eduproject.util.stats import median

if TYPE_CHECKING:
    from eduproject.gateway.records import CallRow
    from eduproject.gateway.service import TutorService

STUCK_CHECKS = 5  # Checks without a pass
STUCK_HINTS = 3  # hints without a pass
EXPLAIN_KINDS = ("explain", "explain-error")


@dataclass(frozen=True)
class LearnerExercise:
    """One learner on one exercise (``learner`` is a name, or a pseudonym)."""

    learner: str
    lesson: str
    exercise: str
    checks: int = 0
    checks_to_pass: int | None = None  # Checks up to and including the first passing one
    hints: dict[int, int] = field(default_factory=dict)  # level -> hints answered
    questions: int = 0
    explanations: int = 0
    helpful: int = 0
    not_helpful: int = 0
    completions: int = 0  # suggestions shown (non-empty)
    completions_accepted: int = 0
    refused: int = 0  # requests the AI policy refused
    time_to_pass_s: float | None = None

    @property
    def passed(self) -> bool:
        return self.checks_to_pass is not None

    @property
    def hint_total(self) -> int:
        return sum(self.hints.values())

    @property
    def stuck(self) -> bool:
        return not self.passed and (self.checks >= STUCK_CHECKS or self.hint_total >= STUCK_HINTS)


@dataclass(frozen=True)
class ExerciseHelp:
    """Everyone on one exercise."""

    lesson: str
    exercise: str
    learners: int
    passed: int
    median_checks_to_pass: float | None
    hints: dict[int, int]
    questions: int
    explanations: int
    helpful: int
    not_helpful: int
    completions: int
    completions_accepted: int
    refused: int
    median_time_to_pass_s: float | None
    stuck: int


@dataclass(frozen=True)
class RejectedQuestion:
    """A question whose model answer the leak guard rejected (the learner got a safe answer)."""

    learner: str
    lesson: str | None
    exercise: str | None
    ts: float
    question: str


@dataclass(frozen=True)
class HelpReport:
    generated_at: float
    exercises: list[ExerciseHelp]
    rows: list[LearnerExercise]
    rejected: list[RejectedQuestion]

    @property
    def stuck(self) -> list[LearnerExercise]:
        return [r for r in self.rows if r.stuck]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> HelpReport:
        try:
            return cls(
                generated_at=float(data["generated_at"]),
                exercises=[
                    ExerciseHelp(**{**e, "hints": _levels(e["hints"])}) for e in data["exercises"]
                ],
                rows=[LearnerExercise(**{**r, "hints": _levels(r["hints"])}) for r in data["rows"]],
                rejected=[RejectedQuestion(**q) for q in data["rejected"]],
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise GatewayError(
                f"the tutor service sent a help-seeking report this version cannot read ({exc})",
                hint="use the same eduproject version on the server and here",
            ) from None


def _levels(data: Mapping[Any, Any]) -> dict[int, int]:
    return {int(level): int(n) for level, n in data.items()}


def accepted_flags(attempts: Iterable[Attempt]) -> dict[int, bool | None]:
    """``attempt id -> accepted`` from ledger rows."""
    return {a.id: a.accepted for a in attempts if a.id is not None}


def build_help(service: TutorService) -> HelpReport:
    """The report of a running gateway (its calls, its router's ledger), in lesson order."""
    ledger = service.router.ledger
    flags = accepted_flags(ledger.attempts()) if ledger is not None else {}
    order = [(p.lesson, e.id) for p in service.packs.values() for e in p.exercises]
    return help_report(service.calls.calls(), flags, order=order)


def help_report(
    calls: Sequence[CallRow],
    accepted: Mapping[int, bool | None],
    *,
    order: Sequence[tuple[str, str]] = (),
) -> HelpReport:
    """Aggregate ``calls`` with the ledger's ``accepted`` flags; exercises in ``order``
    (lesson, exercise) where given, the others after it by name."""
    by_pair: dict[tuple[str, str, str], list[CallRow]] = defaultdict(list)
    rejected = []
    for call in sorted(calls, key=lambda c: c.ts):
        if call.flag == "leak" and call.question:
            rejected.append(
                RejectedQuestion(call.learner, call.lesson, call.exercise, call.ts, call.question)
            )
        if call.lesson and call.exercise:
            by_pair[(call.learner, call.lesson, call.exercise)].append(call)
    rows = [_row(key, group, accepted) for key, group in sorted(by_pair.items())]
    per_exercise: dict[tuple[str, str], list[LearnerExercise]] = defaultdict(list)
    for row in rows:
        per_exercise[(row.lesson, row.exercise)].append(row)
    rank = {key: i for i, key in enumerate(order)}
    exercises = [
        _exercise(key, per_exercise[key])
        for key in sorted(per_exercise, key=lambda k: (rank.get(k, len(rank)), k))
    ]
    return HelpReport(time.time(), exercises, rows, rejected)


def _row(
    key: tuple[str, str, str], calls: Sequence[CallRow], accepted: Mapping[int, bool | None]
) -> LearnerExercise:
    learner, lesson, exercise = key
    checks = 0
    checks_to_pass = time_to_pass = None
    hints: dict[int, int] = defaultdict(int)
    counts: dict[str, int] = defaultdict(int)
    started = calls[0].ts
    for call in calls:
        if call.outcome == "policy":
            counts["refused"] += 1
            continue
        if call.outcome != "answered":
            continue
        if call.kind == "check":
            checks += 1
            if call.passed and checks_to_pass is None:
                checks_to_pass, time_to_pass = checks, call.ts - started
        elif call.kind == "hint":
            hints[call.level or 1] += 1
        elif call.kind == "ask":
            counts["questions"] += 1
        elif call.kind in EXPLAIN_KINDS:
            counts["explanations"] += 1
        if call.attempt_id is None:
            continue
        flag = accepted.get(call.attempt_id)
        if call.kind == "complete":
            counts["completions"] += call.source == "model"
            counts["completions_accepted"] += flag is True
        elif flag is not None:
            counts["helpful" if flag else "not_helpful"] += 1
    return LearnerExercise(
        learner,
        lesson,
        exercise,
        checks=checks,
        checks_to_pass=checks_to_pass,
        hints=dict(sorted(hints.items())),
        time_to_pass_s=time_to_pass,
        **counts,
    )


def _exercise(key: tuple[str, str], rows: Sequence[LearnerExercise]) -> ExerciseHelp:
    hints: dict[int, int] = defaultdict(int)
    for row in rows:
        for level, n in row.hints.items():
            hints[level] += n
    return ExerciseHelp(
        lesson=key[0],
        exercise=key[1],
        learners=len(rows),
        passed=sum(r.passed for r in rows),
        median_checks_to_pass=median([r.checks_to_pass for r in rows if r.checks_to_pass]),
        hints=dict(sorted(hints.items())),
        questions=sum(r.questions for r in rows),
        explanations=sum(r.explanations for r in rows),
        helpful=sum(r.helpful for r in rows),
        not_helpful=sum(r.not_helpful for r in rows),
        completions=sum(r.completions for r in rows),
        completions_accepted=sum(r.completions_accepted for r in rows),
        refused=sum(r.refused for r in rows),
        median_time_to_pass_s=median(
            [r.time_to_pass_s for r in rows if r.time_to_pass_s is not None]
        ),
        stuck=sum(r.stuck for r in rows),
    )


def help_from_files(
    gateway_db: Path | str, ledger: Path | str | None, *, lesson: str | None = None
) -> HelpReport:
    """The report from a gateway database and its ledger (files, or PostgreSQL URLs)."""
    from eduproject.gateway.db import Database
    from eduproject.gateway.records import CallLog
    from eduproject.models.ledger import Ledger

    for path, what in ((gateway_db, "gateway database"), (ledger, "ledger")):
        if isinstance(path, Path) and not path.is_file():
            raise GatewayError(
                f"no {what} at {path}",
                hint="help-seeking figures come from the calls `eduproject serve` recorded: "
                "pass --gateway-db and --ledger of the course's gateway",
            )
    database = Database(gateway_db)
    try:
        calls = [c for c in CallLog(database).calls() if lesson is None or c.lesson == lesson]
    finally:
        database.close()
    flags: dict[int, bool | None] = {}
    if ledger is not None:
        book = Ledger(ledger)
        try:
            flags = accepted_flags(book.attempts())
        finally:
            book.close()
    return help_report(calls, flags)


def local_help(course_dir: Path, db: Path | None = None) -> HelpReport:
    """The report from the course's gateway database and ledger, without a server."""
    from eduproject.gateway.summary import course_stores

    target, ledger = course_stores(course_dir, db)
    present = not isinstance(ledger, Path) or ledger.is_file()
    return help_from_files(target, ledger if present else None)


def pseudonymize(report: HelpReport) -> HelpReport:
    """The report with learner names replaced by ``learner 1``, ``learner 2``... (sorted)."""
    names = sorted({r.learner for r in report.rows} | {q.learner for q in report.rejected})
    alias = {name: f"learner {i}" for i, name in enumerate(names, start=1)}
    return replace(
        report,
        rows=[replace(r, learner=alias[r.learner]) for r in report.rows],
        rejected=[replace(q, learner=alias[q.learner]) for q in report.rejected],
    )


def fetch_help(url: str, token: str, *, timeout_s: float = 30.0) -> HelpReport:
    """``GET /admin/help.json`` of the gateway at ``url`` with an admin token."""
    from eduproject.gateway.summary import admin_get

    return HelpReport.from_json(admin_get(url, "/admin/help.json", token, timeout_s=timeout_s))


def minutes(seconds: float | None) -> str:
    """'-', '45 s' or '12.5 min'."""
    if seconds is None:
        return "-"
    return f"{seconds:.0f} s" if seconds < 60 else f"{seconds / 60:.1f} min"


def _hint_cell(hints: Mapping[int, int]) -> str:
    return " ".join(f"L{level}:{n}" for level, n in sorted(hints.items())) or "0"


def help_text(report: HelpReport) -> str:
    """The report as plain text: per exercise, stuck learners, rejected questions."""
    lines = ["HELP-SEEKING PER EXERCISE"]
    if not report.exercises:
        lines.append("  no Checks or tutor requests with an exercise yet")
    for e in report.exercises:
        checks = "-" if e.median_checks_to_pass is None else f"{e.median_checks_to_pass:g}"
        lines.append(
            f"{e.lesson}/{e.exercise}: {e.learners} learners, {e.passed} passed "
            f"(median {checks} checks, {minutes(e.median_time_to_pass_s)} to pass), "
            f"{e.stuck} stuck\n"
            f"  hints {_hint_cell(e.hints)}  questions {e.questions}  "
            f"explanations {e.explanations}  helpful {e.helpful} / not {e.not_helpful}  "
            f"completions {e.completions_accepted} of {e.completions} accepted  "
            f"refused by policy {e.refused}"
        )
    stuck = report.stuck
    lines.append(f"\nLOOKS STUCK ({len(stuck)})")
    lines += [
        f"  {r.learner} on {r.lesson}/{r.exercise}: {r.checks} checks, "
        f"hints {_hint_cell(r.hints)}, {r.questions} questions, no pass yet"
        for r in stuck
    ] or ["  nobody"]
    lines.append(f"\nQUESTIONS THE LEAK GUARD REJECTED ({len(report.rejected)})")
    lines += [
        f"  {q.learner} ({q.lesson}/{q.exercise}): {q.question}" for q in report.rejected
    ] or ["  none"]
    return "\n".join(lines)
