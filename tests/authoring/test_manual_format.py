"""Manual exercises in the lesson format: parse, release, bundle, learner pack."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from eduproject.authoring.parse import load_lesson
from eduproject.authoring.release import release, solution_notebook
from eduproject.core.bundle import read_bundle
from eduproject.core.lesson import Role
from eduproject.errors import LessonFormatError
from tests.support.manual_lesson import MANUAL, MODEL_ANSWER, RUBRIC, SECRETS

from .no_leak import all_text

WriteLesson = Callable[..., Path]


def test_manual_exercises_parse_with_points_rubric_and_model_answer(
    write_lesson: WriteLesson,
) -> None:
    lesson = load_lesson(write_lesson(MANUAL))
    double, explain, squares = lesson.exercises
    assert not double.manual and double.max_score == 1
    assert explain.manual and explain.max_score == 2 and explain.tests == ()
    assert explain.rubric == RUBRIC and explain.model_answer == MODEL_ANSWER
    assert squares.manual and squares.max_score == 3
    assert squares.model_answer == "print([x * x for x in range(10)])  # CODE-SECRET"
    assert lesson.max_score == 6
    roles = [(c.role, c.learner_source) for c in lesson.cells if c.exercise == "explain"]
    assert roles == [
        (Role.PROMPT, lesson.cells[4].source),
        (Role.ANSWER, "YOUR ANSWER HERE"),
        (Role.RUBRIC, None),
    ]


def test_release_keeps_model_answers_and_rubrics_out_of_learner_files(
    write_lesson: WriteLesson, tmp_path: Path
) -> None:
    result = release(write_lesson(MANUAL), tmp_path / "notebooks", tmp_path / "grader")
    learner = [json.loads(result.notebook.read_text()), json.loads(result.pack.read_text())]
    text = "\n".join(t for doc in learner for t in all_text(doc))
    for secret in SECRETS:
        assert secret not in text
    nb = learner[0]
    answers = [c for c in nb["cells"] if c["metadata"]["eduproject"]["role"] == "answer"]
    assert ["".join(c["source"]) for c in answers] == [
        "YOUR ANSWER HERE",
        "# YOUR CODE HERE\nraise NotImplementedError()",
    ]
    assert answers[1]["metadata"]["tags"] == ["raises-exception"]  # Run All goes on past it
    assert "editable" not in answers[0]["metadata"]  # learners write here
    panels = [c["id"] for c in nb["cells"] if c["id"].startswith("panel-")]
    assert panels == ["panel-start", "panel-double"]  # no tests to check: no panel
    pack = {e["id"]: e for e in learner[1]["exercises"]}
    assert (pack["explain"]["manual"], pack["explain"]["max_score"]) == (True, 2)
    assert pack["explain"]["tests"] == [] and "manual" not in pack["double"]
    bundled = read_bundle(result.bundle.parent)
    explain = bundled.exercise("explain")
    assert (explain.manual, explain.points, explain.rubric) == (True, 2, RUBRIC)
    assert explain.model_answer == MODEL_ANSWER


def test_the_solution_notebook_holds_the_model_answers(write_lesson: WriteLesson) -> None:
    lesson = load_lesson(write_lesson(MANUAL))
    text = json.dumps(solution_notebook(lesson))
    assert "MODEL-SECRET" in text and "CODE-SECRET" in text and "RUBRIC-SECRET" not in text


@pytest.mark.parametrize(
    ("cells", "message"),
    [
        (
            [("md exercise=e manual", "# E"), ("code tests", "assert True")],
            "a `tests` cell in the manual exercise 'e'",
        ),
        (
            [("md exercise=e manual", "# E"), ("code solution-cell", "x = 1")],
            "a `solution-cell` cell in the manual exercise 'e'",
        ),
        (
            [("md exercise=e", "# E"), ("md answer", "text")],
            "an `answer` cell in exercise 'e', which is not manual",
        ),
        (
            [("md exercise=e points=2", "# E")],
            "a `points=` tag on a cell that is not a test cell",
        ),
        (
            [("md exercise=e manual all-or-nothing", "# E")],
            "a `manual` exercise cannot be `all-or-nothing`",
        ),
        (
            [("md exercise=e manual", "# E"), ("md rubric", "a"), ("md rubric", "b")],
            "exercise 'e' already has a rubric cell (cell 1)",
        ),
        ([("md exercise=e manual", "# E"), ("code rubric", "x = 1")], "belongs on a markdown"),
        ([("md manual", "# E")], "the `manual` tag is only allowed on an `exercise=` cell"),
        ([("md answer", "text")], "a `answer` cell before any exercise"),
        (
            [
                ("md exercise=e manual", "# E"),
                ("code answer", "### BEGIN SOLUTION\n### END SOLUTION"),
            ],
            "empty solution region",
        ),
    ],
)
def test_manual_format_errors_name_the_cell_and_the_fix(
    write_lesson: WriteLesson, cells: list[tuple[str, str]], message: str
) -> None:
    with pytest.raises(LessonFormatError, match="cell") as err:
        load_lesson(write_lesson(cells))
    assert message in str(err.value)


def test_a_manual_exercise_may_have_no_answer_cell(write_lesson: WriteLesson) -> None:
    lesson = load_lesson(write_lesson([("md exercise=task manual points=4", "# Task\nDo it.")]))
    [task] = lesson.exercises
    assert (task.manual, task.max_score, task.model_answer) == (True, 4, "")
