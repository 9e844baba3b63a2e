"""Bad inputs to the importers: each ends in an ImportConversionError naming file and cell.

Also the nbgrader layouts that convert only with a report (tests before any answer,
answers without tests, a missing prompt, foreign tags).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from eduproject.authoring.importers import import_nbgrader, import_otter
from eduproject.authoring.parse import load_lesson
from eduproject.errors import ImportConversionError

SOLUTION = "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION"


def nbg(
    kind: str,
    text: str,
    grade_id: str | None = None,
    *,
    grade: bool = False,
    solution: bool = False,
    locked: bool = False,
    task: bool = False,
    points: float | None = None,
    tags: list[str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A cell with nbgrader metadata (none when grade_id is None)."""
    cell: dict[str, Any] = {"cell_type": kind, "metadata": {}, "source": text}
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    if grade_id is not None:
        meta: dict[str, Any] = {
            "schema_version": 3,
            "grade": grade,
            "solution": solution,
            "locked": locked,
        }
        meta.update(grade_id=grade_id, task=task, **extra)
        if points is not None:
            meta["points"] = points
        cell["metadata"]["nbgrader"] = meta
    if tags:
        cell["metadata"]["tags"] = tags
    return cell


def raw(text: str) -> dict[str, Any]:
    return {"cell_type": "raw", "metadata": {}, "source": text}


def md(text: str) -> dict[str, Any]:
    return {"cell_type": "markdown", "metadata": {}, "source": text}


def code(text: str, result: str | None = None) -> dict[str, Any]:
    outputs = []
    if result is not None:
        outputs.append(
            {
                "data": {"text/plain": result},
                "execution_count": 1,
                "metadata": {},
                "output_type": "execute_result",
            }
        )
    return {
        "cell_type": "code",
        "execution_count": 1,
        "metadata": {},
        "outputs": outputs,
        "source": text,
    }


def write(tmp_path: Path, cells: list[dict[str, Any]], name: str = "src.ipynb") -> Path:
    notebook = {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}
        },
        "nbformat": 4,
        "nbformat_minor": 4,
    }
    path = tmp_path / name
    path.write_text(json.dumps(notebook), encoding="utf-8")
    return path


def error_of(call: Any, *args: Any) -> str:
    with pytest.raises(ImportConversionError) as caught:
        call(*args)
    return str(caught.value)


# ---------------------------------------------------------------- any notebook


@pytest.mark.parametrize("importer", [import_nbgrader, import_otter])
def test_corrupt_json_names_file_line_and_column(importer: Any, tmp_path: Path) -> None:
    src = tmp_path / "broken.ipynb"
    src.write_text('{\n "cells": [\n  {"cell_type": "code",,}\n ]\n}', encoding="utf-8")
    assert error_of(importer, src, tmp_path / "out") == (
        f"{src}: malformed JSON at line 3, column 24: Expecting property name enclosed in double quotes\n"
        "  -> fix the JSON there, or restore the notebook from version control"
    )
    assert not (tmp_path / "out").exists()


def test_wrong_nbformat_missing_file_and_non_notebooks(tmp_path: Path) -> None:
    old = tmp_path / "old.ipynb"
    old.write_text(json.dumps({"cells": [], "nbformat": 3, "metadata": {}}))
    assert error_of(import_nbgrader, old, tmp_path / "out") == (
        f"{old}: notebook format 3 is not supported (need nbformat 4)\n"
        f"  -> convert it first: `jupyter nbconvert --to notebook --nbformat 4 {old}`"
    )
    missing = tmp_path / "missing.ipynb"
    assert error_of(import_otter, missing, tmp_path / "out") == (
        f"{missing}: no such file\n  -> give the path of the source notebook (.ipynb)"
    )
    listing = tmp_path / "list.ipynb"
    listing.write_text("[1, 2]")
    assert error_of(import_otter, listing, tmp_path / "out").startswith(
        f"{listing}: not a Jupyter notebook (no list of 'cells' at the top level)"
    )
    bad_cell = write(tmp_path, [md("# ok"), {"cell_type": "picture", "source": ""}])
    assert error_of(import_nbgrader, bad_cell, tmp_path / "out").startswith(
        f"{bad_cell}, cell 1: not a notebook cell"
    )


# ---------------------------------------------------------------- nbgrader


