"""Who caused which model attempt: the gateway's calls and their ledger rows.

The router writes one ledger row per attempt and knows nothing of learners (their names never
reach a prompt). The gateway runs each tutor call inside a :class:`CallTag` context; the
:class:`AttributingLedger` notes the id of every row written within it, and when the call
ends :class:`CallLog` stores the call and one ``call_attempts`` row per attempt id -- so cost
and latency can be summed per learner and per exercise::

    tag = CallTag(learner="ada", lesson="03-lists-dicts", exercise="sum_evens", kind="hint")
    with tag.active():
        reply = tutor.hint(...)          # the router records attempts; tag.attempt_ids fills
    call_log.record(tag, outcome="answered", source=reply.source, latency_s=1.2)
"""

from __future__ import annotations

import contextlib
import contextvars
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from eduproject.gateway.db import Database
from eduproject.models.ledger import Attempt, Ledger

_CURRENT: contextvars.ContextVar[CallTag | None] = contextvars.ContextVar(
    "eduproject_gateway_call", default=None
)


@dataclass
class CallTag:
    """One tutor call as the gateway attributes it."""

    learner: str
    lesson: str | None
    exercise: str | None
    kind: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    started: float = field(default_factory=time.time)
    # When the request arrived (monotonic): the call's latency includes any wait for a worker.
    began: float = field(default_factory=time.monotonic)
    attempt_ids: list[int] = field(default_factory=list)

    @contextlib.contextmanager
    def active(self) -> Iterator[CallTag]:
        """Attribute the ledger rows written in this context (and in the router tasks it
        starts: asyncio copies the context into them) to this call."""
        reset = _CURRENT.set(self)
        try:
            yield self
        finally:
            _CURRENT.reset(reset)


class AttributingLedger(Ledger):
    """The router's ledger, noting each new row's id on the current :class:`CallTag`."""

    def record(self, attempt: Attempt) -> int:
        attempt_id = super().record(attempt)
        tag = _CURRENT.get()
        if tag is not None:
            tag.attempt_ids.append(attempt_id)
        return attempt_id


@dataclass(frozen=True)
class CallRow:
    """One stored call (``outcome``: answered, quota, policy, failed or cancelled).

    ``kind`` is a tutor endpoint (hint, explain, explain-error, ask), ``check`` (a learner's
    Check, ``passed`` 1 when every visible test passed) or ``complete`` (inline completion).
    ``attempt_id`` is the ledger row of the answer shown; ``flag`` is ``"leak"`` when the leak
    guard rejected the model's answer, and then ``question`` holds an Ask's question.
    """

    id: str
    ts: float
    learner: str
    lesson: str | None
    exercise: str | None
    kind: str
    outcome: str
    source: str | None
    latency_s: float | None
    level: int | None = None
    passed: bool | None = None
    attempt_id: int | None = None
    flag: str | None = None
    question: str | None = None


_CALL_FIELDS = (
    "id, ts, learner, lesson, exercise, kind, outcome, source, latency_s, "
    "level, passed, attempt_id, flag, question"
)


class CallLog:
    """The calls and call_attempts tables of the gateway database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def record(
        self,
        tag: CallTag,
        *,
        outcome: str,
        source: str | None = None,
        latency_s: float | None = None,
        level: int | None = None,
        passed: bool | None = None,
        attempt_id: int | None = None,
        flag: str | None = None,
        question: str | None = None,
    ) -> None:
        with self.db.transaction():
            self.db.execute(
                f"INSERT INTO calls ({_CALL_FIELDS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    tag.id,
                    tag.started,
                    tag.learner,
                    tag.lesson,
                    tag.exercise,
                    tag.kind,
                    outcome,
                    source,
                    latency_s,
                    level,
                    None if passed is None else int(passed),
                    attempt_id,
                    flag,
                    question,
                ),
            )
            self.db.executemany(
                "INSERT INTO call_attempts (attempt_id, call_id, learner, lesson, exercise) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (attempt_id) DO UPDATE SET "
                "call_id = excluded.call_id, learner = excluded.learner, "
                "lesson = excluded.lesson, exercise = excluded.exercise",
                [
                    (attempt_id, tag.id, tag.learner, tag.lesson, tag.exercise)
                    for attempt_id in tag.attempt_ids
                ],
            )

    def owns(self, learner: str, attempt_id: int) -> bool:
        """Whether ledger row ``attempt_id`` answered a call of ``learner``."""
        row = self.db.execute(
            "SELECT 1 FROM call_attempts WHERE attempt_id = ? AND learner = ?",
            (attempt_id, learner),
        ).fetchone()
        return row is not None

    def calls(self, learner: str | None = None) -> list[CallRow]:
        where, args = ("WHERE learner = ?", (learner,)) if learner is not None else ("", ())
        rows = self.db.execute(
            f"SELECT {_CALL_FIELDS} FROM calls {where} ORDER BY ts", args
        ).fetchall()
        return [_row(row) for row in rows]

    def checks(self, learner: str, lesson: str | None, exercise: str | None) -> int:
        """How many Checks ``learner`` made of ``exercise`` (what unlocks its hints)."""
        if lesson is None or exercise is None:
            return 0
        row = self.db.execute(
            "SELECT COUNT(*) FROM calls WHERE learner = ? AND lesson = ? AND exercise = ? "
            "AND kind = 'check' AND outcome = 'answered'",
            (learner, lesson, exercise),
        ).fetchone()
        return int(row[0])

    def attempt_owners(self) -> dict[int, tuple[str, str | None, str | None]]:
        """``attempt_id -> (learner, lesson, exercise)`` for every attributed ledger row."""
        rows = self.db.execute(
            "SELECT attempt_id, learner, lesson, exercise FROM call_attempts"
        ).fetchall()
        return {row[0]: (row[1], row[2], row[3]) for row in rows}


def _row(row: Any) -> CallRow:
    values = list(row)
    if values[10] is not None:
        values[10] = bool(values[10])
    return CallRow(*values)
