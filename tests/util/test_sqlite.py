"""The one SQLite opener: WAL, the busy timeout, autocommit, and which error says what."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from eduproject.util.sqlite import open_sqlite


def test_a_new_file_is_in_wal_mode_and_autocommits(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    conn = open_sqlite(path, timeout_s=5, synchronous="FULL", foreign_keys=True)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
        assert conn.execute("PRAGMA foreign_keys").fetchone() == (1,)
        assert conn.execute("PRAGMA busy_timeout").fetchone() == (5000,)
        conn.execute("CREATE TABLE t (a INTEGER)")
        conn.execute("INSERT INTO t VALUES (1)")  # no transaction left open: others see it
        with sqlite3.connect(path) as other:
            assert other.execute("SELECT a FROM t").fetchall() == [(1,)]
    finally:
        conn.close()


def test_the_connection_may_be_used_from_another_thread(tmp_path: Path) -> None:
    conn = open_sqlite(tmp_path / "db.sqlite", timeout_s=5)
    seen: list[object] = []
    worker = threading.Thread(target=lambda: seen.append(conn.execute("SELECT 1").fetchone()))
    worker.start()
    worker.join()
    conn.close()
    assert seen == [(1,)]


def test_a_file_that_is_not_a_database_is_a_database_error(tmp_path: Path) -> None:
    bogus = tmp_path / "grades.csv"
    bogus.write_text("learner,lesson\n" * 100)
    with pytest.raises(sqlite3.DatabaseError) as info:
        open_sqlite(bogus, timeout_s=1)
    assert not isinstance(info.value, sqlite3.OperationalError)
    assert bogus.read_text() == "learner,lesson\n" * 100


def test_a_path_that_cannot_be_opened_is_an_operational_error(tmp_path: Path) -> None:
    with pytest.raises(sqlite3.OperationalError):
        open_sqlite(tmp_path / "no-such-folder" / "db.sqlite", timeout_s=1)
