"""Manual exercises through grading: pending points, grades by hand, exports, feedback, report."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from eduproject.authoring.release import learner_notebook
from eduproject.core.answers import answer_cells
from eduproject.core.lesson import Lesson
from eduproject.core.results import Status
from eduproject.errors import GradebookError
from eduproject.grading.export import export, gradescope_results
from eduproject.grading.feedback import feedback_page
from eduproject.grading.gradebook import SCHEMA_VERSION, Gradebook
from eduproject.grading.manual import ManualDesk
from eduproject.grading.report import course_summary
from eduproject.runner.sandbox import Zygote
from tests.support.manual_lesson import MANUAL

from .grading_support import WriteLesson, bundle_lesson, grade


@pytest.fixture
def manual_lesson(write_lesson: WriteLesson, tmp_path: Path) -> Lesson:
    return bundle_lesson(write_lesson(MANUAL, "loops"), tmp_path / "grader")


def answered(lesson: Lesson, written: str, code: str, added: str | None = None) -> bytes:
    """The learner notebook with answers written in (and a cell added after the code)."""
    nb = learner_notebook(lesson)
    cells: list[dict[str, Any]] = []
    for cell in nb["cells"]:
        meta = cell["metadata"].get("eduproject", {})
        if meta.get("role") == "solution":
            cell["source"] = "def double(x):\n    return 2 * x"
        if meta.get("role") == "answer":
            cell["source"] = written if cell["cell_type"] == "markdown" else code
        cells.append(cell)
        if added is not None and meta.get("role") == "answer" and cell["cell_type"] == "code":
            cells.append({"cell_type": "markdown", "id": "mine", "metadata": {}, "source": added})
    nb["cells"] = cells
    return json.dumps(nb).encode()


def test_grading_records_manual_exercises_as_pending(
    manual_lesson: Lesson, zygote: Zygote, tmp_path: Path
) -> None:
    data = answered(manual_lesson, "Each item once.", "print(sum(range(4)))", "I also drew it.")
    result = grade(manual_lesson, zygote, data)
    double, explain, squares = result.exercises
    assert (double.score, double.manual) == (1, False)
    assert (explain.manual, explain.score, explain.max_score, explain.status) == (
        True,
        0,
        2,
        Status.GRADED,
    )
    assert len(explain.answer_hash) == 64 and explain.answer_hash != squares.answer_hash
    cells = answer_cells(result.executed_notebook, "squares")
    assert [c["cell_type"] for c in cells] == ["code", "markdown"]  # the added cell counts
    assert cells[0]["outputs"][0]["text"] == "6\n"  # run in the sandbox, output kept
    db = tmp_path / "gb.sqlite"
    with Gradebook(db) as gb:
        gb.record(result, gb.start_run("loops", manual_lesson.version, {}))
        [stored] = gb.results("loops")
    assert [e.status for e in stored.exercises] == [Status.GRADED, Status.PENDING, Status.PENDING]
    assert (stored.score, stored.max_score, stored.pending_points) == (1, 6, 5)


def test_points_given_by_hand_reach_results_exports_feedback_and_report(
    manual_lesson: Lesson, zygote: Zygote, tmp_path: Path
) -> None:
    db = tmp_path / "gb.sqlite"
    with Gradebook(db) as gb:
        run = gb.start_run("loops", manual_lesson.version, {})
        gb.record(grade(manual_lesson, zygote, answered(manual_lesson, "Once.", "print(1)")), run)
    desk = ManualDesk(manual_lesson, db)
    first = desk.next_pending()
    assert first is not None and (first.learner, first.exercise) == ("ada", "explain")
    assert desk.progress("explain").lesson_left == 2
    desk.grade("explain", "ada", first.answer_hash, 1.5, "Good; say why the total grows.")
    with pytest.raises(GradebookError, match=r"outside 0\.\.3"):
        desk.grade("squares", "ada", desk.answers("squares")[0].answer_hash, 4)
    with pytest.raises(GradebookError, match="changed since it was shown"):
        desk.grade("squares", "ada", "0" * 64, 1)
    assert desk.progress("squares").lesson_left == 1
    with Gradebook(db, create=False) as gb:
        [result] = gb.results("loops", with_notebooks=True)
    explain = result.exercises[1]
    assert (explain.score, explain.status, explain.comment) == (1.5, Status.GRADED, explain.comment)
    assert explain.comment == "Good; say why the total grows."
    assert (result.score, result.pending_points) == (2.5, 3)

    export(db, "csv", tmp_path / "grades.csv")
    rows = list(csv.DictReader((tmp_path / "grades.csv").read_text().splitlines()))
    assert [(r["exercise"], r["score"], r["status"]) for r in rows] == [
        ("double", "1", "graded"),
        ("explain", "1.5", "graded"),
        ("squares", "", "pending"),
    ]
    page = feedback_page(result)
    assert "Good; say why the total grows." in page
    assert "3 more points wait for your instructor" in page
    assert "your instructor has not graded this answer yet" in page
    scope = gradescope_results(result)
    manual = [t for t in scope["tests"] if "manual" in t["tags"]]
    assert [(t["score"], t["output"]) for t in manual] == [
        (1.5, "Good; say why the total grows."),
        (0.0, "waiting for the instructor's grading"),
    ]
    summary = course_summary([result])
    assert [(m.exercise, m.graded, m.pending) for m in summary.manual] == [
        ("explain", 1, 0),
        ("squares", 0, 1),
    ]
    assert summary.manual_pending == 1 and summary.lines[0].pending == 3


def test_a_changed_answer_waits_again_and_an_unchanged_one_keeps_its_points(
    manual_lesson: Lesson, zygote: Zygote, tmp_path: Path
) -> None:
    db = tmp_path / "gb.sqlite"
    first = grade(manual_lesson, zygote, answered(manual_lesson, "Once.", "print(1)"))
    with Gradebook(db) as gb:
        gb.record(first, gb.start_run("loops", manual_lesson.version, {}))
        for e in first.exercises[1:]:
            gb.set_manual_grade("loops", "ada", e.exercise, e.answer_hash, 1, "ok")
        # A resubmission that fixes only the written answer (a new submission hash).
        second = grade(
            manual_lesson, zygote, answered(manual_lesson, "Once, then more.", "print(1)")
        )
        assert second.submission_hash != first.submission_hash
        gb.record(second, gb.start_run("loops", manual_lesson.version, {}))
        [result] = gb.results("loops")
    assert [(e.exercise, e.status, e.score) for e in result.exercises[1:]] == [
        ("explain", Status.PENDING, 0),
        ("squares", Status.GRADED, 1),
    ]


def test_an_older_gradebook_is_migrated_to_the_manual_schema(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    Gradebook(path).close()
    with sqlite3.connect(path) as db:  # make it a schema-2 file, as eduproject 2 wrote it
        db.execute("DROP TABLE manual_grades")
        db.execute("ALTER TABLE exercises DROP COLUMN manual")
        db.execute("ALTER TABLE exercises DROP COLUMN answer_hash")
        db.execute("DELETE FROM schema_version")
        db.execute("INSERT INTO schema_version VALUES (2)")
        db.execute(
            "INSERT INTO runs (lesson, lesson_version, options, started_at, status)"
            " VALUES ('l', 'v', '{}', 0, 'finished')"
        )
        db.execute(
            "INSERT INTO submissions (learner, lesson, lesson_version, submission_hash, run_id,"
            " path, status, detail, duration_s, sandbox, score, max_score, recorded_at)"
            " VALUES ('ada', 'l', 'v', 'h', 1, 'p', 'graded', '', 0, '', 1, 1, 0)"
        )
        db.execute("INSERT INTO exercises VALUES (1, 0, 'e', 1, 1, 'graded', '')")
    with Gradebook(path) as gb:
        [result] = gb.results()
        assert gb.manual_grades("l") == []
    assert [(e.exercise, e.score, e.manual, e.status) for e in result.exercises] == [
        ("e", 1, False, Status.GRADED)
    ]
    with sqlite3.connect(path) as db:
        versions = [v for (v,) in db.execute("SELECT version FROM schema_version ORDER BY 1")]
    assert versions == [2, 3] and SCHEMA_VERSION == 3


def test_a_lesson_without_manual_exercises_has_nothing_to_grade_by_hand(
    write_lesson: WriteLesson, tmp_path: Path
) -> None:
    lesson = bundle_lesson(write_lesson(MANUAL[:4], "auto"), tmp_path / "grader")
    Gradebook(tmp_path / "gb.sqlite").close()
    with pytest.raises(Exception, match="has no manual exercises"):
        ManualDesk(lesson, tmp_path / "gb.sqlite")


def test_an_edited_test_cell_elsewhere_leaves_the_manual_answers_gradable(
    manual_lesson: Lesson, zygote: Zygote
) -> None:
    nb = json.loads(answered(manual_lesson, "Once.", "print(1)"))
    for cell in nb["cells"]:
        if cell["metadata"].get("eduproject", {}).get("role") == "tests":
            cell["source"] = "assert True"
    result = grade(manual_lesson, zygote, json.dumps(nb).encode())
    assert [(e.exercise, e.status) for e in result.exercises] == [
        ("double", Status.TAMPERED),
        ("explain", Status.GRADED),
        ("squares", Status.GRADED),
    ]
