"""The gradebook across real processes: concurrent writers, and ``kill -9`` in mid-run."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from eduproject.grading.gradebook import Gradebook

from .gradebook_samples import L1, V1, numbered

HERE = Path(__file__).parent

# A grader-like writer: opens the gradebook, waits for the start signal, records
# submissions FIRST..LAST (skipping those already graded, as a rerun does) and reports
# each one on stdout.
WRITER = """
import sys, time
from pathlib import Path
sys.path.insert(0, {here!r})
from gradebook_samples import numbered
from eduproject.grading.gradebook import Gradebook

db, first, last, go, big = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4]), sys.argv[5] == "big"
with Gradebook(db) as gb:
    run = gb.start_run("01-functions", {v1!r}, {{"writer": first}})
    while not go.exists():
        time.sleep(0.005)
    for i in range(first, last):
        r = numbered(i, big_notebook=big)
        if gb.already_graded(r.learner, r.lesson, r.submission_hash, r.lesson_version):
            continue
        gb.record(r, run)
        print(i, flush=True)
    gb.finish_run(run)
"""


def _writer(tmp_path: Path, db: Path, first: int, last: int, big: bool) -> subprocess.Popen[str]:
    script = tmp_path / "writer.py"
    script.write_text(WRITER.format(here=str(HERE), v1=V1))
    return subprocess.Popen(
        [sys.executable, str(script), str(db), str(first), str(last), str(tmp_path / "go"),
         "big" if big else "small"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip


def _assert_complete(db: Path, expected: range) -> None:
    """Every expected submission is there exactly once, with all its rows."""
    with sqlite3.connect(db) as con:
        learners = [r[0] for r in con.execute("SELECT learner FROM submissions ORDER BY learner")]
        orphans = con.execute(
            "SELECT COUNT(*) FROM exercises WHERE submission_id NOT IN (SELECT id FROM submissions)"
        ).fetchone()
    assert learners == [f"learner{i:03d}" for i in expected]
    assert orphans == (0,)
    with Gradebook(db) as gb:
        got = {r.learner: r for r in gb.results(L1, with_notebooks=True)}
    for i in expected:
        want = numbered(i, big_notebook=True)
        r = got[want.learner]
        assert r.exercises == want.exercises
        assert r.executed_notebook is not None
        assert len(r.executed_notebook["cells"]) == len(want.executed_notebook["cells"])


@pytest.mark.slow
def test_two_processes_write_at_once_without_loss_or_duplicates(tmp_path: Path) -> None:
    db = tmp_path / "gb.sqlite"
    # Overlapping ranges: both processes record 20..39, as two graders started on the
    # same folder would.
    a = _writer(tmp_path, db, 0, 40, big=True)
    b = _writer(tmp_path, db, 20, 60, big=True)
    time.sleep(0.5)  # both have opened the (new) file and started their run
    (tmp_path / "go").touch()
    for p in (a, b):
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    _assert_complete(db, range(60))
    with Gradebook(db) as gb:
        runs = gb.runs()
    assert len(runs) == 2 and {r.status for r in runs} == {"finished"}


@pytest.mark.slow
def test_kill_9_mid_run_then_rerun_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    db = tmp_path / "gb.sqlite"
    (tmp_path / "go").touch()
    victim = _writer(tmp_path, db, 0, 400, big=True)
    assert victim.stdout is not None
    seen = [victim.stdout.readline() for _ in range(25)]
    assert all(line.strip() for line in seen)
    os.kill(victim.pid, signal.SIGKILL)  # most likely inside a write transaction
    victim.communicate(timeout=30)  # reaps it and closes its pipes
    assert victim.returncode == -signal.SIGKILL

    with Gradebook(db) as gb:
        survived = len(list(gb.results()))
        assert 25 <= survived < 400
        assert [r.status for r in gb.runs()] == ["running"]
    _assert_complete(db, range(survived))

    rerun = _writer(tmp_path, db, 0, 400, big=True)
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    regraded = [int(x) for x in out.split()]
    assert regraded == list(range(survived, 400))  # graded ones were skipped
    _assert_complete(db, range(400))
    with Gradebook(db) as gb:
        assert [r.status for r in gb.runs()] == ["running", "finished"]


# Stops inside record()'s transaction -- after the submission and exercise rows are
# written, before the test rows -- and waits there to be killed.
PAUSED_WRITER = """
import sys, time
from pathlib import Path
sys.path.insert(0, {here!r})
from gradebook_samples import numbered
from eduproject.grading.gradebook import Gradebook

def pause():
    print("inside", flush=True)
    time.sleep(600)

with Gradebook(Path(sys.argv[1])) as gb:
    gb._db.create_function("pause", 0, pause)
    gb._db.execute("CREATE TEMP TRIGGER stop BEFORE INSERT ON tests BEGIN SELECT pause(); END")
    gb.record(numbered(1, big_notebook=True), gb.start_run("01-functions", "v", {{}}))
"""


def test_kill_9_inside_the_write_transaction_leaves_no_partial_submission(
    tmp_path: Path,
) -> None:
    db = tmp_path / "gb.sqlite"
    with Gradebook(db) as gb:
        gb.record(numbered(0), gb.start_run(L1, V1, {}))
    script = tmp_path / "paused.py"
    script.write_text(PAUSED_WRITER.format(here=str(HERE)))
    with subprocess.Popen(
        [sys.executable, str(script), str(db)], stdout=subprocess.PIPE, text=True
    ) as victim:
        assert victim.stdout is not None
        assert victim.stdout.readline().strip() == "inside"
        os.kill(victim.pid, signal.SIGKILL)
        victim.communicate(timeout=30)
    with sqlite3.connect(db) as con:
        counts = [
            con.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            for table in ("submissions", "exercises", "tests", "notebooks")
        ]
    want = numbered(0)
    assert counts == [1, 2, sum(len(e.tests) for e in want.exercises), 1]
    with Gradebook(db) as gb:
        assert [r.learner for r in gb.results()] == [want.learner]
        assert len(gb.runs()) == 2  # the killed run was opened, and stays "running"
