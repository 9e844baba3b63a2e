"""The gateway's own SQLite file (tokens, allowances, calls), opened the same safe way everywhere.

WAL mode lets ``eduproject tokens issue`` add learners while ``eduproject serve`` runs; the
busy timeout makes one writer wait for the other instead of failing. One connection per
object, shared between threads under a lock (the server calls from its event loop and its
tutor worker threads).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from pathlib import Path

from eduproject.errors import ConfigError

SCHEMA = """
CREATE TABLE IF NOT EXISTS tokens (
    hash TEXT PRIMARY KEY,            -- sha256 hex of the token; the token itself is never stored
    name TEXT NOT NULL,               -- learner id (JupyterHub user name) or admin name
    role TEXT NOT NULL CHECK (role IN ('learner', 'admin')),
    created REAL NOT NULL,
    revoked REAL
);
CREATE INDEX IF NOT EXISTS tokens_name ON tokens (name);
CREATE TABLE IF NOT EXISTS allowance (
    learner TEXT PRIMARY KEY,
    tokens REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS calls (
    id TEXT PRIMARY KEY,
    ts REAL NOT NULL,
    learner TEXT NOT NULL,
    lesson TEXT,
    exercise TEXT,
    kind TEXT NOT NULL,
    outcome TEXT NOT NULL,            -- answered | quota | failed | cancelled
    source TEXT,                      -- model | instructor | offline (answered calls)
    latency_s REAL
);
CREATE INDEX IF NOT EXISTS calls_learner ON calls (learner);
-- One row per model attempt (ledger row) a call caused: who and which exercise, so the
-- ledger's costs and latencies can be attributed without learner names in any prompt.
CREATE TABLE IF NOT EXISTS call_attempts (
    attempt_id INTEGER PRIMARY KEY,
    call_id TEXT NOT NULL,
    learner TEXT NOT NULL,
    lesson TEXT,
    exercise TEXT
);
CREATE INDEX IF NOT EXISTS call_attempts_learner ON call_attempts (learner);
"""


class Database:
    """One connection to the gateway file; use ``with db.lock:`` around statements."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(
                self.path, timeout=10.0, check_same_thread=False, isolation_level=None
            )
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(
                f"cannot open the gateway database {self.path}: {exc}",
                hint="choose a writable file with --db (or [gateway] db in eduproject.toml)",
            ) from None
        with contextlib.suppress(OSError):
            # Token hashes are not secrets, but who has a token is nobody else's business.
            self.path.chmod(0o600)
        self.lock = threading.Lock()

    def close(self) -> None:
        with self.lock:
            self.conn.close()