def test_nbgrader_duplicate_grade_ids(tmp_path: Path) -> None:
    src = write(
        tmp_path,
        [
            md("## Double"),
            nbg("code", SOLUTION, "double", solution=True),
            nbg("code", "assert double(2) == 4", "double_tests", grade=True, locked=True, points=1),
            nbg("code", "assert double(3) == 6", "double_tests", grade=True, locked=True, points=1),
        ],
    )
    assert error_of(import_nbgrader, src, tmp_path / "out") == (
        f"{src}, cell 3: duplicate nbgrader grade_id 'double_tests' (also used by cell 2)\n"
        "  -> give every graded, solution and read-only cell its own ID in nbgrader's "
        "Create Assignment toolbar (copied cells keep the ID of the original)"
    )


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        (
            nbg("code", SOLUTION, "double", solution=True, schema_version="2"),
            "cell 1: nbgrader metadata schema version '2' is not understood\n"
            "  -> upgrade the notebook first: `nbgrader update {src}`",
        ),
        (
            nbg("code", SOLUTION, "double", solution=True, schema_version=4),
            "cell 1: nbgrader metadata schema version 4 is newer than this importer (reads 1-3)",
        ),
        (
            nbg("code", "assert double(2) == 4", "t", grade=True),
            "cell 1: nbgrader cell 't' has points None, not a number >= 0",
        ),
        (
            nbg("code", SOLUTION, "", solution=True),
            "cell 1: nbgrader cell without a grade_id",
        ),
        (
            nbg("code", "def f():\n    ### BEGIN SOLUTION\n    return 1", "f", solution=True),
            "cell 1: `BEGIN SOLUTION` on line 2 is never closed\n"
            "  -> add `### END SOLUTION` after the last line of the region",
        ),
        (
            nbg(
                "code",
                "### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION",
                "f",
                solution=True,
            ),
            "cell 1: nested `BEGIN SOLUTION` on line 2 (the one on line 1 is still open)",
        ),
        (
            nbg("code", SOLUTION),
            "cell 1: solution region in a cell that is not an nbgrader solution cell (plain)",
        ),
        (
            nbg("code", "### BEGIN HIDDEN TESTS\nx = 1\n### END HIDDEN TESTS", "s", locked=True),
            "cell 1: hidden-test region in a cell that is not an nbgrader test cell (locked)",
        ),
        (
            nbg("markdown", "The answer", "a", grade=True, points=1),
            "cell 1: markdown cell 'a' is marked grade only",
        ),
        (
            nbg("code", "x = 1", "t", task=True, points=1),
            "cell 1: task cell 't' is a code cell",
        ),
    ],
)
def test_nbgrader_bad_cells(cell: dict[str, Any], message: str, tmp_path: Path) -> None:
    src = write(tmp_path, [md("## Intro"), cell])
    assert error_of(import_nbgrader, src, tmp_path / "out").startswith(
        f"{src}, " + message.format(src=src)
    )


def test_nbgrader_layouts_that_convert_with_a_report(tmp_path: Path) -> None:
    src = write(
        tmp_path,
        [
            nbg("code", "assert True", "early", grade=True, locked=True, points=3),
            md("## Double"),
            nbg("code", SOLUTION, "double", solution=True, tags=["hide-input", "otter_answer"]),
            nbg("code", "assert double(2) == 4", "double_tests", grade=True, locked=True, points=2),
            nbg("code", "import math", "setup"),  # an unmarked cell needs no grade id
            nbg(
                "code",
                "def half(x):\n    ### BEGIN SOLUTION\n    ### END SOLUTION",
                "half",
                solution=True,
            ),
            nbg(
                "code",
                "assert half(4) == 2 or True",
                "half_tests",
                grade=True,
                locked=True,
                points=1,
            ),
            nbg("code", "def third(x):\n    return x / 3", "third", solution=True),
            nbg(
                "code",
                "def plot():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION",
                "plot",
                grade=True,
                solution=True,
                points=2,
            ),
        ],
    )
    report = import_nbgrader(src, tmp_path / "out")
    assert report.exercises == ["double", "half", "plot"]
    assert report.problems == [
        "cell 0: test cell 'early' (3 points) comes before any solution cell, so it belongs to "
        "no exercise: left out of the imported lesson; move it below the solution it tests and "
        "import again",
        "cell 2: tag 'otter_answer' dropped: eduproject rejects tags it does not know "
        "(docs/format.md lists the allowed ones)",
        "cell 5: no markdown prompt just above solution cell 'half': inserted a heading cell as "
        "the prompt of exercise 'half'; write the task there",
        "cell 7: solution cell 'third' has no test cell after it: it joins exercise 'half' as "
        "one more solution cell",
        "cell 8: no markdown prompt just above manually graded answer 'plot': inserted a "
        "heading cell as the prompt of exercise 'plot'; write the task there",
        "cell 8: manually graded answer 'plot' (2 points) becomes the manual exercise 'plot' "
        "(the instructor's answer stays in the grader bundle); grade the answers with "
        "`eduproject manual`",
    ]
    lesson = load_lesson(tmp_path / "out")
    half = lesson.exercise("half")
    assert half.solution.count("def ") == 2  # the trailing answer joined the exercise
    assert "pass" in half.solution  # the empty region got a body
    double_cell = next(c for c in lesson.cells if c.origin == "double" and c.kind == "code")
    assert double_cell.foreign_tags == ("hide-input",)
    manual = next(c for c in lesson.cells if "def plot" in c.source)
    assert (
        manual.learner_source
        == "def plot():\n    # YOUR CODE HERE\n    raise NotImplementedError()"
    )
    plot = lesson.exercise("plot")
    assert (plot.manual, plot.max_score, plot.model_answer) == (
        True,
        2,
        "def plot():\n    return 1",
    )


