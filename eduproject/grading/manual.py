"""Manually graded exercises: which cells of a graded notebook are a learner's answer.

An exercise tagged ``manual`` (docs/format.md) has no tests. Grading records it with the
hash of the learner's answer (:func:`answer_hash`); a person then gives points on the
manual-grading page (``eduproject manual``, :mod:`eduproject.grading.manual_page`), and the
gradebook keeps those points with that hash: when a learner hands in a changed answer, it
waits for grading again, while an unchanged answer keeps its points across regrades.

The answer is read from the *executed* notebook the grader wrote, whose cell roles come
from the grader bundle, never from metadata a learner could edit:
every cell of the exercise after its prompt (its ``answer`` cells, the cells the learner
added there, and the exercise's context cells).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from eduproject.core.answers import answer_cells
from eduproject.core.lesson import Exercise, Lesson
from eduproject.core.results import Status
from eduproject.errors import GradebookError, LessonError
from eduproject.grading.gradebook import Gradebook, ManualGrade

__all__ = ["Answer", "ManualDesk", "Progress"]

# -- the grading desk: what is left to grade, one answer at a time ------------------------------


@dataclass(frozen=True)
class Answer:
    """One learner's answer to one manual exercise, as the grader recorded it."""

    learner: str
    exercise: str
    answer_hash: str
    max_points: float
    points: float | None  # None: not graded yet
    comment: str
    cells: tuple[dict[str, Any], ...] = field(default=(), repr=False)

    @property
    def pending(self) -> bool:
        return self.points is None


@dataclass(frozen=True)
class Progress:
    """How many answers are graded, in one question and in the whole lesson."""

    question_left: int
    question_total: int
    lesson_left: int
    lesson_total: int


class ManualDesk:
    """The manual answers of one lesson in a gradebook, for a person to grade.

    With a lesson and a gradebook that holds its graded submissions:

        >>> desk = ManualDesk(lesson, Path("gradebook.sqlite"))  # doctest: +SKIP
        >>> first = desk.next_pending()  # doctest: +SKIP
        >>> desk.grade(first.exercise, first.learner, first.answer_hash, 2, "Clear.")  # doctest: +SKIP

    Questions are the lesson's manual exercises in notebook order; learners are sorted by
    id. Only answers of notebooks the grader could run are listed (an unreadable or
    tampered notebook earns no manual points; the report says why).
    """

    def __init__(self, lesson: Lesson, db_path: Path) -> None:
        self.lesson = lesson
        self.db_path = db_path
        self.questions: tuple[Exercise, ...] = tuple(e for e in lesson.exercises if e.manual)
        if not self.questions:
            raise LessonError(
                f"lesson {lesson.id!r} has no manual exercises: nothing to grade by hand",
                hint="tag an exercise's prompt `manual` (docs/format.md), release and grade again",
            )
        with Gradebook(db_path, create=False) as gb:
            if lesson.id not in gb.lessons():
                known = ", ".join(gb.lessons()) or "none"
                raise GradebookError(
                    db_path,
                    f"no graded submissions of lesson {lesson.id!r}",
                    hint=f"grade them first with `eduproject grade`; lessons in it: {known}",
                )

    def question(self, exercise: str) -> Exercise:
        for e in self.questions:
            if e.id == exercise:
                return e
        raise LessonError(f"{exercise!r} is not a manual exercise of lesson {self.lesson.id!r}")

    def answers(self, exercise: str | None = None) -> list[Answer]:
        """Every gradable answer (of ``exercise``, else of every question), question by
        question, learner by learner; cells are not loaded."""
        wanted = [exercise] if exercise is not None else [q.id for q in self.questions]
        with Gradebook(self.db_path, create=False) as gb:
            results = list(gb.results(self.lesson.id))
        found: list[Answer] = []
        for question in wanted:
            for result in results:
                for e in result.exercises:
                    if e.exercise != question or not e.manual:
                        continue
                    if e.status not in (Status.GRADED, Status.PENDING):
                        continue
                    found.append(
                        Answer(
                            learner=result.learner,
                            exercise=question,
                            answer_hash=e.answer_hash,
                            max_points=e.max_score,
                            points=None if e.pending else e.score,
                            comment=e.comment,
                        )
                    )
        return found

    def answer(self, exercise: str, learner: str) -> Answer | None:
        """One learner's answer with its cells (from the executed notebook)."""
        self.question(exercise)
        found = next((a for a in self.answers(exercise) if a.learner == learner), None)
        if found is None:
            return None
        with Gradebook(self.db_path, create=False) as gb:
            notebook = gb.executed_notebook(learner, self.lesson.id)
        return replace(found, cells=tuple(answer_cells(notebook, exercise)))

    def progress(self, exercise: str) -> Progress:
        every = self.answers()
        mine = [a for a in every if a.exercise == exercise]
        return Progress(
            question_left=sum(a.pending for a in mine),
            question_total=len(mine),
            lesson_left=sum(a.pending for a in every),
            lesson_total=len(every),
        )

    def next_pending(self) -> Answer | None:
        """The first answer nobody has graded yet, else None."""
        return next((a for a in self.answers() if a.pending), None)

    def grade(
        self,
        exercise: str,
        learner: str,
        answer_hash: str,
        points: float | None,
        comment: str = "",
    ) -> ManualGrade:
        """Record a person's points and comment (see :meth:`Gradebook.set_manual_grade`)."""
        self.question(exercise)
        with Gradebook(self.db_path, create=False) as gb:
            return gb.set_manual_grade(
                self.lesson.id, learner, exercise, answer_hash, points, comment
            )
