"""Manually graded answers, tasks, untested answers and "run this and see" cells on import."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eduproject.authoring.importers import import_nbgrader, import_otter
from eduproject.authoring.parse import load_lesson
from eduproject.authoring.release import learner_notebook
from eduproject.core.lesson import Role

from .test_importers_bad import SOLUTION, code, md, nbg, q, raw, write

ERROR_OUTPUT = {
    "output_type": "error",
    "ename": "ZeroDivisionError",
    "evalue": "division by zero",
    "traceback": ["ZeroDivisionError: division by zero"],
}


def _learner_sources(folder: Path) -> dict[str, str]:
    lesson = load_lesson(folder)
    return {c["id"]: "".join(c["source"]) for c in learner_notebook(lesson)["cells"]}


def test_nbgrader_manual_answers_tasks_and_untested_answers(tmp_path: Path) -> None:
    crash: dict[str, Any] = code("1 / 0")
    crash["outputs"] = [ERROR_OUTPUT]
    src = write(
        tmp_path,
        [
            md("## Warm-up\nWrite `helper()`; nothing tests it."),
            nbg("code", "def helper():\n    return 41 + 1", "helper", solution=True),
            md("## Explain\nWhy does `1 / 0` fail? Run the cell below and see."),
            crash,
            nbg(
                "markdown",
                "Your answer:\n### BEGIN SOLUTION\nDividing by zero is undefined.\n"
                "### END SOLUTION\n(two lines at most)",
                "why",
                grade=True,
                solution=True,
                points=2,
            ),
            nbg("code", "assert why", "why_tests", grade=True, points=1),
            md("## Double"),
            nbg("code", SOLUTION, "double", solution=True),
            nbg("code", "assert double(2) == 4", "double_tests", grade=True, points=1),
            nbg(
                "markdown",
                "## Plot\nPlot `double` over 0..9 in cells of your own.",
                "plot",
                task=True,
                points=3,
            ),
        ],
    )
    report = import_nbgrader(src, tmp_path / "out")
    assert report.exercises == ["helper", "why", "double", "plot"]
    problems = "\n".join(report.problems)
    assert "cell 1: solution cell 'helper' has no test cell after it and no exercise" in problems
    assert (
        "cell 3: its saved output in the source is an error: tagged `raises-exception`" in problems
    )
    assert "cell 4: written answer 'why': the text around its solution region" in problems
    assert "cell 5: test cell 'why_tests' (1 point) follows a manually graded answer" in problems
    assert "cell 9: task 'plot' (3 points) becomes the manual exercise 'plot'" in problems
    lesson = load_lesson(tmp_path / "out")
    helper, why, double, plot = lesson.exercises
    assert (helper.manual, helper.max_score) == (True, 0)
    assert helper.model_answer == "def helper():\n    return 41 + 1"  # the instructor copy runs
    assert (why.manual, why.max_score, why.model_answer) == (
        True,
        2,
        "Dividing by zero is undefined.",
    )
    assert (double.manual, double.max_score) == (False, 1)
    assert (plot.manual, plot.max_score, plot.model_answer) == (True, 3, "")
    crash_cell = next(c for c in lesson.cells if c.source == "1 / 0")
    assert crash_cell.foreign_tags == ("raises-exception",)
    learner = "\n".join(_learner_sources(tmp_path / "out").values())
    assert "41 + 1" not in learner and "undefined" not in learner
    assert "Your answer:\n(two lines at most)" in learner  # the text around the region stays
    roles = [c.role for c in lesson.cells if c.exercise == "why"]
    assert roles == [Role.PROMPT, Role.CONTEXT, Role.CONTEXT, Role.ANSWER]


def test_otter_manual_questions_become_manual_exercises(tmp_path: Path) -> None:
    src = write(
        tmp_path,
        [
            raw("# ASSIGNMENT CONFIG\nsolutions_pdf: false"),
            q("plot", "manual: true", "points: 3"),
            md("**Plot.** Plot the squares, then say what you see."),
            raw("# BEGIN PROMPT"),
            md("_Type your answer here, replacing this text._"),
            raw("# END PROMPT"),
            raw("# BEGIN SOLUTION"),
            code("import math\nsquares = [x * x for x in range(10)]  # SOLUTION"),
            md("They grow faster and faster (SECRET-WORDS)."),
            raw("# END SOLUTION"),
            raw("# END QUESTION"),
        ],
    )
    report = import_otter(src, tmp_path / "out")
    assert report.exercises == ["plot"]
    assert any("becomes the manual exercise 'plot' (3 points)" in p for p in report.problems)
    lesson = load_lesson(tmp_path / "out")
    [plot] = lesson.exercises
    assert (plot.manual, plot.max_score) == (True, 3)
    assert "SECRET-WORDS" in plot.model_answer and "squares = [x * x" in plot.model_answer
    learner = "\n".join(_learner_sources(tmp_path / "out").values())
    assert "SECRET-WORDS" not in learner and "x * x" not in learner
    assert "# squares = ..." in learner  # otter's stub, as a comment above ours
    assert "_Type your answer here" not in learner  # the answer cell's stub replaces it
