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
import time
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
        _use_wal(conn, time.monotonic() + timeout_s)
        conn.execute(f"PRAGMA synchronous = {synchronous}")
        if foreign_keys:
            conn.execute("PRAGMA foreign_keys = ON")
    except BaseException:
        conn.close()
        raise
    return conn


def _use_wal(conn: sqlite3.Connection, deadline: float) -> None:
    """Switch to WAL, waiting for other processes that are opening the same new file.

    Changing the journal mode needs the file to itself, and SQLite answers "database is
    locked" at once, without its busy handler, while another process creates or switches the
    same file (two graders opening one new gradebook): try again until ``deadline``.
    """
    while True:
        try:
            if str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)
