"""Opening the SQLite files of model access (cache and ledger) the same safe way.

WAL mode lets a notebook kernel, a grading run and ``eduproject ledger`` read and write
the same file at once; the busy timeout makes a writer wait for another instead of
failing. One connection per object, shared between threads under a lock.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from eduproject.errors import ConfigError


def connect(path: Path, schema: str) -> tuple[sqlite3.Connection, threading.Lock]:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, timeout=10.0, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(schema)
    except (OSError, sqlite3.Error) as exc:
        raise ConfigError(
            f"cannot open the database {path}: {exc}",
            hint="choose a writable place ([ledger] path / [cache] path, or "
            "EDUPROJECT_LEDGER / EDUPROJECT_CACHE)",
        ) from None
    return db, threading.Lock()