def test_nbgrader_ids_are_sanitised_and_kept_unique(tmp_path: Path) -> None:
    src = write(
        tmp_path,
        [
            md("## A"),
            nbg("code", SOLUTION, "part a", solution=True),
            nbg("code", "assert double(1) == 2", "t1", grade=True, points=1),
            md("## B"),
            nbg("code", SOLUTION, "part-a!", solution=True),
            nbg("code", "assert double(2) == 4", "t2", grade=True, points=1),
        ],
    )
    report = import_nbgrader(src, tmp_path / "out")
    assert report.exercises == ["part_a", "part-a"]
    lesson = load_lesson(tmp_path / "out")
    assert [e.origin for e in lesson.exercises] == ["part a", "part-a!"]


# ---------------------------------------------------------------- otter


def q(name: str, *more: str) -> dict[str, Any]:
    return raw("\n".join(["# BEGIN QUESTION", f"name: {name}", *more]))


QUESTION = [
    md("**Question 1.** Set `x` to 2."),
    raw("# BEGIN SOLUTION"),
    code("x = 2 # SOLUTION"),
    raw("# END SOLUTION"),
    raw("# BEGIN TESTS"),
    code("x == 2", result="True"),
    raw("# END TESTS"),
]


def test_otter_unclosed_question(tmp_path: Path) -> None:
    src = write(tmp_path, [md("# HW"), q("q1"), *QUESTION])
    assert error_of(import_otter, src, tmp_path / "out") == (
        f"{src}, cell 1: `# BEGIN QUESTION` (question 'q1') is never closed: the notebook ends "
        "inside it\n  -> add a raw cell `# END QUESTION` after the question's last cell"
    )
    nested = write(
        tmp_path, [q("q1"), *QUESTION, q("q2"), *QUESTION, raw("# END QUESTION")], "nested.ipynb"
    )
    assert error_of(import_otter, nested, tmp_path / "out") == (
        f"{nested}, cell 8: `# BEGIN QUESTION` inside question 'q1' (begun in cell 0), which "
        "has no `# END QUESTION` yet\n"
        "  -> add a raw cell `# END QUESTION` after the last cell of the previous question"
    )


