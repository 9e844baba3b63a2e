"""The gateway's own tables (tokens, allowances, calls), in an SQLite file or on PostgreSQL.

SQLite (WAL mode) lets ``eduproject tokens issue`` add learners while ``eduproject serve``
runs, and the processes of one host share the file. With ``[gateway] database =
"postgresql://..."`` every gateway host behind a load balancer shares the same tables. One
connection per object, shared between threads under a lock (the server calls from its event
loop and its tutor worker threads).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eduproject.core.storage import Rows, is_database_url, open_store

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
-- Questions given back because every reply leaked code that passes the tests: a few a day
-- are free; after that a learner who keeps fishing for the solution pays for each try.
CREATE TABLE IF NOT EXISTS leak_refunds (
    learner TEXT PRIMARY KEY,
    day INTEGER NOT NULL,
    n INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS calls (
    id TEXT PRIMARY KEY,
    ts REAL NOT NULL,
    learner TEXT NOT NULL,
    lesson TEXT,
    exercise TEXT,
    kind TEXT NOT NULL,               -- hint | explain | explain-error | ask | check | complete
    outcome TEXT NOT NULL,            -- answered | quota | policy | failed | cancelled
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


# Columns of ``calls`` added after its first release: (name, type), added to older databases.
CALL_COLUMNS = (
    ("level", "INTEGER"),  # hint level asked for
    ("passed", "INTEGER"),  # check: 1 when every visible test passed, else 0
    ("attempt_id", "INTEGER"),  # the ledger row of the answer shown (or the completion)
    ("flag", "TEXT"),  # "leak": the leak guard rejected the model's answer
    ("question", "TEXT"),  # an Ask the leak guard rejected (for the instructor's page)
)


class Database:
    """The gateway's tables on a :class:`~eduproject.core.storage.Store`: an SQLite file (the
    default) or a PostgreSQL URL shared by several gateway hosts.

    ``execute`` runs one statement, ``transaction()`` several at once; ``with db.lock:`` keeps
    a read and what depends on it together.
    """

    def __init__(self, target: Path | str) -> None:
        self.path = target if is_database_url(target) else Path(target)
        self.store = open_store(
            self.path,
            SCHEMA,
            hint="choose a writable file with --db (or [gateway] db in eduproject.toml), or a "
            "reachable [gateway] database URL",
        )
        self.dialect = self.store.dialect
        self.where = self.store.where
        self.lock = self.store.lock
        self._add_call_columns()
        if isinstance(self.path, Path):
            with contextlib.suppress(OSError):
                # Token hashes are not secrets, but who has a token is nobody else's business.
                self.path.chmod(0o600)

    def _add_call_columns(self) -> None:
        """Bring a ``calls`` table made by an older eduproject up to date (idempotent, and
        safe when several gateway processes start at once)."""
        with self.lock:
            if self.dialect == "postgresql":
                for name, kind in CALL_COLUMNS:
                    pg_kind = "BIGINT" if kind == "INTEGER" else kind
                    self.store.execute(
                        f"ALTER TABLE calls ADD COLUMN IF NOT EXISTS {name} {pg_kind}"
                    )
            else:
                have = {row[1] for row in self.store.execute("PRAGMA table_info(calls)").fetchall()}
                for name, kind in CALL_COLUMNS:
                    if name in have:
                        continue
                    try:
                        self.store.execute(f"ALTER TABLE calls ADD COLUMN {name} {kind}")
                    except sqlite3.OperationalError as exc:
                        if "duplicate column" not in str(exc):  # another process was first
                            raise
            self.store.execute(
                "CREATE INDEX IF NOT EXISTS calls_exercise ON calls (learner, lesson, exercise, kind)"
            )

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Rows:
        return self.store.execute(sql, params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.store.executemany(sql, rows)

    def transaction(self) -> contextlib.AbstractContextManager[None]:
        return self.store.transaction()

    def close(self) -> None:
        self.store.close()
