"""Response cache (SQLite, or PostgreSQL for a gateway on several hosts): the same route, model, prompt and parameters, the same answer.

Keyed by a SHA-256 of exactly what was sent (route, model, rendered prompt, generation
parameters); entries expire after ``ttl_s``. Only well-formed, complete answers are
stored. Requests opt out with ``ModelRequest(use_cache=False)``, routes with
``cache = false``, everything with ``[cache] enabled = false``::

    cache = ResponseCache(Path("responses.sqlite3"), ttl_s=3600)
    key = cache_key("sc2", "bigcode/starcoder2-3b", rendered, params)
    cache.get(key)          # None, or a CachedAnswer
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from eduproject.core.storage import open_store
from eduproject.models.families import RenderedPrompt
from eduproject.models.providers.base import GenerationParams

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    route TEXT NOT NULL,
    model TEXT NOT NULL,
    created REAL NOT NULL,
    expires REAL NOT NULL,
    text TEXT NOT NULL,
    finish_reason TEXT,
    prompt_tokens INTEGER,
    completion_tokens INTEGER
);
CREATE INDEX IF NOT EXISTS responses_expires ON responses (expires);
"""


@dataclass(frozen=True)
class CachedAnswer:
    text: str
    model: str
    finish_reason: str | None
    prompt_tokens: int | None
    completion_tokens: int | None


def cache_key(route: str, model: str, rendered: RenderedPrompt, params: GenerationParams) -> str:
    payload = [
        route,
        model,
        rendered.prompt,
        rendered.message_dicts() if rendered.messages is not None else None,
        asdict(params),
    ]
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode("utf-8")).hexdigest()


class ResponseCache:
    """A TTL cache of answers in one SQLite file, safe across processes (or in PostgreSQL
    when ``path`` is a ``postgresql://`` URL)."""

    def __init__(self, path: Path | str, *, ttl_s: float) -> None:
        self.path = path
        self.ttl_s = ttl_s
        self._db = open_store(
            path,
            _SCHEMA,
            hint="choose a writable place ([cache] path, or EDUPROJECT_CACHE), or a reachable "
            "[gateway] database URL",
        )
        self._lock = self._db.lock
        self._purge()

    def get(self, key: str) -> CachedAnswer | None:
        with self._lock:
            row = self._db.execute(
                "SELECT text, model, finish_reason, prompt_tokens, completion_tokens "
                "FROM responses WHERE key = ? AND expires > ?",
                (key, time.time()),
            ).fetchone()
        return CachedAnswer(*row) if row else None

    def put(self, key: str, route: str, answer: CachedAnswer) -> None:
        now = time.time()
        with self._lock:
            self._db.execute(
                "INSERT INTO responses VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO "
                "UPDATE SET route = excluded.route, model = excluded.model, "
                "created = excluded.created, expires = excluded.expires, text = excluded.text, "
                "finish_reason = excluded.finish_reason, prompt_tokens = excluded.prompt_tokens, "
                "completion_tokens = excluded.completion_tokens",
                (
                    key,
                    route,
                    answer.model,
                    now,
                    now + self.ttl_s,
                    answer.text,
                    answer.finish_reason,
                    answer.prompt_tokens,
                    answer.completion_tokens,
                ),
            )

    def delete(self, key: str) -> None:
        """Forget one answer (a learner said it did not help: the next ask gets a new one)."""
        with self._lock:
            self._db.execute("DELETE FROM responses WHERE key = ?", (key,))

    def clear(self) -> None:
        with self._lock:
            self._db.execute("DELETE FROM responses")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _purge(self) -> None:
        with self._lock:
            self._db.execute("DELETE FROM responses WHERE expires <= ?", (time.time(),))
