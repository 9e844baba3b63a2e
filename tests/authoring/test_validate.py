"""validate_lesson() on real kernels: good lessons pass, broken ones are named precisely."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from eduproject.authoring import validate_lesson
from eduproject.authoring.validate import raise_for_problems, validate_lessons
from eduproject.errors import LessonValidationError
from tests.support.lessons import GOOD, GOOD_DATA

WriteLesson = Callable[..., Path]
pytestmark = pytest.mark.slow  # every test here starts two Jupyter kernels

# The instructor copy writes a file that the test reads: the learner copy runs in its own
# folder, so the file must not be there for it.
FILES = [
    ("md exercise=save", "# Save\nWrite `save()`."),
    (
        "code solution",
        "def save():\n    ### BEGIN SOLUTION\n    open('out.txt', 'w').write('hi')\n    ### END SOLUTION",
    ),
    ("code", "try:\n    save()\nexcept NotImplementedError:\n    pass"),
    ("code tests", "assert open('out.txt').read() == 'hi'"),
    ("code skip-execution", "1 / 0  # never run, so never a problem"),
]


def test_good_lesson_validates(write_lesson: WriteLesson) -> None:
    folder = write_lesson(GOOD + FILES, "01-good", data=GOOD_DATA)
    report = validate_lesson(folder)
    assert report.ok and report.problems == ()
    assert [(r.exercise, r.tests, r.solution, r.stub) for r in report.rows] == [
        ("sum_evens", 3, "pass", "fails-as-expected"),
        ("area", 1, "pass", "fails-as-expected"),
        ("save", 1, "pass", "fails-as-expected"),
    ]
    assert [(v.test, v.cell, v.passed) for v in report.instructor] == [
        ("basics", 4, True),
        ("negatives", 4, True),
        ("sum_evens-2", 5, True),  # hidden tests run too, with the lesson's data file
        ("area-1", 10, True),
        ("save-1", 15, True),
    ]
    assert [(v.test, v.passed, v.detail) for v in report.learner] == [
        (
            "basics",
            False,
            "NotImplementedError (line 1 of the test: assert sum_evens([1, 2, 3, 4]) == 6)",
        ),
        (
            "negatives",
            False,
            "NotImplementedError (line 1 of the test: assert sum_evens([-2, -3]) == -2)",
        ),
        (
            "sum_evens-2",
            False,
            "NotImplementedError (line 1 of the test: assert sum_evens(NUMBERS) == 6)",
        ),
        (
            "area-1",
            False,
            "NameError: name 'area' is not defined (line 1 of the test: assert abs(area(1) - math.pi) < 1e-9)",
        ),
        (
            "save-1",
            False,
            "FileNotFoundError: [Errno 2] No such file or directory: 'out.txt' "
            "(line 1 of the test: assert open('out.txt').read() == 'hi')",
        ),
    ]


BROKEN = [
    ("md exercise=double", "# Double"),
    (
        "code solution",
        "def double(x):\n    ### BEGIN SOLUTION\n    return x + 2\n    ### END SOLUTION",
    ),
    (
        "code tests",
        "### TEST small\nassert double(0) == 2\n### TEST big\ny = 4\nassert double(y) == 8, 'double(4) should be 8'",
    ),
    ("md exercise=free", "# Free points"),
    ("code solution", "def unused():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION"),
    ("code raises-exception", "{}['allowed to fail']"),
    ("code", "1 / 0"),
    ("code hidden-tests", "assert len('abc') == 3"),
]


def test_broken_lesson_names_lesson_exercise_cell_and_assertion(write_lesson: WriteLesson) -> None:
    folder = write_lesson(BROKEN, "broken")
    report = validate_lesson(folder, raise_on_problems=False)
    assert not report.ok
    assert [(r.exercise, r.solution, r.stub) for r in report.rows] == [
        ("double", "fail", "fails-as-expected"),
        ("free", "pass", "passes!"),
    ]
    assert report.problems == (
        "lesson 'broken', exercise 'free', cell 6: the instructor notebook fails: "
        "ZeroDivisionError: division by zero",
        "lesson 'broken', exercise 'double', cell 2, test 'big': the solution fails: "
        "AssertionError: double(4) should be 8 (line 2 of the test: assert double(y) == 8, "
        "'double(4) should be 8')",
        "lesson 'broken', exercise 'free', cell 4: the learner copy passes every test, so "
        "learners would score full marks without writing anything; put the answer inside the "
        "solution markers, or add a test the stub fails",
    )
    with pytest.raises(LessonValidationError) as info:
        report.raise_for_problems()
    assert str(info.value).startswith(
        "lesson 'broken' is broken:\n  lesson 'broken', exercise 'free', cell 6"
    )
    assert str(info.value).endswith(
        "-> fix the solution or the tests in exercises/broken, "
        "then run `eduproject validate exercises/broken` again"
    )
    with pytest.raises(LessonValidationError, match="test 'big': the solution fails"):
        validate_lesson(folder)


def test_a_hanging_test_times_out_and_the_rest_still_runs(write_lesson: WriteLesson) -> None:
    folder = write_lesson(
        [
            ("md exercise=spin", "# Spin"),
            (
                "code solution",
                "def spin():\n    ### BEGIN SOLUTION\n    while True:\n        pass\n    ### END SOLUTION",
            ),
            ("code tests", "### TEST hangs\nspin()\n### TEST after\nassert 1 + 1 == 2"),
        ],
        "spin",
    )
    report = validate_lesson(folder, timeout=2, raise_on_problems=False)
    verdicts = [(v.test, v.passed, v.detail) for v in report.instructor]
    assert verdicts == [
        ("hangs", False, "did not finish within 2 s (interrupted)"),
        ("after", True, ""),
    ]
    assert report.problems[0] == (
        "lesson 'spin', exercise 'spin', cell 2, test 'hangs': the solution fails: "
        "did not finish within 2 s (interrupted)"
    )


def test_a_dead_kernel_is_reported(write_lesson: WriteLesson) -> None:
    folder = write_lesson(
        [
            ("md exercise=f", "# F"),
            (
                "code solution",
                "def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION",
            ),
            ("code", "import os\nos._exit(3)"),
            ("code tests", "assert f() == 1"),
        ],
        "dies",
    )
    with pytest.raises(LessonValidationError) as info:
        validate_lesson(folder)
    assert (
        info.value.message == "lesson 'dies': the kernel died while running the instructor notebook"
    )
    assert info.value.hint is not None and "os._exit" in info.value.hint


@pytest.mark.parametrize("jobs", [1, 2])
def test_several_lessons_report_every_problem(
    write_lesson: WriteLesson, tmp_path: Path, jobs: int
) -> None:
    """One after the other or side by side: the same reports, in the lessons' order."""
    write_lesson(BROKEN, "a-broken")
    write_lesson(BROKEN, "b-broken")
    reports = validate_lessons([tmp_path / "exercises"], jobs=jobs)
    assert [r.lesson for r in reports] == ["a-broken", "b-broken"]
    with pytest.raises(LessonValidationError) as info:
        raise_for_problems(reports)
    message = str(info.value)
    assert message.startswith("2 lessons are broken (a-broken, b-broken):\n  lesson 'a-broken'")
    assert message.count("\n  lesson '") == 6


