"""Opening an SQLite file the one way eduproject does.

Every SQLite file eduproject writes (the gradebook, the ledger, the response cache, the
gateway's tables) is shared between threads and processes: WAL journal so that readers do
not block the writer, a busy timeout so that a second writer waits its turn instead of
failing with "database is locked", and autocommit (``isolation_level=None``) so that the
caller's ``BEGIN IMMEDIATE ... COMMIT`` is the only transaction::

    conn = open_sqlite(Path("gradebook.sqlite"), timeout_s=60, synchronous="FULL")
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Literal

__all__ = ["open_sqlite"]


def open_sqlite(
    path: Path,
    *,
    timeout_s: float,
    synchronous: Literal["NORMAL", "FULL"] = "NORMAL",
    foreign_keys: bool = False,
) -> sqlite3.Connection:
    """A connection to ``path`` usable from any thread (callers hold their own lock).

    ``synchronous="FULL"`` makes a commit survive power loss too (one fsync per commit).
    Opening a file that cannot be opened raises ``sqlite3.OperationalError``; a file that is
    not an SQLite database raises ``sqlite3.DatabaseError``.
    """
    conn = sqlite3.connect(path, timeout=timeout_s, check_same_thread=False, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(f"PRAGMA synchronous = {synchronous}")
        if foreign_keys:
            conn.execute("PRAGMA foreign_keys = ON")
    except BaseException:
        conn.close()
        raise
    return conn
