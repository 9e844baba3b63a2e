"""Every bad input gives a LessonFormatError naming the file, the cell and the fix."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from eduproject.authoring import load_lesson
from eduproject.errors import LessonFormatError

WriteLesson = Callable[..., Path]

PROMPT = ("md exercise=f", "# F\nWrite f.")
SOLUTION = ("code solution", "def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION")
TESTS = ("code tests", "assert f() == 1")


def expect(
    folder: Path, cell: int | None, problem: str, fix: str, *, path: Path | None = None
) -> LessonFormatError:
    """Load ``folder`` and check the error: file, cell, problem (exact) and a fragment of the fix.

    The error names the notebook, or ``path`` when given (errors about the folder itself).
    """
    with pytest.raises(LessonFormatError) as info:
        load_lesson(folder)
    error = info.value
    if path is None:
        (path,) = folder.glob("*.ipynb")
    assert (error.path, error.cell, error.problem) == (path, cell, problem)
    assert error.hint is not None and fix in error.hint
    where = f"{path}" if cell is None else f"{path}, cell {cell}"
    if cell is not None and error.cell_label:
        # JupyterLab shows no cell numbers: the cell's first line (or id) names it too.
        assert error.cell_label.startswith(("starts `", "id ")), error.cell_label
        where += f" ({error.cell_label})"
    assert str(error) == f"{where}: {problem}\n  -> {error.hint}"
    return error


# (cells, failing cell index, exact problem, fragment of the fix)
CELL_ERRORS = {
    "duplicate exercise id": (
        [PROMPT, SOLUTION, TESTS, ("md exercise=f", "Again."), SOLUTION, TESTS],
        3,
        "duplicate exercise id 'f' (first used in cell 0)",
        "give every exercise in the lesson its own id",
    ),
    "nested solution markers": (
        [
            PROMPT,
            ("code solution", "### BEGIN SOLUTION\nx = 1\n### BEGIN SOLUTION\n### END SOLUTION"),
            TESTS,
        ],
        1,
        "nested `### BEGIN SOLUTION` on line 3 (the one on line 1 is still open)",
        "close the first region with `### END SOLUTION` before opening another",
    ),
    "unclosed solution marker": (
        [PROMPT, ("code solution", "def f():\n    ### BEGIN SOLUTION\n    return 1"), TESTS],
        1,
        "`### BEGIN SOLUTION` on line 2 is never closed",
        "add `### END SOLUTION` after the last line of the region",
    ),
    "stray END marker": (
        [PROMPT, ("code solution", "def f():\n    return 1\n    ### END SOLUTION"), TESTS],
        1,
        "`### END SOLUTION` on line 3 without a `### BEGIN SOLUTION` before it",
        "delete the stray `### END SOLUTION`",
    ),
    "nested hidden tests": (
        [
            PROMPT,
            SOLUTION,
            (
                "code tests",
                "### BEGIN HIDDEN TESTS\n### BEGIN HIDDEN TESTS\nassert f()\n### END HIDDEN TESTS",
            ),
        ],
        2,
        "nested `### BEGIN HIDDEN TESTS` on line 2 (the one on line 1 is still open)",
        "close the first region",
    ),
    "unclosed hidden tests": (
        [PROMPT, SOLUTION, ("code tests", "assert f() == 1\n### BEGIN HIDDEN TESTS\nassert f()")],
        2,
        "`### BEGIN HIDDEN TESTS` on line 2 is never closed",
        "add `### END HIDDEN TESTS`",
    ),
    "hidden tests in a solution cell": (
        [
            PROMPT,
            (
                "code solution",
                SOLUTION[1] + "\n### BEGIN HIDDEN TESTS\nassert f()\n### END HIDDEN TESTS",
            ),
            TESTS,
        ],
        1,
        "hidden tests outside a test cell (line 5, in a solution cell)",
        "move the hidden tests into a cell tagged `tests`",
    ),
    "hidden tests in an untagged cell": (
        [
            PROMPT,
            SOLUTION,
            TESTS,
            ("code", "### BEGIN HIDDEN TESTS\nassert f()\n### END HIDDEN TESTS"),
        ],
        3,
        "hidden tests outside a test cell (line 1, in an untagged cell)",
        "tag this cell `tests`",
    ),
    "solution cell without markers": (
        [PROMPT, ("code solution", "def f():\n    return 1"), TESTS],
        1,
        "a `solution` cell without `### BEGIN SOLUTION` / `### END SOLUTION` markers",
        "tag the cell `solution-cell` to replace the whole cell",
    ),
    "markers in a solution-cell": (
        [PROMPT, ("code solution-cell", SOLUTION[1]), TESTS],
        1,
        "solution markers in a `solution-cell` cell (line 2)",
        "remove the markers, or tag the cell `solution`",
    ),
    "solution markers in an untagged cell": (
        [PROMPT, SOLUTION, TESTS, ("code", "### BEGIN SOLUTION\nx = 1\n### END SOLUTION")],
        3,
        "solution markers outside a solution cell (line 1, in an untagged cell)",
        "tag the cell `solution`",
    ),
    "solution markers in a test cell": (
        [PROMPT, SOLUTION, ("code tests", "### BEGIN SOLUTION\nassert f() == 1\n### END SOLUTION")],
        2,
        "solution markers outside a solution cell (line 1, in a tests cell)",
        "tag the cell `solution`",
    ),
    "marker lookalike": (
        [
            PROMPT,
            (
                "code solution",
                "def f():\n    ## BEGIN SOLUTION\n    return 1\n    ### END SOLUTION",
            ),
            TESTS,
        ],
        1,
        "line 2 looks like a marker but is not one: '## BEGIN SOLUTION'",
        "write the marker exactly as `### BEGIN SOLUTION`",
    ),
    "marker with trailing text": (
        [PROMPT, ("code solution", "### BEGIN SOLUTION  # answer\nx = 1\n### END SOLUTION"), TESTS],
        1,
        "line 1 looks like a marker but is not one: '### BEGIN SOLUTION  # answer'",
        "alone on its line",
    ),
    "markers in a markdown cell": (
        [PROMPT, SOLUTION, TESTS, ("md", "### BEGIN SOLUTION\nsecret\n### END SOLUTION")],
        3,
        "markers in a markdown cell",
        "markers only work in code cells",
    ),
    "empty solution region": (
        [PROMPT, ("code solution", "x = 1\n### BEGIN SOLUTION\n\n### END SOLUTION"), TESTS],
        1,
        "empty solution region (lines 2-4)",
        "put the answer between the markers",
    ),
    "unknown tag": (
        [PROMPT, ("code solutoin", "x = 1"), TESTS],
        1,
        "unknown tag 'solutoin' (did you mean `solution`?)",
        "use one of the eduproject tags `exercise=ID`, `solution`, `solution-cell`, `tests`, "
        "`hidden-tests`, `hints`, `setup`, `ai-policy`, `answer`, `rubric`, `points=N`, "
        "`all-or-nothing`, `manual`, or a tag "
        "other tools "
        "understand: `parameters`, `raises-exception`",
    ),
    "unknown tag without a close match": (
        [PROMPT, SOLUTION, ("code tests homework", "assert f() == 1")],
        2,
        "unknown tag 'homework'",
        "`exercise=ID`",
    ),
    "test cell before any exercise": (
        [("code tests", "assert 1"), PROMPT, SOLUTION, TESTS],
        0,
        "a `tests` cell before any exercise",
        "add a markdown cell tagged `exercise=ID` above it",
    ),
    "solution cell before any exercise": (
        [SOLUTION, PROMPT, SOLUTION, TESTS],
        0,
        "a `solution` cell before any exercise",
        "add a markdown cell tagged `exercise=ID` above it",
    ),
    "hints cell before any exercise": (
        [("md hints", "1. Think."), PROMPT, SOLUTION, TESTS],
        0,
        "a `hints` cell before any exercise",
        "add a markdown cell tagged `exercise=ID` above it",
    ),
    "points tag not a number": (
        [PROMPT, SOLUTION, ("code tests points=two", "assert f() == 1")],
        2,
        "tag: points='two' is not a number",
        "e.g. points=2 or points=0.5",
    ),
    "TEST points not a number": (
        [PROMPT, SOLUTION, ("code tests", "### TEST a points=x1\nassert f() == 1")],
        2,
        "line 1: points='x1' is not a number",
        "e.g. points=2 or points=0.5",
    ),
    "negative points": (
        [PROMPT, SOLUTION, ("code tests points=-1", "assert f() == 1")],
        2,
        "tag: points=-1 is negative: points are zero or more",
        "a number of zero or more",
    ),
    "TEST lines with a points tag": (
        [PROMPT, SOLUTION, ("code tests points=2", "### TEST a\nassert f() == 1")],
        2,
        "a `points=` tag on a cell that has `### TEST` lines",
        "remove the `points=` tag",
    ),
    "malformed TEST line": (
        [PROMPT, SOLUTION, ("code tests", "### TEST\nassert f() == 1")],
        2,
        "line 1 is not a valid test line: '### TEST'",
        "write `### TEST name` or `### TEST name points=N`",
    ),
    "TEST line outside a test cell": (
        [PROMPT, ("code solution", "### TEST a\n" + SOLUTION[1]), TESTS],
        1,
        "`### TEST` line outside a test cell (line 1, in a solution cell)",
        "move it into a cell tagged `tests` or `hidden-tests`",
    ),
    "empty test": (
        [PROMPT, SOLUTION, ("code tests", "### TEST a\n### TEST b\nassert f() == 1")],
        2,
        "test 'a' has no code",
        "write at least one assertion",
    ),
    "empty test cell": (
        [PROMPT, SOLUTION, ("code tests", "# nothing yet")],
        2,
        "test 'f-1' has no code",
        "write at least one assertion",
    ),
    "duplicate test names in a cell": (
        [PROMPT, SOLUTION, ("code tests", "### TEST a\nassert f()\n### TEST a\nassert f()")],
        2,
        "two tests named 'a' in this cell",
        "give every test its own name",
    ),
    "duplicate test names across cells": (
        [
            PROMPT,
            SOLUTION,
            ("code tests", "### TEST a\nassert f()"),
            ("code tests", "### TEST a\nassert f()"),
        ],
        3,
        "exercise 'f' already has a test named 'a'",
        "give every test of an exercise its own name",
    ),
    "exercise without tests": (
        [PROMPT, SOLUTION, ("md exercise=g", "# G"), SOLUTION, TESTS],
        0,
        "exercise 'f' has no tests",
        "add a code cell tagged `tests` or `hidden-tests`",
    ),
    "last exercise without tests": (
        [PROMPT, SOLUTION, TESTS, ("md exercise=g", "# G"), SOLUTION],
        3,
        "exercise 'g' has no tests",
        "add a code cell tagged `tests` or `hidden-tests`",
    ),
    "exercise without a solution cell": (
        [PROMPT, TESTS],
        0,
        "exercise 'f' has no solution cell",
        "tag the code cell learners complete `solution`",
    ),
    "exercise tag on a code cell": (
        [("code exercise=f", "x = 1"), SOLUTION, TESTS],
        0,
        "the `exercise=f` tag is on a code cell; it belongs on a markdown cell",
        "change the cell type to markdown",
    ),
    "hints tag on a code cell": (
        [PROMPT, SOLUTION, TESTS, ("code hints", "x = 1")],
        3,
        "the `hints` tag is on a code cell; it belongs on a markdown cell",
        "change the cell type to markdown",
    ),
    "tests tag on a markdown cell": (
        [PROMPT, SOLUTION, ("md tests", "assert f() == 1")],
        2,
        "the `tests` tag is on a markdown cell; it belongs on a code cell",
        "change the cell type to code",
    ),
    "invalid exercise id": (
        [("md exercise=sum.evens", "x")],
        0,
        "exercise id 'sum.evens' is not valid: '.' is not allowed",
        "e.g. `exercise=sum_evens`",
    ),
    "invalid characters in an exercise id": (
        [("md exercise=somme_paires_é!", "x")],
        0,
        "exercise id 'somme_paires_é!' is not valid: '!', 'é' are not allowed",
        "e.g. `exercise=sum_evens`",
    ),
    "indented TEST line": (
        [PROMPT, SOLUTION, ("code tests", "if True:\n    ### TEST a\n    assert f() == 1")],
        2,
        "line 2 is an indented test line: '    ### TEST a'",
        "remove the indentation",
    ),
    "syntax error in a solution": (
        [
            PROMPT,
            (
                "code solution",
                "def f():\n    ### BEGIN SOLUTION\n    retrun 1\n    ### END SOLUTION",
            ),
            TESTS,
        ],
        1,
        "line 3 of the solution does not compile: invalid syntax: `retrun 1`",
        "fix the syntax there",
    ),
    "syntax error in a whole-cell solution": (
        [PROMPT, ("code solution-cell", "x = (1,"), ("code tests", "assert x")],
        1,
        "line 1 of the solution does not compile: '(' was never closed: `x = (1,`",
        "fix the syntax there",
    ),
    "syntax error in a test cell": (
        [PROMPT, SOLUTION, ("code tests", "### TEST a\nassert f() = 1")],
        2,
        "line 2 of the test cell does not compile: invalid syntax: `assert f() = 1`",
        "fix the syntax there",
    ),
    "syntax error in a setup cell": (
        [("code setup", "import math\nfor x in range(3)\n    pass"), PROMPT, SOLUTION, TESTS],
        0,
        "line 2 of the setup cell does not compile: expected ':': `for x in range(3)`",
        "fix the syntax there",
    ),
    "a TEST line that splits a block": (
        [
            PROMPT,
            SOLUTION,
            ("code tests", "### TEST a\nif f() == 1:\n### TEST b\n    assert f() == 1"),
        ],
        2,
        "line 1 of test 'a' on its own (the cell's shared setup and the test's lines; "
        "`### TEST` lines must not split a block) does not compile: expected an indented block "
        "after 'if' statement on line 1: `if f() == 1:`",
        "fix the syntax there",
    ),
    "hidden lines that break the learner copy": (
        [
            PROMPT,
            SOLUTION,
            (
                "code tests",
                "if f() == 1:\n### BEGIN HIDDEN TESTS\n    assert f() == 1\n### END HIDDEN TESTS",
            ),
        ],
        2,
        "line 1 of the learner copy of this test cell (hidden lines removed; put "
        "`### BEGIN/END HIDDEN TESTS` around whole statements) does not compile: expected an "
        "indented block after 'if' statement on line 1: `if f() == 1:`",
        "fix the syntax there",
    ),
    "conflicting tags": (
        [PROMPT, ("code solution tests", "x = 1")],
        1,
        "conflicting tags `solution`, `tests`: a cell has one role",
        "keep only one of these tags",
    ),
    "points tag on a solution cell": (
        [PROMPT, ("code solution points=2", SOLUTION[1]), TESTS],
        1,
        "a `points=` tag on a cell that is not a test cell",
        "put `points=N` on a cell tagged `tests` or `hidden-tests`",
    ),
    "all-or-nothing on a test cell": (
        [PROMPT, SOLUTION, ("code tests all-or-nothing", "assert f()")],
        2,
        "the `all-or-nothing` tag is only allowed on an `exercise=` cell",
        "move the tag to the exercise's prompt cell",
    ),
    "hints out of order": (
        [PROMPT, SOLUTION, TESTS, ("md hints", "1. First.\n3. Third.")],
        3,
        "hint item numbered 3 on line 2, expected 2",
        "number the hints 1, 2, 3",
    ),
    "hints without items": (
        [PROMPT, SOLUTION, TESTS, ("md hints", "## Hints\n\nAvoid: sum(")],
        3,
        "the hints cell has no numbered hints",
        "write the hints as a numbered list",
    ),
    "hints with stray text": (
        [PROMPT, SOLUTION, TESTS, ("md hints", "Think first.\n1. Then this.")],
        3,
        "line 1 of the hints cell is not a numbered hint: 'Think first.'",
        "write each hint as a numbered item",
    ),
    "two hints cells": (
        [PROMPT, SOLUTION, TESTS, ("md hints", "1. One."), ("md hints", "1. Two.")],
        4,
        "exercise 'f' already has a hints cell (cell 3)",
        "merge the hints into one cell",
    ),
}


@pytest.mark.parametrize("case", list(CELL_ERRORS), ids=list(CELL_ERRORS))
def test_cell_errors(case: str, write_lesson: WriteLesson) -> None:
    cells, index, problem, fix = CELL_ERRORS[case]
    expect(write_lesson(cells), index, problem, fix)


def _write_raw(write_lesson: WriteLesson, text: str) -> Path:
    folder = write_lesson([PROMPT, SOLUTION, TESTS])
    (folder / "lesson.ipynb").write_text(text, encoding="utf-8")
    return folder


def test_malformed_json(write_lesson: WriteLesson) -> None:
    folder = _write_raw(write_lesson, '{\n "cells": [\n  {"cell_type": "code",,}\n ]\n}')
    expect(
        folder,
        None,
        "malformed JSON at line 3, column 24: Expecting property name enclosed in double quotes",
        "fix the JSON there",
    )


def test_not_utf8(write_lesson: WriteLesson) -> None:
    folder = write_lesson([PROMPT, SOLUTION, TESTS])
    (folder / "lesson.ipynb").write_bytes(b'{"cells": "\xff"}')
    expect(folder, None, "not UTF-8 text (byte 11)", "save the notebook again")


@pytest.mark.parametrize("text", ["[1, 2]", '{"worksheets": []}'])
def test_not_a_notebook(write_lesson: WriteLesson, text: str) -> None:
    expect(
        _write_raw(write_lesson, text),
        None,
        "not a Jupyter notebook (no 'cells' and 'nbformat' at the top level)",
        "save a notebook from JupyterLab",
    )


def test_old_nbformat_says_how_to_convert(write_lesson: WriteLesson) -> None:
    # nbformat 3 keeps its cells in "worksheets": it must not read as "not a notebook".
    text = json.dumps({"worksheets": [{"cells": []}], "metadata": {}, "nbformat": 3})
    expect(
        _write_raw(write_lesson, text),
        None,
        "this is an old Jupyter notebook (format 3); eduproject reads format 4.4 or newer",
        "jupyter nbconvert --to notebook --inplace",
    )


@pytest.mark.parametrize(("major", "minor"), [(4, 2), (5, 0)])
def test_wrong_nbformat(write_lesson: WriteLesson, major: int, minor: int) -> None:
    text = json.dumps({"cells": [], "metadata": {}, "nbformat": major, "nbformat_minor": minor})
    error = expect(
        _write_raw(write_lesson, text),
        None,
        f"notebook format {major}.{minor} is not supported (need 4.4 or newer)",
        "jupyter nbconvert --to notebook --inplace",
    )
    assert "open it in JupyterLab and save it" in str(error)


def test_cell_that_is_not_a_cell(write_lesson: WriteLesson) -> None:
    text = json.dumps(
        {"cells": [{"cell_type": "video"}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    )
    expect(
        _write_raw(write_lesson, text),
        0,
        "not a notebook cell (needs 'cell_type' code/markdown/raw, 'source', 'metadata')",
        "re-create it in JupyterLab",
    )


def test_source_lines_that_are_not_strings(write_lesson: WriteLesson) -> None:
    folder = write_lesson([PROMPT, SOLUTION, TESTS])
    nb_path = folder / "lesson.ipynb"
    nb = json.loads(nb_path.read_text())
    nb["cells"][1]["source"] = ["x = 1\n", 2]
    nb_path.write_text(json.dumps(nb))
    expect(
        folder,
        1,
        "not a notebook cell (needs 'cell_type' code/markdown/raw, 'source', 'metadata')",
        "re-create it in JupyterLab",
    )


def test_duplicate_cell_ids(write_lesson: WriteLesson) -> None:
    folder = write_lesson([PROMPT, SOLUTION, TESTS])
    nb_path = folder / "lesson.ipynb"
    nb = json.loads(nb_path.read_text())
    nb["cells"][2]["id"] = "c1"
    nb_path.write_text(json.dumps(nb))
    expect(folder, 2, "cell id 'c1' is also used by cell 1", "ids must be unique")


def test_reserved_panel_cell_id(write_lesson: WriteLesson) -> None:
    folder = write_lesson([PROMPT, SOLUTION, TESTS])
    nb_path = folder / "lesson.ipynb"
    nb = json.loads(nb_path.read_text())
    nb["cells"][1]["id"] = "panel-f"
    nb_path.write_text(json.dumps(nb))
    expect(
        folder,
        1,
        "cell id 'panel-f' is reserved for the tutor panel cells",
        "give this cell a new id",
    )


def test_kernel_language_must_be_python(write_lesson: WriteLesson) -> None:
    folder = write_lesson([PROMPT, SOLUTION, TESTS])
    nb_path = folder / "lesson.ipynb"
    nb = json.loads(nb_path.read_text())
    nb["metadata"]["kernelspec"] = {"name": "ir", "language": "R", "display_name": "R"}
    nb_path.write_text(json.dumps(nb))
    expect(
        folder,
        None,
        "the notebook's kernel language is 'R'; eduproject lessons are Python",
        "select a Python 3 kernel",
    )


def test_several_notebooks(write_lesson: WriteLesson) -> None:
    folder = write_lesson([PROMPT, SOLUTION, TESTS])
    (folder / "copy.ipynb").write_text((folder / "lesson.ipynb").read_text())
    expect(
        folder,
        None,
        "several notebooks in one lesson folder (copy.ipynb, lesson.ipynb)",
        "keep exactly one source notebook per lesson",
        path=folder,
    )


def test_no_notebook(tmp_path: Path) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    expect(
        folder,
        None,
        "no .ipynb notebook in the lesson folder",
        "put the source notebook here",
        path=folder,
    )


def test_no_folder(tmp_path: Path) -> None:
    with pytest.raises(LessonFormatError, match="no such lesson folder"):
        load_lesson(tmp_path / "missing")


def test_bad_lesson_folder_name(write_lesson: WriteLesson) -> None:
    folder = write_lesson([PROMPT, SOLUTION, TESTS], "Lesson One")
    expect(
        folder,
        None,
        "lesson folder name 'Lesson One' is not a valid lesson id",
        "rename the folder using lowercase letters",
        path=folder,
    )