# Tests that pass when the notebook runs top to bottom but that grading judges differently.
DIFFERS = [
    ("md exercise=money", "# Money"),
    (
        "code solution",
        "class Money:\n    def __init__(self, cents):\n        self.cents = cents\n"
        "    ### BEGIN SOLUTION\n    def __eq__(self, other):\n"
        "        return self.cents == getattr(other, 'cents', other)\n    ### END SOLUTION\n"
        "    __hash__ = None",
    ),
    ("code tests", "assert Money(5) == 5"),  # a learner __eq__ against a plain value
    ("code hidden-tests", "double = lambda x: 2 * x"),  # a hidden test's names stay its own
    ("code tests", "assert double(2) == 4"),
]


def test_tests_that_grading_judges_differently_are_lesson_problems(
    write_lesson: WriteLesson,
) -> None:
    report = validate_lesson(write_lesson(DIFFERS, "differs"), raise_on_problems=False)
    assert [(v.test, v.passed) for v in report.instructor] == [
        ("money-1", True), ("money-2", True), ("money-3", True),
    ]  # fmt: skip
    assert report.problems == (
        "lesson 'differs', exercise 'money', cell 2, test 'money-1': passes when the solution "
        "runs as a notebook but fails when graded: marked for review: Money.__eq__ (learner "
        "code) decided `==` against a plain value",
        "lesson 'differs', exercise 'money', cell 4, test 'money-3': passes when the solution "
        "runs as a notebook but fails when graded: NameError: name 'double' is not defined "
        "(line 1: assert double(2) == 4)",
    )


def test_mutants_show_the_slips_weak_tests_accept(write_lesson: WriteLesson) -> None:
    folder = write_lesson(
        [
            ("md exercise=upto", "# Up to n"),
            (
                "code solution",
                "def upto(n):\n    ### BEGIN SOLUTION\n    return list(range(1, n + 1))\n"
                "    ### END SOLUTION",
            ),
            ("code tests", "assert upto(0) == []"),  # weak: most slips still give []
        ],
        "weak",
    )
    report = validate_lesson(folder, mutants=True)
    (row,) = report.adequacy
    assert row.tried >= 3 and row.caught < row.tried
    described = [s.describe() for s in row.survivors]
    assert any(
        d.startswith(
            "your tests accept `return list(range(2, n + 1))` for `return list(range(1, n + 1))`"
        )
        for d in described
    ), described
