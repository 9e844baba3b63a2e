"""Finding submissions in the three layouts, reading them strictly, matching and tamper checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from eduproject.authoring.importers.nbgrader import import_nbgrader
from eduproject.authoring.importers.otter import import_otter
from eduproject.authoring.release import learner_notebook
from eduproject.core.lesson import Lesson
from eduproject.errors import SubmissionError
from eduproject.runner.submissions import discover, match_cells, parse_notebook

from .grading_support import BASIC_ANSWERS, bundle_lesson, cells_with_role, submission

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def touch(path: Path, data: bytes = b"{}") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_discovers_flat_files_learner_folders_and_nbgrader_layout(tmp_path: Path) -> None:
    root = tmp_path / "subs"
    touch(root / "ada.ipynb")
    touch(root / "grace" / "lesson.ipynb")
    touch(root / "alan" / "lesson" / "lesson.ipynb")  # nbgrader: <learner>/<assignment>/...
    touch(root / "alan" / "lesson" / "timestamp.txt", b"2024-01-01")
    touch(root / "notes.txt", b"hi")
    touch(root / "_manifest.json")
    touch(root / ".ipynb_checkpoints" / "x.ipynb")
    (root / "empty").mkdir()
    touch(root / "two" / "a.ipynb")
    touch(root / "two" / "b.ipynb")
    touch(root / "pick" / "scratch.ipynb")
    touch(root / "pick" / "lesson.ipynb")
    touch(root / "essay" / "answers.pdf")
    found = discover(root, "lesson")
    by_name = {s.learner: s for s in found.submissions}
    assert sorted(by_name) == ["ada", "alan", "empty", "essay", "grace", "pick", "two"]
    assert by_name["ada"].path == root / "ada.ipynb" and by_name["ada"].problem is None
    assert by_name["grace"].path == root / "grace" / "lesson.ipynb"
    assert by_name["alan"].path == root / "alan" / "lesson" / "lesson.ipynb"
    assert by_name["pick"].path == root / "pick" / "lesson.ipynb"
    assert by_name["empty"].problem == "empty folder: no notebook (.ipynb) in it"
    assert by_name["essay"].problem == "empty folder: no notebook (.ipynb) in it"
    assert by_name["two"].problem == "several notebooks (a.ipynb, b.ipynb); keep one"
    assert f"ignored {root / 'notes.txt'}: not a notebook (.ipynb)" in found.skipped
    assert f"ignored {root / 'essay' / 'answers.pdf'}: not a notebook (.ipynb)" in found.skipped


def test_nbgrader_course_folder_is_understood(tmp_path: Path) -> None:
    touch(tmp_path / "course" / "submitted" / "ada" / "ps1" / "ps1.ipynb")
    touch(tmp_path / "course" / "source" / "ps1" / "ps1.ipynb")
    found = discover(tmp_path / "course", "ps1")
    assert [(s.learner, s.path.name) for s in found.submissions] == [("ada", "ps1.ipynb")]


def test_missing_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SubmissionError, match="not a folder of submissions"):
        discover(tmp_path / "nope", "lesson")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file: not a notebook"),
        (b'{"cells": [', "not valid JSON"),
        (b"\xff\xfe{}", "not UTF-8 text (byte 0xff at offset 0)"),
        (b'{"nbformat": 3, "worksheets": []}', "nbformat 3 notebook; only nbformat 4 is graded"),
        (b'["not", "a", "notebook"]', "not a Jupyter notebook"),
        (b'{"nbformat": 4, "cells": {"x": 1}}', "'cells' is not a list"),
        (
            b'{"nbformat": 4, "cells": [{"cell_type": "code", "source": 5}]}',
            "cell 0 has a malformed source",
        ),
        (b'{"nbformat": 4, "cells": [{"source": ""}]}', "cell 0 has no valid cell_type"),
    ],
)
def test_unreadable_notebooks_give_a_clear_reason(data: bytes, reason: str) -> None:
    with pytest.raises(SubmissionError) as err:
        parse_notebook(data)
    assert reason in err.value.message


def _match(lesson: Lesson, data: bytes) -> Any:
    meta, cells = parse_notebook(data)
    return match_cells(lesson, meta, cells)


def test_released_notebook_matches_without_tampering(basic_lesson: Lesson) -> None:
    matched = _match(basic_lesson, submission(basic_lesson, BASIC_ANSWERS))
    assert matched.tampered == {}
    roles = [b.role.value if b else None for _, b in matched.pairs]
    assert roles.count("solution") == 2 and roles.count("tests") == 2
    panels = [
        i for i, (c, _) in enumerate(matched.pairs) if c.metadata["eduproject"]["role"] == "panel"
    ]
    assert len(panels) >= 2 and matched.ignored == set(panels)  # tutor cells are never run


def edit_tests(change: Any) -> Any:
    def edit(nb: dict[str, Any]) -> None:
        change(nb, cells_with_role(nb, "tests"))

    return edit


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda nb, t: t[0].update(source="assert True"), "test cell 'c3' was edited"),
        (lambda nb, t: nb["cells"].remove(t[0]), "test cell 'c3' was deleted"),
        (
            lambda nb, t: nb["cells"].append(json.loads(json.dumps(t[0]))),
            "test cell 'c3' appears 2 times (duplicated)",
        ),
        (
            lambda nb, t: t[0]["metadata"]["eduproject"].update(points=100),
            "points of test cell 'c3' changed to 100",
        ),
        (
            lambda nb, t: t[0]["metadata"].update(nbgrader={"points": 9}),
            "points of test cell 'c3' changed to 9",
        ),
    ],
)
def test_tampering_is_named(basic_lesson: Lesson, change: Any, reason: str) -> None:
    matched = _match(basic_lesson, submission(basic_lesson, BASIC_ANSWERS, edit_tests(change)))
    assert list(matched.tampered) == ["double"]
    assert any(r.startswith(reason) for r in matched.tampered["double"]), matched.tampered


def test_whitespace_edits_are_not_tampering(basic_lesson: Lesson) -> None:
    def reformat(nb: dict[str, Any], tests: list[dict[str, Any]]) -> None:
        source = "".join(tests[1]["source"])
        tests[1]["source"] = "\n\n" + source.replace("\n", "   \n") + "\n\n"

    assert (
        _match(basic_lesson, submission(basic_lesson, BASIC_ANSWERS, edit_tests(reformat))).tampered
        == {}
    )


def test_notebook_of_another_lesson_is_refused(basic_lesson: Lesson) -> None:
    def other(nb: dict[str, Any]) -> None:
        nb["metadata"]["eduproject"]["lesson"] = "another"

    with pytest.raises(SubmissionError, match="released for lesson 'another', not 'basic'"):
        _match(basic_lesson, submission(basic_lesson, BASIC_ANSWERS, other))
    blank = json.dumps(
        {
            "nbformat": 4,
            "nbformat_minor": 5,
            "metadata": {},
            "cells": [{"cell_type": "code", "source": "x = 1", "metadata": {}}],
        }
    )
    with pytest.raises(SubmissionError, match="no cell of this notebook belongs to lesson 'basic'"):
        _match(basic_lesson, blank.encode())


def test_nbgrader_submissions_match_by_grade_id(tmp_path: Path) -> None:
    import_nbgrader(FIXTURES / "nbgrader" / "ps1.ipynb", tmp_path / "ps1")
    lesson = bundle_lesson(tmp_path / "ps1", tmp_path / "grader")
    nb = learner_notebook(lesson)
    by_id = {c.cell_id: c for c in lesson.cells}
    nb["cells"] = [c for c in nb["cells"] if c["metadata"]["eduproject"]["role"] != "panel"]
    for cell in nb["cells"]:
        bundle = by_id[cell["metadata"].pop("eduproject")["cell"]]
        if bundle.origin is not None:
            cell["metadata"]["nbgrader"] = {"grade_id": bundle.origin, "points": bundle.points}
    nb["metadata"].pop("eduproject")
    matched = _match(lesson, json.dumps(nb).encode())
    assert matched.tampered == {}
    paired = {b.cell_id for _, b in matched.pairs if b is not None}
    assert {"squares", "correct_squares", "sum_of_squares_large", "cube_tests", "imports"} <= paired


def test_otter_submissions_match_by_their_check_cells(tmp_path: Path) -> None:
    import_otter(FIXTURES / "otter" / "hw01.ipynb", tmp_path / "hw01")
    lesson = bundle_lesson(tmp_path / "hw01", tmp_path / "grader")
    cells = [
        {"cell_type": "code", "metadata": {}, "source": "import otter\ngrader = otter.Notebook()"},
        {"cell_type": "markdown", "metadata": {}, "source": "**Question 1.** ..."},
        {"cell_type": "code", "metadata": {}, "source": "answer = 1"},
        {"cell_type": "code", "metadata": {}, "source": 'grader.check("q1")'},
        {"cell_type": "code", "metadata": {}, "source": "second = 2"},
        {"cell_type": "code", "metadata": {}, "source": "grader.check('q2')"},
        {"cell_type": "code", "metadata": {}, "source": "grader.check_all()"},
    ]
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}
    matched = _match(lesson, json.dumps(nb).encode())
    assert [b.cell_id if b else None for _, b in matched.pairs] == [
        None,
        None,
        "q1-solution",
        None,
        "q2-solution",
        None,
        None,
    ]
    assert matched.ignored == {0, 3, 5, 6}
    assert matched.tampered == {}  # otter notebooks never hold the test cells
