"""Typed results: a test as ``check`` ran it in the learner's kernel, and the grader's results
shared by the gradebook, exports, feedback and report."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

# The start of a hidden test's message when its visible first part failed (learners see it).
VISIBLE_PART = "in its visible part: "


@dataclass(frozen=True)
class TestResult:
    """One visible test as ``check`` ran it; ``message`` explains a failure in one line."""

    __test__ = False  # not a pytest test class, despite its name

    name: str
    passed: bool
    message: str = ""


class Status(StrEnum):
    GRADED = "graded"
    ERROR = "error"  # learner code raised before/while the exercise's tests ran
    TIMEOUT = "timeout"  # per-cell or whole-submission wall clock exceeded
    KILLED = "killed"  # memory / process / file-size limit, or the process died
    INVALID = "invalid"  # unreadable notebook (reason in detail)
    TAMPERED = "tampered"  # test or read-only cells edited, deleted or duplicated
    # A test passed only because learner code decided it (its __eq__ against a plain expected
    # value...), or the grader itself failed: a person must look; points are withheld until then.
    REVIEW = "review"
    # A manually graded exercise whose points a person has not entered yet (the gradebook
    # says so when it reads results; the grader records such exercises as graded).
    PENDING = "pending"


@dataclass(frozen=True)
class TestOutcome:
    __test__ = False  # not a pytest test class
    name: str
    exercise: str
    points: float  # earned
    max_points: float
    passed: bool
    hidden: bool
    # Why the test failed (the assertion's own message, or the exception and failing line).
    # Kept for the instructor for hidden tests too; learners never see a hidden test's message.
    message: str = ""
    # Set when the test passed only in a way the grader cannot trust: why, for the reviewer.
    review: str = ""

    @property
    def learner_message(self) -> str:
        """What a learner may read of the message: a visible test's, or that of a hidden
        test's visible part when that part failed; never a hidden test's own."""
        if not self.hidden or self.message.startswith(VISIBLE_PART):
            return self.message
        return ""

    @property
    def ran(self) -> bool:
        """False for a test that never ran (its message says why)."""
        return not self.message.startswith("not run")


@dataclass(frozen=True)
class ExerciseResult:
    exercise: str
    score: float
    max_score: float
    status: Status
    detail: str = ""
    tests: tuple[TestOutcome, ...] = ()
    # A manual exercise (graded by hand): the sha256 of the learner's answer, which the
    # instructor's points belong to (a changed answer waits for grading again), and the
    # instructor's comment once graded.
    manual: bool = False
    answer_hash: str = ""
    comment: str = ""

    @property
    def pending(self) -> bool:
        """A manual exercise still waiting for its points."""
        return self.status is Status.PENDING


@dataclass(frozen=True)
class SubmissionResult:
    learner: str
    lesson: str
    lesson_version: str
    path: str
    submission_hash: str
    exercises: tuple[ExerciseResult, ...]
    status: Status  # worst exercise status, or INVALID for the whole notebook
    detail: str = ""
    duration_s: float = 0.0
    sandbox: str = ""  # e.g. "bwrap+uid" or "rlimits only (bubblewrap not found)"
    # Where the time went, in seconds (spawn, judge, cells, visible, checkpoints, hidden, end,
    # replays): for `eduproject grade --profile` and the benchmarks; not stored.
    phases: dict[str, float] = field(default_factory=dict, compare=False, repr=False)
    # The executed notebook (nbformat JSON) as the learner ran it, outputs included; for feedback.
    executed_notebook: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def score(self) -> float:
        return sum(e.score for e in self.exercises)

    @property
    def max_score(self) -> float:
        return sum(e.max_score for e in self.exercises)

    @property
    def pending_points(self) -> float:
        """Points of manual exercises nobody has graded yet (not in :attr:`score`)."""
        return sum(e.max_score for e in self.exercises if e.pending)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
