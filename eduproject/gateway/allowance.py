"""Per-learner allowances on the server: the tutor's refilling token bucket, in SQLite.

The same rule as :class:`eduproject.tutor.quota.Quota` (``allowance`` questions, one more
every ``refill_seconds``), but each take is ONE conditional ``UPDATE``: however many requests
of one learner arrive at once, and however many server processes share the file, no more
than the allowance is ever handed out::

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

# The bucket refilled to now, capped at the allowance (a clock set back never drains it).
_REFILLED = "MIN(:cap, tokens + MAX(0.0, :now - updated) / :refill)"


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

    def _args(self, learner: str) -> dict[str, object]:
        return {
            "learner": learner,
            "cap": float(self.allowance),
            "now": self.clock(),
            "refill": self.refill_seconds,
        }

    def take(self, learner: str) -> Taken:
        """Use one question of ``learner`` if one is left (atomically)."""
        args = self._args(learner)
        with self.db.lock:
            conn = self.db.conn
            conn.execute(
                "INSERT INTO allowance (learner, tokens, updated) VALUES (:learner, :cap, :now) "
                "ON CONFLICT (learner) DO NOTHING",
                args,
            )
            row = conn.execute(
                f"UPDATE allowance SET tokens = {_REFILLED} - 1, updated = :now "
                f"WHERE learner = :learner AND {_REFILLED} >= 1 RETURNING tokens",
                args,
            ).fetchone()
            if row is not None:
                return Taken(True, int(row[0]))
            tokens = conn.execute(
                f"SELECT {_REFILLED} FROM allowance WHERE learner = :learner", args
            ).fetchone()[0]
        wait = max(0.0, (1 - tokens) * self.refill_seconds)
        return Taken(
            False,
            0,
            retry_in_s=wait,
            # The words of the in-kernel tutor, so the learner sees the same message.
            message=f"You have used your {self.allowance} questions; one more in {format_wait(wait)}.",
        )

    def refund(self, learner: str) -> None:
        """Give back a question the model never answered."""
        with self.db.lock:
            self.db.conn.execute(
                f"UPDATE allowance SET tokens = MIN(:cap, {_REFILLED} + 1), updated = :now "
                "WHERE learner = :learner",
                self._args(learner),
            )

    def remaining(self, learner: str) -> int:
        with self.db.lock:
            row = self.db.conn.execute(
                f"SELECT {_REFILLED} FROM allowance WHERE learner = :learner",
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

    def refund(self, learner: str = "local") -> None:
        if not self.refunded:
            self.refunded = True
            self.bucket.refund(self.learner)

    def remaining(self, learner: str = "local") -> int:
        return self.bucket.remaining(self.learner)

    def settle(self) -> None:
        """After the call: return the question if the Tutor never used it."""
        if not self.used:
            self.refund()
