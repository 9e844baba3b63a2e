"""What the notebook does when run top to bottom, grading does: a lesson of everyday idioms.

The lesson (``idioms.py``) uses classes with ``__eq__``, dataclasses, in-place mutation,
identity, helpers shared between test cells, lambdas, generators, the learner's own exception
classes with ``pytest.raises``, a learner ``sum``, ``vars()``, ``type()``, a global set by a test,
files and seeded randomness. Graded for real in the sandbox, with the judge.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from eduproject.authoring.validate import validate_lesson
from eduproject.core.lesson import Lesson
from eduproject.core.results import Status, SubmissionResult, TestOutcome
from eduproject.runner.engine import preload_for
from eduproject.runner.sandbox import Backend, Limits, Zygote
from tests.support.lessons import CellSpec, notebook_json

from .conftest import TEST_LIMITS
from .grading_support import bundle_lesson, grade, scores, statuses, submission
from .idioms import (
    HIDDEN_FLOWS,
    HIDDEN_FLOWS_MAX,
    IDIOMS,
    IDIOMS_LOOP,
    IDIOMS_MAX,
    IDIOMS_PARTIAL_SCORES,
    partial,
)


@pytest.fixture(scope="module")
def idioms_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("idioms") / "exercises" / "idioms"
    folder.mkdir(parents=True)
    (folder / "idioms.ipynb").write_text(json.dumps(notebook_json(IDIOMS)), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def idioms(idioms_folder: Path) -> Lesson:
    return bundle_lesson(idioms_folder, idioms_folder.parent.parent / "grader")


@pytest.fixture(scope="module")
def idioms_zygote(backend: Backend, idioms: Lesson) -> Iterator[Zygote]:
    limits = Limits(cell_timeout=2, timeout=30, memory_mb=512, processes=32, file_mb=8)
    with Zygote(backend, preload=preload_for(idioms), limits=limits) as z:
        yield z


def solution(lesson: Lesson) -> dict[str, str]:
    return {e.id: e.solution for e in lesson.exercises}


def test_the_instructors_solution_earns_full_marks(idioms: Lesson, idioms_zygote: Zygote) -> None:
    result = grade(idioms, idioms_zygote, submission(idioms, solution(idioms)))
    failed = [
        (t.name, t.message, t.review) for e in result.exercises for t in e.tests if not t.passed
    ]
    assert failed == []
    assert result.score == result.max_score == IDIOMS_MAX
    assert result.status == Status.GRADED, result.detail


def test_partial_credit_is_exact(idioms: Lesson, idioms_zygote: Zygote) -> None:
    result = grade(idioms, idioms_zygote, submission(idioms, partial(solution(idioms))))
    assert scores(result) == IDIOMS_PARTIAL_SCORES
    point = {t.name: t for t in result.exercises[1].tests}
    assert (
        point["dataclass"].message
        == "swap(Pair(1, 2)) gave Pair(left=1, right=2), expected Pair(left=2, right=1)"
    )
    assert (
        not point["hidden-dataclass"].passed and point["hidden-dataclass"].message
    )  # instructor's


def test_a_loop_in_the_first_exercise_costs_only_that_exercise(
    idioms: Lesson, idioms_zygote: Zygote
) -> None:
    answers = {**solution(idioms), **IDIOMS_LOOP}
    result = grade(idioms, idioms_zygote, submission(idioms, answers))
    assert statuses(result) == {
        "countdown": "timeout", "point": "graded", "stack": "graded", "newton": "graded",
        "misc": "graded",
    }  # fmt: skip
    assert result.score == IDIOMS_MAX - 2.0
    assert "ran longer than 2 s" in result.exercises[0].detail


def test_the_stub_earns_nothing(idioms: Lesson, idioms_zygote: Zygote) -> None:
    result = grade(idioms, idioms_zygote, submission(idioms, {}))
    assert result.score == 0.0
    assert all(not t.passed for e in result.exercises for t in e.tests)


def test_validate_agrees_on_the_idioms_lesson(idioms_folder: Path) -> None:
    report = validate_lesson(idioms_folder, timeout=10)
    assert report.ok, report.problems
    assert all(v.passed for v in report.graded_instructor)
    assert [(v.test, v.passed) for v in report.graded_instructor] == [
        (v.test, v.passed) for v in report.instructor
    ]
    assert not any(v.passed for v in report.graded_learner)


def test_hidden_tests_as_real_courses_write_them(
    backend: Backend, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("flows") / "exercises" / "flows"
    folder.mkdir(parents=True)
    (folder / "flows.ipynb").write_text(json.dumps(notebook_json(HIDDEN_FLOWS)), encoding="utf-8")
    lesson = bundle_lesson(folder, folder.parent.parent / "grader")
    with Zygote(backend, preload=preload_for(lesson), limits=TEST_LIMITS) as zygote:
        result = grade(lesson, zygote, submission(lesson, solution(lesson)))
        failed = [(t.name, t.message) for e in result.exercises for t in e.tests if not t.passed]
        assert failed == [] and result.score == HIDDEN_FLOWS_MAX, failed
        stub = grade(lesson, zygote, submission(lesson, {}))
        assert stub.score == 0.0
        # A mixed test: a failure in its visible part is the learner's to read, one in its
        # hidden part is not.
        wrong = "def field(a, b):\n    return 0"
        visible = _charges_test(grade(lesson, zygote, submission(lesson, {"charges": wrong})))
        assert not visible.passed and visible.learner_message.startswith("in its visible part: ")
        assert "field(pos_1, pos_2) gave 0, expected 2.5" in visible.learner_message
        off = "def field(a, b):\n    return b - a + (a == b)"
        hidden = _charges_test(grade(lesson, zygote, submission(lesson, {"charges": off})))
        assert not hidden.passed and hidden.ran and hidden.message and not hidden.learner_message
    report = validate_lesson(folder, timeout=10)
    assert report.ok, report.problems


def _charges_test(result: SubmissionResult) -> TestOutcome:
    (exercise,) = [e for e in result.exercises if e.exercise == "charges"]
    return exercise.tests[0]


# Each hidden test reports the learner process it ran in (its pid, as the sandbox numbers it).
WHERE_HIDDEN_TESTS_RUN: list[CellSpec] = [
    ("md exercise=first", "# First"),
    (
        "code solution",
        "import os\nMAIN = os.getpid()\ndef where():\n    ### BEGIN SOLUTION\n"
        "    return os.getpid()\n    ### END SOLUTION",
    ),
    ("code hidden-tests", "assert where() != MAIN, 'a copy: a learner cell and a test follow'"),
    ("md exercise=last", "# Last"),
    ("code solution", "def last():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION"),
    ("code tests", "assert last() == 1 and where() == MAIN"),
    ("code hidden-tests", "assert where() == MAIN, 'nothing follows: the learner process itself'"),
]


def test_the_last_hidden_tests_run_in_the_learner_process_itself(
    backend: Backend, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Hidden tests run on a snapshot of the learner process taken at their place -- except
    the last ones, after which no learner cell or visible test runs: they need no copy and
    run in the (sealed) learner process itself. Either way the grade is the notebook's."""
    folder = tmp_path_factory.mktemp("where") / "exercises" / "where"
    folder.mkdir(parents=True)
    nb = notebook_json(WHERE_HIDDEN_TESTS_RUN)
    (folder / "where.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    lesson = bundle_lesson(folder, folder.parent.parent / "grader")
    with Zygote(backend, preload=preload_for(lesson), limits=TEST_LIMITS) as zygote:
        result = grade(lesson, zygote, submission(lesson, solution(lesson)))
    failed = [(t.name, t.message) for e in result.exercises for t in e.tests if not t.passed]
    assert failed == [] and result.score == result.max_score == 3.0, failed
