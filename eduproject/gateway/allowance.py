"""Per-learner allowances on the server: the tutor's refilling token bucket, in SQL.

The same rule as :class:`eduproject.tutor.quota.Quota` (``allowance`` questions, one more
every ``refill_seconds``), but each take is ONE conditional ``UPDATE``: however many requests
of one learner arrive at once, and however many server processes or hosts share the
database (SQLite file or PostgreSQL), no more than the allowance is ever handed out::

    bucket = Allowance(db, allowance=10, refill_seconds=180)
    taken = bucket.take("ada")
    taken.ok, taken.remaining, taken.retry_in_s     # (True, 9, None)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from eduproject.errors import QuotaExceeded
from eduproject.gateway.db import Database
from eduproject.tutor.quota import Quota, format_wait

LEAK_REFUNDS_PER_DAY = 3
# The bucket refilled to now, capped at the allowance (a clock set back never drains it).
_REFILLED = {
    "sqlite": "MIN(:cap, tokens + MAX(0.0, :now - updated) / :refill)",
    "postgresql": "LEAST(:cap, tokens + GREATEST(0.0, :now - updated) / :refill)",
}


@dataclass(frozen=True)
class Taken:
    """The outcome of one take: ``retry_in_s`` says when the next question comes back."""

    ok: bool
    remaining: int
    retry_in_s: float | None = None
    message: str = ""


class Allowance:
    """The allowance table of the gateway database (``clock`` is injectable for tests)."""

    def __init__(
        self,
        db: Database,
        *,
        allowance: int,
        refill_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.allowance = allowance
        self.refill_seconds = float(refill_seconds)
        self.clock = clock

    @property
    def _refilled(self) -> str:
        return _REFILLED[self.db.dialect]

    def _args(self, learner: str) -> dict[str, object]:
        return {
            "learner": learner,
            "cap": float(self.allowance),
            "now": self.clock(),
            "refill": self.refill_seconds,
        }

    def take(self, learner: str) -> Taken:
        """Use one question of ``learner`` if one is left (atomically)."""
        args, refilled = self._args(learner), self._refilled
        with self.db.lock:
            self.db.execute(
                "INSERT INTO allowance (learner, tokens, updated) VALUES (:learner, :cap, :now) "
                "ON CONFLICT (learner) DO NOTHING",
                args,
            )
            # On PostgreSQL a concurrent UPDATE of the same row (another host) waits, then
            # re-checks the WHERE against the new row: the take stays atomic across hosts.
            rows = self.db.execute(
                f"UPDATE allowance SET tokens = {refilled} - 1, updated = :now "
                f"WHERE learner = :learner AND {refilled} >= 1 RETURNING tokens",
                args,
            ).fetchall()
            if rows:
                return Taken(True, int(rows[0][0]))
            tokens = self.db.execute(
                f"SELECT {refilled} FROM allowance WHERE learner = :learner", args
            ).fetchone()[0]
        wait = max(0.0, (1 - tokens) * self.refill_seconds)
        return Taken(
            False,
            0,
            retry_in_s=wait,
            # The words of the in-kernel tutor, so the learner sees the same message.
            message=f"You have used your {self.allowance} questions; one more in {format_wait(wait)}.",
        )

    def refund(self, learner: str, *, leak: bool = False) -> bool:
        """Give back a question the model never answered; True when it was given back.

        ``leak``: every reply was rejected for code that passes the exercise's tests. Such
        questions come back only :data:`LEAK_REFUNDS_PER_DAY` times a day per learner: a
        question that fishes for the solution (or probes the test-run check) is not free.
        """
        if leak and not self._leak_refund_left(learner):
            return False
        least = "MIN" if self.db.dialect == "sqlite" else "LEAST"
        self.db.execute(
            f"UPDATE allowance SET tokens = {least}(:cap, {self._refilled} + 1), updated = :now "
            "WHERE learner = :learner",
            self._args(learner),
        )
        return True

    def _leak_refund_left(self, learner: str) -> bool:
        """Count one leak refund of ``learner`` today (atomically); False past the daily cap."""
        day = int(self.clock() // 86400)
        args = {"learner": learner, "day": day, "cap": LEAK_REFUNDS_PER_DAY}
        with self.db.transaction():
            self.db.execute(
                "INSERT INTO leak_refunds (learner, day, n) VALUES (:learner, :day, 0) "
                "ON CONFLICT (learner) DO NOTHING",
                args,
            )
            self.db.execute(
                "UPDATE leak_refunds SET n = 0, day = :day WHERE learner = :learner AND day <> :day",
                args,
            )
            row = self.db.execute(
                "UPDATE leak_refunds SET n = n + 1 WHERE learner = :learner AND n < :cap "
                "RETURNING n",
                args,
            ).fetchone()
        return row is not None

    def remaining(self, learner: str) -> int:
        row = self.db.execute(
            f"SELECT {self._refilled} FROM allowance WHERE learner = :learner",
            self._args(learner),
        ).fetchone()
        return self.allowance if row is None else math.floor(row[0] + 1e-9)


class Ticket(Quota):
    """The quota a server-side Tutor sees for one call whose question is already paid for.

    The gateway takes the question before the reply starts (an HTTP status cannot change
    after that); the Tutor's own ``consume`` then only notes that the model was used, and its
    ``refund`` (model unreachable, every answer rejected) gives the question back.
    :meth:`settle` refunds a question the Tutor never used (no model route for the task).
    """

    def __init__(self, bucket: Allowance, learner: str, left: int, max_input_chars: int) -> None:
        super().__init__(
            allowance=bucket.allowance,
            refill_seconds=bucket.refill_seconds,
            max_input_chars=max_input_chars,
        )
        self.bucket = bucket
        self.learner = learner
        self.left = left
        self.used = False
        self.refunded = False

    def consume(self, learner: str = "local") -> int:
        if self.used:
            # A second model use within one call is never expected; refuse rather than
            # hand out a question nobody paid for.
            raise QuotaExceeded("This question was already answered.", retry_in_s=None)
        self.used = True
        return self.left

    def refund(self, learner: str = "local", *, leak: bool = False) -> None:
        if not self.refunded:
            self.refunded = True
            self.bucket.refund(self.learner, leak=leak)

    def remaining(self, learner: str = "local") -> int:
        return self.bucket.remaining(self.learner)

    def settle(self) -> None:
        """After the call: return the question if the Tutor never used it."""
        if not self.used:
            self.refund()
