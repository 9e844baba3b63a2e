"""Grading model-written code with the grading engine, in the grading sandbox.

Model output is never executed in this process. A candidate solution becomes a learner
notebook of the item's exercise (its solution cell replaced), and the grading engine grades
it like any submission: the code runs in a fresh sandboxed process forked by a
:class:`~eduproject.runner.sandbox.Zygote`, the tests run in the trusted grader, and only
plain data crosses back. One zygote per set of pre-imported modules is kept for the whole
benchmark, so each candidate costs one fork, not one interpreter start.

    with SandboxGrader() as grader:
        grade = grader.grade(item, item.reference)
        grade.passed        # True
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from eduproject.authoring.release import dumps, solution_notebook
from eduproject.bench.suites import BenchItem, sub_lesson
from eduproject.core.lesson import Lesson
from eduproject.core.results import Status, TestOutcome
from eduproject.runner.engine import Engine, preload_for
from eduproject.runner.sandbox import Backend, Limits, Zygote, detect_backend

# Candidates are short functions: a stuck one should cost seconds, not the grader's minutes.
BENCH_LIMITS = Limits(cell_timeout=10.0, timeout=30.0, memory_mb=1024)


@dataclass(frozen=True)
class Grade:
    """The verdict on one candidate: ``passed`` when every test of the exercise passed."""

    passed: bool
    score: float
    max_score: float
    status: str
    detail: str = ""
    tests: tuple[TestOutcome, ...] = field(default=(), repr=False)
    duration_s: float = 0.0

    def failing(self) -> list[TestOutcome]:
        return [t for t in self.tests if not t.passed]


class SandboxGrader:
    """Grades candidate code for bench items; see the module docstring."""

    def __init__(self, *, limits: Limits = BENCH_LIMITS, backend: Backend | None = None) -> None:
        self.limits = limits
        self.backend = backend or detect_backend()
        self._zygotes: dict[tuple[str, ...], Zygote] = {}
        self._data: dict[str, dict[str, bytes]] = {}
        self.graded = 0

    @property
    def sandbox(self) -> str:
        return self.backend.description

    def grade(self, item: BenchItem, code: str) -> Grade:
        """Grade ``code`` as the item's solution cell (other regions keep the reference)."""
        started = time.monotonic()
        lesson = sub_lesson(item)
        engine = Engine(
            lesson,
            data_files=self._data_files(item.lesson),
            spawner=self._zygote(lesson),
            limits=self.limits,
            sandbox=self.sandbox,
        )
        notebook = submission_notebook(item, lesson, code)
        result = engine.grade("bench", Path("submission.ipynb"), notebook)
        self.graded += 1
        exercise = next(e for e in result.exercises if e.exercise == item.exercise.id)
        passed = (
            exercise.status == Status.GRADED
            and bool(exercise.tests)
            and all(t.passed for t in exercise.tests)
        )
        return Grade(
            passed=passed,
            score=exercise.score,
            max_score=exercise.max_score,
            status=str(exercise.status),
            detail=exercise.detail,
            tests=exercise.tests,
            duration_s=time.monotonic() - started,
        )

    def grade_many(self, jobs: Sequence[tuple[BenchItem, str]]) -> list[Grade]:
        """Grade several candidates, each in its own fresh sandboxed process."""
        return [self.grade(item, code) for item, code in jobs]

    def passes(self, item: BenchItem) -> _Passes:
        """A ``run_tests(code) -> bool`` callable for the tutor's leak guard."""
        return _Passes(self, item)

    def _zygote(self, lesson: Lesson) -> Zygote:
        key = tuple(preload_for(lesson))
        zygote = self._zygotes.get(key)
        if zygote is None:
            zygote = Zygote(self.backend, preload=list(key), limits=self.limits)
            zygote.start()
            self._zygotes[key] = zygote
        return zygote

    def _data_files(self, lesson: Lesson) -> dict[str, bytes]:
        if lesson.id not in self._data:
            self._data[lesson.id] = {
                rel.as_posix(): (lesson.folder / rel).read_bytes() for rel in lesson.data_files
            }
        return self._data[lesson.id]

    def close(self) -> None:
        for zygote in self._zygotes.values():
            zygote.close()
        self._zygotes.clear()

    def __enter__(self) -> SandboxGrader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class _Passes:
    grader: SandboxGrader
    item: BenchItem

    def __call__(self, code: str) -> bool:
        return self.grader.grade(self.item, self.item.program(code)).passed


def submission_notebook(item: BenchItem, lesson: Lesson, code: str) -> bytes:
    """The learner notebook of ``lesson`` with ``code`` as the item's solution cell.

    The exercise's other solution cells hold the reference, so only the target is the model's.
    """
    return dumps(solution_notebook(lesson, {item.cell.cell_id: code}))