@pytest.mark.parametrize(
    ("cells", "message"),
    [
        (
            [q("q1"), raw("# BEGIN TESTS"), code("x", "2"), raw("# END QUESTION")],
            "cell 3: `# END QUESTION` while the `# BEGIN TESTS` block of cell 1 is still open\n"
            "  -> add a raw cell `# END TESTS` before this one",
        ),
        (
            [raw("# END TESTS")],
            "cell 0: `# END TESTS` without a `# BEGIN TESTS` before it",
        ),
        (
            [raw("# BEGIN SOLUTION"), code("x = 2 # SOLUTION"), raw("# END SOLUTION")],
            "cell 0: `# BEGIN SOLUTION` outside a question",
        ),
        (
            [raw("# BEGIN QUESTION\npoints: 2"), *QUESTION, raw("# END QUESTION")],
            "cell 0: `# BEGIN QUESTION` without a name\n"
            "  -> add a line `name: q1` (the question's name) to the raw cell",
        ),
        (
            [q("q1"), *QUESTION, raw("# END QUESTION"), q("q1"), *QUESTION, raw("# END QUESTION")],
            "cell 9: duplicate question name 'q1' (also used in cell 0)",
        ),
        (
            [q("q1", "points: [1, 2]"), *QUESTION, raw("# END QUESTION")],
            "cell 0: question 'q1': points lists 2 values but the question has 1 tests",
        ),
        (
            [
                q("q1", "points: 1"),
                *QUESTION[:5],
                code('""" # BEGIN TEST CONFIG\npoints: 3\n""" # END TEST CONFIG\nx == 2', "True"),
                raw("# END TESTS"),
                raw("# END QUESTION"),
            ],
            "cell 0: question 'q1': its tests declare 3 points, more than the question's 1",
        ),
        (
            [raw("# BEGIN QUESTION\nname: [q1"), raw("# END QUESTION")],
            "cell 0: the question config is not valid YAML:",
        ),
        (
            [q("q1"), *QUESTION[:5], md("a note"), raw("# END TESTS"), raw("# END QUESTION")],
            "cell 6: question 'q1': a markdown cell in the tests block",
        ),
        (
            [
                q("q1"),
                *QUESTION[:5],
                code("%timeit x", None),
                raw("# END TESTS"),
                raw("# END QUESTION"),
            ],
            "cell 6: question 'q1': test code does not parse (line 1: invalid syntax)",
        ),
        (
            [
                q("q1"),
                *QUESTION[:2],
                code("x = 1\n# BEGIN SOLUTION\nx = 2"),
                *QUESTION[3:],
                raw("# END QUESTION"),
            ],
            "cell 3: question 'q1': a `# BEGIN SOLUTION` block is never closed",
        ),
    ],
)
def test_otter_bad_structure(cells: list[dict[str, Any]], message: str, tmp_path: Path) -> None:
    src = write(tmp_path, cells)
    assert error_of(import_otter, src, tmp_path / "out").startswith(f"{src}, {message}")


def test_nbgrader_autotest_and_comment_only_tests_are_reported(tmp_path: Path) -> None:
    src = write(
        tmp_path,
        [
            md("Create `a` and `b`."),
            nbg(
                "code",
                "### BEGIN SOLUTION\na = 5\nb = 'hi'\n### END SOLUTION",
                "soln",
                solution=True,
            ),
            nbg("code", "### AUTOTEST a\n### HASHED AUTOTEST b", "auto", grade=True, points=2),
            nbg("code", "#assert a == 5", "commented", grade=True, points=1),
            nbg("code", "### AUTOTEST a\nassert b == 'hi'", "mixed", grade=True, points=1),
        ],
    )
    report = import_nbgrader(src, tmp_path / "out")
    assert report.problems == [
        "cell 2: test cell 'auto' (2 points) holds only `### AUTOTEST` lines, which nbgrader "
        "expands by running the solution against its autotests.yml templates: left out of the "
        "imported lesson; write the checks out as asserts and import again",
        "cell 3: test cell 'commented' (1 point) has no code, only comments: left out of the "
        "imported lesson",
        "cell 4: test cell 'mixed': its `### AUTOTEST` lines are kept as comments and not run "
        "(nbgrader expands them by running the solution against its autotests.yml templates); "
        "write them out as asserts",
    ]
    (exercise,) = load_lesson(tmp_path / "out").exercises
    assert [t.origin for t in exercise.tests] == ["mixed"]


def test_every_notebook_in_nbgraders_own_test_suite_imports_or_is_refused(tmp_path: Path) -> None:
    """nbgrader's test notebooks (old schemas, submissions, autotests, bad metadata...): each
    either becomes a lesson our parser accepts or stops with an ImportConversionError."""
    import nbgrader

    notebooks = sorted(Path(nbgrader.__file__).parent.joinpath("tests").rglob("*.ipynb"))
    assert len(notebooks) > 40
    imported = refused = 0
    for number, notebook in enumerate(notebooks):
        out = tmp_path / f"n{number}"
        try:
            import_nbgrader(notebook, out)
        except ImportConversionError as exc:
            assert str(exc).startswith(str(notebook)), exc
            refused += 1
            continue
        load_lesson(out)
        imported += 1
    assert imported > 30 and refused > 5
