"""Typed model of a lesson in the eduproject exercise format (see docs/format.md).

These are the values every other part of eduproject reads: release writes them out,
the grader reads them back from the sealed bundle, the tutor reads the learner pack.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from eduproject.core.policy.model import AiPolicy, PolicyLayer, resolve

FORMAT_VERSION = 1
BUNDLE_SCHEMA = 1


class Role(StrEnum):
    """What a cell is for. Stored in released cells as ``metadata.eduproject.role``."""

    PROMPT = "prompt"
    SOLUTION = "solution"
    TESTS = "tests"
    HIDDEN_TESTS = "hidden-tests"
    HINTS = "hints"
    SETUP = "setup"
    CONTEXT = "context"
    PANEL = "panel"  # the tutor panel cell that release inserts
    POLICY = "ai-policy"  # AI policy settings of the lesson or one exercise (not released)
    ANSWER = "answer"  # where a learner answers a manually graded exercise
    RUBRIC = "rubric"  # how to grade a manual exercise (grader bundle only, not released)


@dataclass(frozen=True)
class TestCase:
    """One test: the unit that earns points.

    ``source`` is the full code the grader runs (shared setup of its cell included);
    ``visible_source`` is what a learner may run (hidden regions removed; "" if wholly hidden).
    """

    __test__ = False  # not a pytest test class

    name: str
    exercise: str
    points: float
    source: str
    visible_source: str
    hidden: bool
    cell_id: str
    origin: str | None = None
    shared: int = 0  # the first `shared` lines of `source` are the cell's shared code
    shared_hidden: bool = False  # that shared code has a hidden region
    visible_shared: int = 0  # the first lines of `visible_source` that are the shared code
    # The test's own first lines before its first hidden line: a test that mixes a visible
    # part and a hidden part runs that visible part in place, like the learner's copy does.
    open_lines: int = 0

    @property
    def prelude(self) -> str:
        """The test cell's shared code (run once per cell, before its tests)."""
        return "\n".join(self.source.split("\n")[: self.shared])

    @property
    def body(self) -> str:
        """This test's own code, without the cell's shared code."""
        return "\n".join(self.source.split("\n")[self.shared :])

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "exercise": self.exercise,
            "points": self.points,
            "source": self.source,
            "visible_source": self.visible_source,
            "hidden": self.hidden,
            "cell_id": self.cell_id,
            "origin": self.origin,
            "shared": self.shared,
            "shared_hidden": self.shared_hidden,
            "visible_shared": self.visible_shared,
            "open_lines": self.open_lines,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TestCase:
        return cls(**data)


@dataclass(frozen=True)
class Cell:
    """One cell of a source notebook, classified.

    ``index`` is the 0-based position in the source notebook (used in error messages).
    ``source`` is the instructor source; ``learner_source`` what the learner copy holds
    (stubbed solutions, hidden regions removed), or None when the cell is not released.
    """

    index: int
    cell_id: str
    kind: str  # "code" | "markdown" | "raw"
    role: Role
    exercise: str | None
    source: str
    learner_source: str | None
    points: float | None = None
    foreign_tags: tuple[str, ...] = ()
    origin: str | None = None
    # Images pasted into markdown cells; released with the cell, not part of the bundle.
    attachments: dict[str, Any] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Exercise:
    id: str
    title: str
    prompt: str
    tests: tuple[TestCase, ...]
    hints: tuple[str, ...] = ()
    avoid: tuple[str, ...] = ()
    all_or_nothing: bool = False
    solution: str = ""  # the solution cells' instructor source, joined; for guards and bench
    stub: str = ""  # the same cells as the learner sees them
    origin: str | None = None
    # The exercise's own ``ai-policy`` settings (docs/format.md); not part of grading.
    policy: PolicyLayer = field(default_factory=PolicyLayer, compare=False)
    # A manually graded exercise (tag `manual`): no tests; a person gives 0..points on the
    # manual-grading page, reading the model answer and the rubric (grader bundle only).
    manual: bool = False
    points: float = 0.0
    rubric: str = ""
    model_answer: str = ""

    @property
    def max_score(self) -> float:
        if self.manual:
            return self.points
        return sum(t.points for t in self.tests)


@dataclass(frozen=True)
class Lesson:
    id: str
    title: str
    folder: Path
    notebook_path: Path
    version: str
    cells: tuple[Cell, ...]
    exercises: tuple[Exercise, ...]
    data_files: tuple[Path, ...] = ()  # relative to folder
    kernelspec: dict[str, Any] = field(default_factory=dict)
    language_info: dict[str, Any] = field(default_factory=dict)
    # The lesson-wide ``ai-policy`` settings (a cell above the first exercise).
    policy: PolicyLayer = field(default_factory=PolicyLayer, compare=False)

    def exercise(self, exercise_id: str) -> Exercise:
        for ex in self.exercises:
            if ex.id == exercise_id:
                return ex
        known = ", ".join(e.id for e in self.exercises)
        from eduproject.errors import LessonError

        raise LessonError(f"lesson {self.id!r} has no exercise {exercise_id!r} (it has: {known})")

    @property
    def max_score(self) -> float:
        return sum(e.max_score for e in self.exercises)


def exercise_policy(lesson: Lesson, exercise: Exercise, course: PolicyLayer) -> AiPolicy:
    """The policy in force for ``exercise``: course, then lesson, then exercise settings."""
    return resolve(course, lesson.policy, exercise.policy, graded=exercise.max_score > 0)


def lesson_policies(lesson: Lesson, course: PolicyLayer) -> tuple[AiPolicy, dict[str, AiPolicy]]:
    """The lesson-wide policy (cells outside exercises) and one policy per exercise."""
    return (
        resolve(course, lesson.policy, graded=False),
        {e.id: exercise_policy(lesson, e, course) for e in lesson.exercises},
    )
