"""The SQLite gradebook: every graded submission of every lesson and run, resumable.

One file (stdlib ``sqlite3``, WAL journal) holds runs, submissions, exercise and test
outcomes and the executed notebooks (zlib-compressed JSON). Each submission is written in
ONE transaction and keyed by ``(learner, lesson, submission_hash, lesson_version)``, so a
grader killed with ``kill -9`` leaves only whole submissions behind, and a rerun that
records a submission again replaces it instead of adding a second copy.

    >>> with Gradebook(Path("gradebook.sqlite")) as gb:          # doctest: +SKIP
    ...     run = gb.start_run("01-functions", "ab12", {"workers": 2})
    ...     if not gb.already_graded("ada", "01-functions", "f00d", "ab12"):
    ...         gb.record(result, run)
    ...     gb.finish_run(run)
    ...     for r in gb.results("01-functions"):
    ...         print(r.learner, r.score, r.max_score)
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import zlib
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import Any

from eduproject.core.results import ExerciseResult, Status, SubmissionResult, TestOutcome
from eduproject.errors import GradebookError
from eduproject.util.sqlite import open_sqlite

__all__ = ["SCHEMA_VERSION", "Gradebook", "ManualGrade", "RunInfo"]

SCHEMA_VERSION = 3
# What each schema version adds to the one before (run in order on an older gradebook).
_MANUAL_GRADES = """
CREATE TABLE IF NOT EXISTS manual_grades (
    lesson TEXT NOT NULL,
    learner TEXT NOT NULL,
    exercise TEXT NOT NULL,
    answer_hash TEXT NOT NULL,
    points REAL,
    comment TEXT NOT NULL,
    graded_at REAL NOT NULL,
    PRIMARY KEY (lesson, learner, exercise, answer_hash)
)"""
_MIGRATIONS = {
    2: ["ALTER TABLE tests ADD COLUMN review TEXT NOT NULL DEFAULT ''"],
    3: [
        "ALTER TABLE exercises ADD COLUMN manual INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE exercises ADD COLUMN answer_hash TEXT NOT NULL DEFAULT ''",
        _MANUAL_GRADES,
    ],
}

# Kept in one string so that the whole layout reads at a glance. ``submissions.id`` grows
# monotonically (AUTOINCREMENT), so "latest result" is simply the highest id.
_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    lesson TEXT NOT NULL,
    lesson_version TEXT NOT NULL,
    options TEXT NOT NULL,
    started_at REAL NOT NULL,
    finished_at REAL,
    status TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS submissions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    learner TEXT NOT NULL,
    lesson TEXT NOT NULL,
    lesson_version TEXT NOT NULL,
    submission_hash TEXT NOT NULL,
    run_id INTEGER NOT NULL REFERENCES runs(id),
    path TEXT NOT NULL,
    status TEXT NOT NULL,
    detail TEXT NOT NULL,
    duration_s REAL NOT NULL,
    sandbox TEXT NOT NULL,
    score REAL NOT NULL,
    max_score REAL NOT NULL,
    recorded_at REAL NOT NULL,
    UNIQUE (learner, lesson, submission_hash, lesson_version)
);
CREATE INDEX IF NOT EXISTS submissions_latest ON submissions (lesson, learner, id);
CREATE TABLE IF NOT EXISTS exercises (
    submission_id INTEGER NOT NULL REFERENCES submissions(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    exercise TEXT NOT NULL,
    score REAL NOT NULL,
    max_score REAL NOT NULL,
    status TEXT NOT NULL,
    detail TEXT NOT NULL,
    manual INTEGER NOT NULL DEFAULT 0,
    answer_hash TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (submission_id, position)
);
CREATE TABLE IF NOT EXISTS tests (
    submission_id INTEGER NOT NULL REFERENCES submissions(id) ON DELETE CASCADE,
    exercise_position INTEGER NOT NULL,
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    exercise TEXT NOT NULL,
    points REAL NOT NULL,
    max_points REAL NOT NULL,
    passed INTEGER NOT NULL,
    hidden INTEGER NOT NULL,
    message TEXT NOT NULL,
    review TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (submission_id, exercise_position, position)
);
CREATE TABLE IF NOT EXISTS notebooks (
    submission_id INTEGER PRIMARY KEY REFERENCES submissions(id) ON DELETE CASCADE,
    data BLOB NOT NULL
);
"""
    + _MANUAL_GRADES
    + ";\n"
)

