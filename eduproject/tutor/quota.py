"""A refilling allowance of model questions per learner, and a cap on what they type.

A token bucket in the style of CS50's duck: ``allowance`` questions, one more every
``refill_seconds``, persisted per learner in a small JSON file (in the kernel:
``~/.eduproject/quota.json``) so a restarted kernel does not reset it::

    quota = Quota(allowance=10, refill_seconds=180, store=default_store())
    quota.check_input(question)     # TutorError when longer than max_input_chars
    quota.consume("ada")            # QuotaExceeded: "You have used your 10 questions; ..."
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eduproject.errors import QuotaExceeded, TutorError


def default_store() -> Path:
    """``~/.eduproject/quota.json`` of the kernel's user (read when called, not at import)."""
    return Path.home() / ".eduproject" / "quota.json"


def format_wait(seconds: float) -> str:
    """'2 min 40 s', '45 s', '1 h 5 min' -- rounded up, never '0 s'.

    >>> format_wait(160.2)
    '2 min 41 s'
    """
    total = max(1, math.ceil(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"


@dataclass
class _Bucket:
    tokens: float
    updated: float


class Quota:
    """Token bucket per learner: ``allowance`` full, one token back per ``refill_seconds``.

    ``store`` is a JSON file shared by every learner key (None keeps it in memory);
    ``clock`` returns wall-clock seconds (injectable for tests).
    """

    def __init__(
        self,
        allowance: int = 10,
        refill_seconds: float = 180.0,
        max_input_chars: int = 1000,
        store: Path | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if allowance < 1 or refill_seconds <= 0 or max_input_chars < 1:
            raise TutorError(
                f"invalid tutor quota: allowance={allowance}, refill_seconds={refill_seconds}, "
                f"max_input_chars={max_input_chars}",
                hint="in eduproject.toml [tutor], use allowance >= 1, refill_seconds > 0 "
                "and max_input_chars >= 1",
            )
        self.allowance = allowance
        self.refill_seconds = float(refill_seconds)
        self.max_input_chars = max_input_chars
        self.store = Path(store) if store is not None else None
        self.clock = clock
        self._memory: dict[str, _Bucket] = {}
        self._lock = threading.Lock()  # the widget calls from worker threads

    def check_input(self, text: str, what: str = "question") -> None:
        """Raise TutorError when ``text`` is longer than the instructor's cap."""
        if len(text) > self.max_input_chars:
            raise TutorError(
                f"Your {what} is {len(text):,} characters long; the limit is "
                f"{self.max_input_chars:,}. Shorten it to the part you are stuck on and ask again."
            )

    def remaining(self, learner: str = "local") -> int:
        """Whole questions left now."""
        with self._lock:
            return int(self._refilled(self._load().get(learner)).tokens)

    def consume(self, learner: str = "local") -> int:
        """Use one question; returns how many are left. QuotaExceeded when none is."""
        with self._lock:
            buckets = self._load()
            bucket = self._refilled(buckets.get(learner))
            if bucket.tokens < 1:
                wait = (1 - bucket.tokens) * self.refill_seconds
                raise QuotaExceeded(
                    f"You have used your {self.allowance} questions; one more in {format_wait(wait)}.",
                    retry_in_s=wait,
                )
            bucket.tokens -= 1
            buckets[learner] = bucket
            self._save(buckets)
            return int(bucket.tokens)

    def refund(self, learner: str = "local", *, leak: bool = False) -> None:
        """Give back a question the model never answered (unreachable, or all replies rejected).

        ``leak`` (every reply held code that passes the tests) matters only on the gateway, the
        one place that runs the tests: see :meth:`eduproject.gateway.allowance.Allowance.refund`.
        """
        with self._lock:
            buckets = self._load()
            bucket = self._refilled(buckets.get(learner))
            bucket.tokens = min(float(self.allowance), bucket.tokens + 1)
            buckets[learner] = bucket
            self._save(buckets)

    # -- bucket arithmetic and storage ----------------------------------------------------

    def _refilled(self, bucket: _Bucket | None) -> _Bucket:
        now = self.clock()
        if bucket is None:
            return _Bucket(float(self.allowance), now)
        elapsed = max(0.0, now - bucket.updated)  # a clock set back must not drain the bucket
        tokens = min(float(self.allowance), bucket.tokens + elapsed / self.refill_seconds)
        return _Bucket(tokens, now)

    def _load(self) -> dict[str, _Bucket]:
        if self.store is None:
            return dict(self._memory)
        try:
            raw: Any = json.loads(self.store.read_text(encoding="utf-8"))
            return {
                str(k): _Bucket(float(v["tokens"]), float(v["updated"])) for k, v in raw.items()
            }
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            # Missing or damaged: start full rather than lock the learner out.
            return {}

    def _save(self, buckets: dict[str, _Bucket]) -> None:
        if self.store is None:
            self._memory = buckets
            return
        data = {k: {"tokens": round(b.tokens, 6), "updated": b.updated} for k, b in buckets.items()}
        try:
            self.store.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.store.parent, prefix=".quota-", suffix=".json")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh)
            os.replace(tmp, self.store)  # atomic: a crash never leaves half a file
        except OSError:
            # A read-only home must not break the tutor: keep counting in memory.
            self.store = None
            self._memory = buckets
