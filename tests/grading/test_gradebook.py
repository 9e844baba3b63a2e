"""The SQLite gradebook: round trip, latest-result rule, idempotent record, runs, errors."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from eduproject.core.results import Status
from eduproject.errors import GradebookError
from eduproject.grading.gradebook import SCHEMA_VERSION, Gradebook

from .gradebook_samples import L1, L2, V1, make_class, notebook, numbered, submission


def _fill(path: Path) -> Gradebook:
    gb = Gradebook(path)
    run = gb.start_run(L1, V1, {"workers": 2})
    for r in make_class():
        gb.record(r, run)
    gb.finish_run(run)
    return gb


def test_round_trip_keeps_every_field(tmp_path: Path) -> None:
    with _fill(tmp_path / "gb.sqlite") as gb:
        got = {(r.learner, r.lesson): r for r in gb.results()}
    want = {(r.learner, r.lesson): replace(r, executed_notebook=None) for r in make_class()}
    assert got == want
    statuses = {r.status for r in got.values()}
    # The sample class covers every status a submission can have (`pending` is a manual
    # exercise's, until a person grades it: tests/grading/test_manual.py).
    assert statuses == set(Status) - {Status.PENDING}


def test_results_are_sorted_and_filtered_by_lesson(tmp_path: Path) -> None:
    with _fill(tmp_path / "gb.sqlite") as gb:
        keys = [(r.lesson, r.learner) for r in gb.results()]
        assert keys == sorted(keys)
        assert [r.learner for r in gb.results(L2)] == ["ada", "bob"]
        assert list(gb.results("no-such-lesson")) == []
        assert gb.lessons() == [L1, L2]


def test_notebooks_load_on_request_only(tmp_path: Path) -> None:
    with _fill(tmp_path / "gb.sqlite") as gb:
        assert all(r.executed_notebook is None for r in gb.results())
        with_nb = {r.learner: r.executed_notebook for r in gb.results(L1, with_notebooks=True)}
        assert with_nb["ada"] == notebook()
        assert with_nb["bob"] == notebook(hostile=True)
        assert with_nb["cy"] is None
        assert gb.executed_notebook("ada", L1) == notebook()
        assert gb.executed_notebook("ada", L2) is None
        assert gb.executed_notebook("nobody", L1) is None


def test_notebooks_are_stored_compressed(tmp_path: Path) -> None:
    path = tmp_path / "gb.sqlite"
    _fill(path).close()
    with sqlite3.connect(path) as db:
        (size,) = db.execute("SELECT SUM(LENGTH(data)) FROM notebooks").fetchone()
    plain = len(str(notebook()).encode()) + len(str(notebook(hostile=True)).encode())
    assert 0 < size < plain


def test_recording_again_replaces_never_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "gb.sqlite"
    with _fill(path) as gb:
        run2 = gb.start_run(L1, V1, {})
        better = replace(make_class()[1], duration_s=9.0)  # bob, same hash and version
        gb.record(better, run2)
        gb.record(better, run2)
        bobs = [r for r in gb.results(L1) if r.learner == "bob"]
        assert len(bobs) == 1 and bobs[0].duration_s == 9.0
        assert [(r.id, r.submissions) for r in gb.runs()] == [(1, 8), (2, 1)]
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT COUNT(*) FROM submissions WHERE learner = 'bob'").fetchone()
        (tests,) = db.execute("SELECT COUNT(*) FROM tests").fetchone()
    assert rows == (2,)  # bob in L1 once, bob in L2 once
    assert tests == sum(len(e.tests) for r in make_class() for e in r.exercises)


def test_latest_result_wins_across_hashes_and_versions(tmp_path: Path) -> None:
    with _fill(tmp_path / "gb.sqlite") as gb:
        run = gb.start_run(L1, "v9", {})
        first = make_class()[0]
        newer = replace(first, submission_hash="sha-new", exercises=first.exercises[:1])
        gb.record(newer, run)
        regraded = replace(first, lesson_version="v9", exercises=())
        gb.record(regraded, run)
        ada = [r for r in gb.results(L1) if r.learner == "ada"]
        assert ada == [replace(regraded, executed_notebook=None)]
        assert gb.already_graded("ada", L1, first.submission_hash, V1)
        assert gb.already_graded("ada", L1, "sha-new", V1)
        assert gb.already_graded("ada", L1, first.submission_hash, "v9")
        assert not gb.already_graded("ada", L1, "sha-new", "v9")
        assert not gb.already_graded("ada", L2, first.submission_hash, V1)


def test_runs_keep_lesson_options_and_status(tmp_path: Path) -> None:
    with Gradebook(tmp_path / "gb.sqlite") as gb:
        a = gb.start_run(L1, V1, {"workers": 2, "db": tmp_path})  # a Path becomes text
        b = gb.start_run(L2, "v2", {"dask": "local:2"})
        gb.record(numbered(1), a)
        gb.finish_run(b, status="failed")
        runs = gb.runs()
    assert [(r.id, r.lesson, r.status, r.submissions) for r in runs] == [
        (a, L1, "running", 1),
        (b, L2, "failed", 0),
    ]
    assert runs[0].options == {"workers": 2, "db": str(tmp_path)}
    assert runs[0].finished_at is None and runs[1].finished_at is not None
    assert runs[0].started_at <= runs[1].started_at


def test_reopening_keeps_everything(tmp_path: Path) -> None:
    path = tmp_path / "gb.sqlite"
    _fill(path).close()
    with Gradebook(path, create=False) as gb:
        assert len(list(gb.results())) == len(make_class())
        run = gb.start_run(L1, V1, {})
        assert run == 2
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_missing_file_is_an_error_when_not_creating(tmp_path: Path) -> None:
    with pytest.raises(GradebookError, match="no gradebook here") as info:
        Gradebook(tmp_path / "missing.sqlite", create=False)
    assert "eduproject grade" in str(info.value)
    assert not (tmp_path / "missing.sqlite").exists()


def test_a_file_that_is_not_sqlite_is_refused(tmp_path: Path) -> None:
    bogus = tmp_path / "grades.csv"
    bogus.write_text("learner,lesson\n" * 100)
    with pytest.raises(GradebookError, match="not a usable gradebook"):
        Gradebook(bogus, create=False)
    assert bogus.read_text() == "learner,lesson\n" * 100


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "gb.sqlite"
    Gradebook(path).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    with pytest.raises(GradebookError, match="newer eduproject"):
        Gradebook(path)


def test_recording_into_an_unknown_run_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    with Gradebook(tmp_path / "gb.sqlite") as gb:
        with pytest.raises(GradebookError, match="no run 42"):
            gb.record(numbered(3), 42)
        with pytest.raises(GradebookError, match="no run with id 7"):
            gb.finish_run(7)
        assert list(gb.results()) == []


def test_a_failed_record_rolls_back_the_whole_submission(tmp_path: Path) -> None:
    """A test row that cannot be written takes the submission and exercise rows with it."""
    path = tmp_path / "gb.sqlite"
    with Gradebook(path) as gb:
        run = gb.start_run(L1, V1, {})
        good = numbered(1)
        gb.record(good, run)
        # A trigger stands in for the disk failing half-way through the fourth exercise.
        with sqlite3.connect(path) as db:
            db.execute("CREATE TRIGGER boom BEFORE INSERT ON tests WHEN NEW.exercise_position = 3"
                       " BEGIN SELECT RAISE(ABORT, 'disk trouble'); END")  # fmt: skip
        longer = replace(good, exercises=good.exercises + good.exercises)
        with pytest.raises(GradebookError, match="disk trouble") as info:
            gb.record(longer, run)
        assert "rerunning" in str(info.value)
        # The earlier copy of this submission is still there, whole.
        [kept] = list(gb.results())
        assert kept == replace(good, executed_notebook=None)
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT COUNT(*) FROM exercises").fetchone() == (2,)


def test_closed_gradebook_says_so(tmp_path: Path) -> None:
    gb = Gradebook(tmp_path / "gb.sqlite")
    gb.close()
    gb.close()  # idempotent
    with pytest.raises(GradebookError, match="closed"):
        gb.lessons()


def test_learner_names_are_data_not_sql(tmp_path: Path) -> None:
    with Gradebook(tmp_path / "gb.sqlite") as gb:
        run = gb.start_run(L1, V1, {})
        odd = submission("x'); DROP TABLE submissions; --", L1, numbered(1).exercises)
        gb.record(odd, run)
        assert [r.learner for r in gb.results()] == [odd.learner]