MAX_MESSAGE = 4000  # characters of a test's message kept (a learner value can be huge)
MAX_COMMENT = 4000  # characters of an instructor's comment on a manual answer

_LATEST = """
SELECT MAX(id) AS id FROM submissions {where} GROUP BY learner, lesson
"""


@dataclass(frozen=True)
class RunInfo:
    """One ``eduproject grade`` run as the gradebook saw it.

    ``status`` is "running" until :meth:`Gradebook.finish_run`; a run killed mid-way stays
    "running" (its recorded submissions are whole and count).
    """

    id: int
    lesson: str
    lesson_version: str
    options: dict[str, Any] = field(repr=False)
    started_at: float
    finished_at: float | None
    status: str
    submissions: int


@dataclass(frozen=True)
class ManualGrade:
    """A person's grade of one manual answer: ``points`` None keeps only the comment (the
    answer still waits for its points)."""

    lesson: str
    learner: str
    exercise: str
    answer_hash: str
    points: float | None
    comment: str
    graded_at: float


class Gradebook:
    """A gradebook file; safe to share between threads and processes.

    ``create=False`` refuses to make a new file (the read-only commands use it so that a
    mistyped path is an error, not an empty report).

        >>> with Gradebook(Path("gradebook.sqlite"), create=False) as gb:   # doctest: +SKIP
        ...     print(gb.lessons())
    """

    def __init__(self, path: Path | str, *, create: bool = True) -> None:
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise GradebookError(
                self.path,
                "no gradebook here",
                hint="grade first: `eduproject grade exercises/<lesson> SUBMISSIONS "
                f"--db {self.path}`, or pass the path of an existing gradebook",
            )
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        # Writers serialize with BEGIN IMMEDIATE; the busy timeout makes a second process
        # wait its turn instead of failing with "database is locked".
        self._lock = threading.RLock()
        self._db: sqlite3.Connection | None = None
        unusable = "pass the .sqlite file that `eduproject grade --db` wrote"
        try:
            # FULL: a commit survives power loss too; one fsync per graded submission is
            # noise next to the cost of grading it.
            self._db = open_sqlite(self.path, timeout_s=60.0, synchronous="FULL", foreign_keys=True)
        except sqlite3.OperationalError as exc:
            raise GradebookError(self.path, f"cannot open: {exc}") from exc
        except sqlite3.DatabaseError as exc:  # a file that is not an SQLite database
            raise GradebookError(
                self.path, f"not a usable gradebook ({exc})", hint=unusable
            ) from exc
        try:
            self._setup()
        except sqlite3.DatabaseError as exc:
            self.close()
            raise GradebookError(
                self.path, f"not a usable gradebook ({exc})", hint=unusable
            ) from exc

    def _setup(self) -> None:
        db = self._connection()
        if self._current_schema(db):
            return  # nothing to write: the read-only commands work on read-only copies too
        with self._write():
            fresh = not db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
            ).fetchone()
            if fresh:
                # One statement at a time: executescript() would commit our transaction.
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
            version = db.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]
            if version is None:
                db.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
            elif version < SCHEMA_VERSION:
                for step in range(version + 1, SCHEMA_VERSION + 1):
                    for statement in _MIGRATIONS[step]:
                        db.execute(statement)
                    db.execute("INSERT INTO schema_version (version) VALUES (?)", (step,))
            elif version > SCHEMA_VERSION:
                raise GradebookError(
                    self.path,
                    f"written by a newer eduproject (schema {version}; "
                    f"this one reads {SCHEMA_VERSION})",
                    hint="upgrade eduproject, or grade into a new --db file",
                )

    @staticmethod
    def _current_schema(db: sqlite3.Connection) -> bool:
        try:
            row = db.execute("SELECT MAX(version) FROM schema_version").fetchone()
        except sqlite3.OperationalError:  # no such table: a new file
            return False
        return bool(row[0] == SCHEMA_VERSION)

    # -- plumbing -------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; taken up front so two processes never deadlock."""
        with self._lock:
            db = self._connection()
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """One consistent snapshot across several SELECTs (a writer may be replacing rows)."""
        with self._lock:
            db = self._connection()
            db.execute("BEGIN")
            try:
                yield db
            finally:
                db.execute("COMMIT")

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            raise GradebookError(self.path, "the gradebook is closed")
        return self._db

    def close(self) -> None:
        """Close the file (idempotent)."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def __enter__(self) -> Gradebook:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- runs -----------------------------------------------------------------------------

    def start_run(self, lesson: str, lesson_version: str, options: dict[str, Any]) -> int:
        """Open a run and return its id (pass it to :meth:`record` and :meth:`finish_run`)."""
        text = json.dumps(options, sort_keys=True, default=str)
        with self._write() as db:
            cur = db.execute(
                "INSERT INTO runs (lesson, lesson_version, options, started_at, status)"
                " VALUES (?, ?, ?, ?, 'running')",
                (lesson, lesson_version, text, time.time()),
            )
            assert cur.lastrowid is not None
            return cur.lastrowid

    def finish_run(self, run_id: int, *, status: str = "finished") -> None:
        """Close run ``run_id`` with ``status`` (e.g. "finished", "failed", "interrupted")."""
        with self._write() as db:
            cur = db.execute(
                "UPDATE runs SET finished_at = ?, status = ? WHERE id = ?",
                (time.time(), status, run_id),
            )
            if cur.rowcount != 1:
                raise GradebookError(self.path, f"no run with id {run_id}")

    def runs(self) -> list[RunInfo]:
        """Every run, oldest first, with how many of the kept submissions it graded."""
        with self._read() as db:
            rows = db.execute(
                "SELECT r.id, r.lesson, r.lesson_version, r.options, r.started_at,"
                " r.finished_at, r.status, COUNT(s.id)"
                " FROM runs r LEFT JOIN submissions s ON s.run_id = r.id"
                " GROUP BY r.id ORDER BY r.id"
            ).fetchall()
        return [
            RunInfo(
                id=r[0],
                lesson=r[1],
                lesson_version=r[2],
                options=json.loads(r[3]),
                started_at=r[4],
                finished_at=r[5],
                status=r[6],
                submissions=r[7],
            )
            for r in rows
        ]

    def lessons(self) -> list[str]:
        """The lessons that have at least one recorded submission, sorted."""
        with self._read() as db:
            rows = db.execute("SELECT DISTINCT lesson FROM submissions ORDER BY lesson")
            return [r[0] for r in rows]

    # -- submissions ----------------------------------------------------------------------

    def already_graded(
        self, learner: str, lesson: str, submission_hash: str, lesson_version: str
    ) -> bool:
        """True when exactly this submission was graded against exactly this lesson version."""
        with self._lock:
            row = (
                self._connection()
                .execute(
                    "SELECT 1 FROM submissions WHERE learner = ? AND lesson = ?"
                    " AND submission_hash = ? AND lesson_version = ?",
                    (learner, lesson, submission_hash, lesson_version),
                )
                .fetchone()
            )
        return row is not None

    def record(self, result: SubmissionResult, run_id: int) -> None:
        """Store ``result`` (and its executed notebook) atomically; replaces an earlier copy.

        Replacing deletes the old row (its exercises, tests and notebook go with it) and
        inserts the new one, so the new copy also becomes the learner's latest result.
        """
        notebook = None
        if result.executed_notebook is not None:
            notebook = zlib.compress(json.dumps(result.executed_notebook).encode("utf-8"), 6)
        key = (result.learner, result.lesson, result.submission_hash, result.lesson_version)
        try:
            with self._write() as db:
                if db.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None:
                    raise GradebookError(
                        self.path,
                        f"cannot record {result.learner}/{result.lesson}: no run {run_id}",
                        hint="record into a run opened with start_run()",
                    )
                db.execute(
                    "DELETE FROM submissions WHERE learner = ? AND lesson = ?"
                    " AND submission_hash = ? AND lesson_version = ?",
                    key,
                )
                cur = db.execute(
                    "INSERT INTO submissions (learner, lesson, lesson_version, submission_hash,"
                    " run_id, path, status, detail, duration_s, sandbox, score, max_score,"
                    " recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        result.learner,
                        result.lesson,
                        result.lesson_version,
                        result.submission_hash,
                        run_id,
                        result.path,
                        str(result.status),
                        result.detail,
                        result.duration_s,
                        result.sandbox,
                        result.score,
                        result.max_score,
                        time.time(),
                    ),
                )
                sid = cur.lastrowid
                db.executemany(
                    "INSERT INTO exercises (submission_id, position, exercise, score, max_score,"
                    " status, detail, manual, answer_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (sid, i, e.exercise, e.score, e.max_score, str(e.status), e.detail,
                         int(e.manual), e.answer_hash)
                        for i, e in enumerate(result.exercises)
                    ],
                )  # fmt: skip
                db.executemany(
                    "INSERT INTO tests VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (sid, i, j, t.name, t.exercise, t.points, t.max_points,
                         int(t.passed), int(t.hidden), t.message[:MAX_MESSAGE], t.review[:MAX_MESSAGE])
                        for i, e in enumerate(result.exercises)
                        for j, t in enumerate(e.tests)
                    ],
                )  # fmt: skip
                if notebook is not None:
                    db.execute("INSERT INTO notebooks VALUES (?, ?)", (sid, notebook))
        except sqlite3.Error as exc:
            raise GradebookError(
                self.path,
                f"cannot record {result.learner}/{result.lesson}: {exc}",
                hint="check free disk space and that the file is writable; nothing of this "
                "submission was stored, so rerunning the grade command redoes it",
            ) from exc

    def results(
        self, lesson: str | None = None, *, with_notebooks: bool = False
    ) -> Iterator[SubmissionResult]:
        """The latest result per learner and lesson, sorted by lesson then learner.

        Executed notebooks are left out (``executed_notebook=None``) unless
        ``with_notebooks``; they are then loaded one at a time as you iterate.
        """
        where, args = ("WHERE lesson = ?", (lesson,)) if lesson is not None else ("", ())
        latest = _LATEST.format(where=where)
        with self._read() as db:
            subs = db.execute(
                "SELECT id, learner, lesson, lesson_version, path, submission_hash, status,"
                " detail, duration_s, sandbox FROM submissions"
                f" WHERE id IN ({latest}) ORDER BY lesson, learner",
                args,
            ).fetchall()
            exercise_rows: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
            for row in db.execute(
                "SELECT submission_id, position, exercise, score, max_score, status, detail,"
                f" manual, answer_hash FROM exercises WHERE submission_id IN ({latest})"
                " ORDER BY submission_id, position",
                args,
            ):
                exercise_rows[row[0]].append(row[1:])
            test_rows: dict[tuple[int, int], list[TestOutcome]] = defaultdict(list)
            for row in db.execute(
                "SELECT submission_id, exercise_position, name, exercise, points, max_points,"
                f" passed, hidden, message, review FROM tests WHERE submission_id IN ({latest})"
                " ORDER BY submission_id, exercise_position, position",
                args,
            ):
                test_rows[(row[0], row[1])].append(
                    TestOutcome(
                        name=row[2],
                        exercise=row[3],
                        points=row[4],
                        max_points=row[5],
                        passed=bool(row[6]),
                        hidden=bool(row[7]),
                        message=row[8],
                        review=row[9],
                    )
                )
            grades = self._grades(db, lesson)
        for sid, learner, les, version, path, shash, status, detail, duration, sandbox in subs:
            exercises = tuple(
                self._with_grade(
                    ExerciseResult(
                        exercise=name,
                        score=score,
                        max_score=max_score,
                        status=self._status(ex_status),
                        detail=ex_detail,
                        tests=tuple(test_rows.get((sid, position), ())),
                        manual=bool(manual),
                        answer_hash=answer,
                    ),
                    grades.get((les, learner, name, answer)),
                )
                for position, name, score, max_score, ex_status, ex_detail, manual, answer in (
                    exercise_rows[sid]
                )
            )
            yield SubmissionResult(
                learner=learner,
                lesson=les,
                lesson_version=version,
                path=path,
                submission_hash=shash,
                exercises=exercises,
                status=self._status(status),
                detail=detail,
                duration_s=duration,
                sandbox=sandbox,
                executed_notebook=self._notebook(sid) if with_notebooks else None,
            )

    # -- manual grading -------------------------------------------------------------------

    @staticmethod
    def _grades(
        db: sqlite3.Connection, lesson: str | None
    ) -> dict[tuple[str, str, str, str], ManualGrade]:
        where, args = ("WHERE lesson = ?", (lesson,)) if lesson is not None else ("", ())
        rows = db.execute(
            "SELECT lesson, learner, exercise, answer_hash, points, comment, graded_at"
            f" FROM manual_grades {where}",
            args,
        )
        return {(r[0], r[1], r[2], r[3]): ManualGrade(*r) for r in rows}

    @staticmethod
    def _with_grade(result: ExerciseResult, grade: ManualGrade | None) -> ExerciseResult:
        """A manual exercise as graded by a person so far (pending until points are in)."""
        if not result.manual or result.status not in (Status.GRADED, Status.PENDING):
            return result  # unreadable, tampered...: nothing to grade by hand
        if grade is None or grade.points is None:
            comment = grade.comment if grade is not None else ""
            return replace(result, score=0.0, status=Status.PENDING, comment=comment)
        return replace(result, score=grade.points, status=Status.GRADED, comment=grade.comment)

    def manual_grades(self, lesson: str) -> list[ManualGrade]:
        """Every grade given by hand in ``lesson`` (of current and earlier answers)."""
        with self._read() as db:
            return sorted(self._grades(db, lesson).values(), key=lambda g: (g.learner, g.exercise))

    def set_manual_grade(
        self,
        lesson: str,
        learner: str,
        exercise: str,
        answer_hash: str,
        points: float | None,
        comment: str = "",
    ) -> ManualGrade:
        """Give ``points`` (None: none yet) and ``comment`` to ``learner``'s answer.

        ``answer_hash`` must be that of the learner's latest graded answer (what the
        instructor read); the points must lie between 0 and the exercise's maximum.
        """
        comment = comment[:MAX_COMMENT]
        with self._write() as db:
            row = db.execute(
                "SELECT e.max_score, e.answer_hash, e.status FROM exercises e WHERE e.manual = 1"
                " AND e.exercise = ? AND e.submission_id = (SELECT MAX(id) FROM submissions"
                " WHERE learner = ? AND lesson = ?)",
                (exercise, learner, lesson),
            ).fetchone()
            if row is None:
                raise GradebookError(
                    self.path,
                    f"{learner!r} has no graded answer to the manual exercise {exercise!r} "
                    f"of lesson {lesson!r}",
                    hint="grade the submissions first (`eduproject grade`)",
                )
            if row[2] != Status.GRADED:
                raise GradebookError(
                    self.path,
                    f"{learner!r}'s notebook was not graded normally ({row[2]}): its answer to "
                    f"{exercise!r} cannot earn points",
                    hint="the report says why; grade a corrected submission",
                )
            if row[1] != answer_hash:
                raise GradebookError(
                    self.path,
                    f"{learner!r}'s answer to {exercise!r} changed since it was shown "
                    "(a newer submission was graded)",
                    hint="reload the page and grade the new answer",
                )
            if points is not None and not 0 <= points <= row[0]:
                raise GradebookError(
                    self.path,
                    f"{points:g} points is outside 0..{row[0]:g} for {exercise!r}",
                    hint=f"give between 0 and {row[0]:g} points",
                )
            graded_at = time.time()
            db.execute(
                "INSERT OR REPLACE INTO manual_grades VALUES (?, ?, ?, ?, ?, ?, ?)",
                (lesson, learner, exercise, answer_hash, points, comment, graded_at),
            )
        return ManualGrade(lesson, learner, exercise, answer_hash, points, comment, graded_at)

    def executed_notebook(self, learner: str, lesson: str) -> dict[str, Any] | None:
        """The executed notebook of ``learner``'s latest ``lesson`` submission, if stored."""
        with self._lock:
            row = (
                self._connection()
                .execute(
                    "SELECT n.data FROM notebooks n WHERE n.submission_id = (SELECT MAX(id)"
                    " FROM submissions WHERE learner = ? AND lesson = ?)",
                    (learner, lesson),
                )
                .fetchone()
            )
        return None if row is None else self._decode(row[0])

    def _notebook(self, submission_id: int) -> dict[str, Any] | None:
        with self._lock:
            row = (
                self._connection()
                .execute("SELECT data FROM notebooks WHERE submission_id = ?", (submission_id,))
                .fetchone()
            )
        return None if row is None else self._decode(row[0])

    def _decode(self, blob: bytes) -> dict[str, Any]:
        try:
            notebook: dict[str, Any] = json.loads(zlib.decompress(blob))
        except (zlib.error, ValueError) as exc:
            raise GradebookError(self.path, f"a stored notebook is corrupt ({exc})") from exc
        return notebook

    def _status(self, value: str) -> Status:
        try:
            return Status(value)
        except ValueError:
            raise GradebookError(
                self.path,
                f"unknown status {value!r}",
                hint="this gradebook was written by a newer eduproject; upgrade it",
            ) from None
