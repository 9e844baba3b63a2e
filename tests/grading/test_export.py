"""Exports: long CSV (exact columns), Canvas import CSV, Gradescope results.json."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import jsonschema
import pytest

from eduproject.cli import main
from eduproject.core import results
from eduproject.core.results import ExerciseResult, Status
from eduproject.errors import ConfigError, GradebookError
from eduproject.grading.export import CSV_COLUMNS, export, file_stem
from eduproject.grading.gradebook import Gradebook

from .gradebook_samples import (
    HIDDEN_SECRET,
    L1,
    L2,
    V1,
    VISIBLE_MESSAGE,
    make_class,
    submission,
)

# Gradescope's autograder output format (gradescope-autograders.readthedocs.io, "specs"),
# written down as a schema so that a misspelt or mistyped key fails the test.
_VISIBILITY = {"enum": ["hidden", "after_due_date", "after_published", "visible"]}
_FORMAT = {"enum": ["text", "html", "simple_format", "md", "ansi"]}
GRADESCOPE_SCHEMA = {
    "type": "object",
    "required": ["score", "tests"],
    "additionalProperties": False,
    "properties": {
        "score": {"type": "number"},
        "execution_time": {"type": "number", "minimum": 0},
        "output": {"type": "string"},
        "output_format": _FORMAT,
        "test_output_format": _FORMAT,
        "test_name_format": _FORMAT,
        "visibility": _VISIBILITY,
        "stdout_visibility": _VISIBILITY,
        "extra_data": {"type": "object"},
        "leaderboard": {"type": "array"},
        "tests": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "score", "max_score", "status", "output", "visibility"],
                "additionalProperties": False,
                "properties": {
                    "score": {"type": "number"},
                    "max_score": {"type": "number"},
                    "status": {"enum": ["passed", "failed"]},
                    "name": {"type": "string", "minLength": 1},
                    "name_format": _FORMAT,
                    "number": {"type": "string"},
                    "output": {"type": "string"},
                    "output_format": _FORMAT,
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "visibility": _VISIBILITY,
                    "extra_data": {"type": "object"},
                },
            },
        },
    },
}


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "gradebook.sqlite"
    with Gradebook(path) as gb:
        run = gb.start_run(L1, V1, {})
        for r in make_class():
            gb.record(r, run)
        # Fractional points, an unreadable notebook with no exercise at all, and a name
        # that needs CSV quoting.
        odd = ExerciseResult("thirds", 1 / 3, 1.5, Status.GRADED, "", ())
        gb.record(submission("Lovelace, Ada", L2, (odd,)), run)
        gb.record(submission("hal", L2, (), status=Status.INVALID, detail="nbformat 3"), run)
    return path


def _rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def test_csv_has_exactly_the_documented_columns_and_values(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "grades.csv"
    done = export(db, "csv", out)
    rows = _rows(out)
    assert rows[0] == ["learner", "lesson", "exercise", "score", "max_score", "status"]
    assert tuple(rows[0]) == CSV_COLUMNS
    assert out.read_text(encoding="utf-8").startswith(
        "learner,lesson,exercise,score,max_score,status\n"
    )
    body = rows[1:]
    assert ["ada", L1, "sum_evens", "5", "5", "graded"] in body
    assert ["bob", L1, "sum_evens", "1", "5", "graded"] in body
    assert ["cy", L1, "sum_evens", "0", "5", "error"] in body
    assert ["dee", L1, "fizz", "0", "2", "timeout"] in body
    assert ["eve", L1, "fizz", "0", "2", "invalid"] in body
    assert ["fay", L1, "sum_evens", "0", "5", "tampered"] in body
    assert ["zoë o'brien", L1, "fizz", "0", "2", "killed"] in body
    assert ["Lovelace, Ada", L2, "thirds", "0.333333", "1.5", "graded"] in body
    # A notebook that could not be read at all still gives its learner a row.
    assert ["hal", L2, "", "0", "0", "invalid"] in body
    exercises = sum(max(1, len(r.exercises)) for r in make_class()) + 2
    assert len(body) == exercises == done.rows
    assert done.submissions == len(make_class()) + 2
    assert all(len(r) == 6 for r in body)


def test_csv_lesson_filter(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "sub" / "loops.csv"
    export(db, "csv", out, lesson=L2)
    assert {r[1] for r in _rows(out)[1:]} == {L2}
    with pytest.raises(GradebookError, match="no results for lesson 'nope'") as info:
        export(db, "csv", out, lesson="nope")
    assert "01-functions, 02-loops" in str(info.value)


def test_canvas_import_csv(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "canvas.csv"
    export(db, "canvas", out)
    rows = _rows(out)
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", L1, L2]
    assert rows[1] == ["    Points Possible", "", "", "", "", "7", "3"]
    by_name = {r[0]: r for r in rows[2:]}
    assert by_name["ada"] == ["ada", "", "", "", "", "7", "3"]
    assert by_name["bob"] == ["bob", "", "", "", "", "3", "0"]
    assert by_name["cy"] == ["cy", "", "", "", "", "0", ""]  # blank: no 02-loops submission
    assert by_name["Lovelace, Ada"][5:] == ["", "0.333333"]
    assert by_name["hal"][5:] == ["", "0"]
    assert len(rows) == 2 + len({r.learner for r in make_class()} | {"Lovelace, Ada", "hal"})


def test_gradescope_results_follow_the_spec(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "gradescope"
    done = export(db, "gradescope", out)
    assert len(done.files) == len(make_class()) + 2
    validator = jsonschema.Draft7Validator(GRADESCOPE_SCHEMA)
    docs = {}
    for path in done.files:
        assert path.name == "results.json"
        doc = json.loads(path.read_text(encoding="utf-8"))
        validator.validate(doc)
        docs[(path.parent.parent.name, path.parent.name)] = doc
    bob = docs[(L1, "bob")]
    assert bob["score"] == 3.0 and bob["extra_data"]["max_score"] == 7.0
    assert bob["execution_time"] == 0.52
    tests = {t["name"]: t for t in bob["tests"]}
    assert tests["sum_evens: negatives"] == {
        "name": "sum_evens: negatives",
        "number": "1.2",
        "score": 0.0,
        "max_score": 2.0,
        "status": "failed",
        "output": VISIBLE_MESSAGE,
        "output_format": "text",
        "tags": ["sum_evens"],
        "visibility": "visible",
    }
    hidden = tests["sum_evens: big-range"]
    assert hidden["visibility"] == "after_published" and hidden["output"] == ""
    assert (hidden["score"], hidden["max_score"]) == (0.0, 2.0)
    # An exercise with no test run explains itself with one entry.
    eve = {t["name"]: t for t in docs[(L1, "eve")]["tests"]}
    assert eve["fizz (invalid)"]["output"] == "not JSON: line 1 column 1"
    assert "timeout" in docs[(L1, "dee")]["tests"][-1]["name"]
    assert docs[(L2, "hal")]["tests"] == [] and "nbformat 3" in docs[(L2, "hal")]["output"]
    assert (out / L1 / file_stem("zoë o'brien") / "results.json").is_file()


def test_no_export_ever_contains_a_hidden_test_message(db: Path, tmp_path: Path) -> None:
    for fmt in ("csv", "canvas", "gradescope"):
        export(db, fmt, tmp_path / fmt)
    texts = [p.read_text(encoding="utf-8") for p in tmp_path.rglob("*") if p.is_file()
             and p.suffix != ".sqlite" and "sqlite" not in p.name]  # fmt: skip
    assert len(texts) > 3
    assert not any(HIDDEN_SECRET in t or "2550" in t for t in texts)


def test_visible_test_without_message_borrows_the_exercise_detail(tmp_path: Path) -> None:
    from eduproject.grading.export import gradescope_results

    t = results.TestOutcome("t1", "ex", 0.0, 1.0, False, False, "")
    r = submission(
        "x", L1, (ExerciseResult("ex", 0.0, 1.0, Status.ERROR, "ZeroDivisionError", (t,)),)
    )
    [entry] = gradescope_results(r)["tests"]
    assert entry["output"] == "ZeroDivisionError"


def test_file_stems_are_safe_and_distinct() -> None:
    assert file_stem("ada") == "ada"
    assert file_stem("learner-07_b.c") == "learner-07_b.c"
    names = ["a b", "a_b", "a/b", "../..", "", ".", "é", "e"]
    stems = [file_stem(n) for n in names]
    assert len(set(stems)) == len(names)
    for s in stems:
        assert s and "/" not in s and s not in {".", ".."} and not s.startswith(".")


def test_unknown_format_and_missing_gradebook(db: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown export format 'xlsx'") as info:
        export(db, "xlsx", tmp_path / "g.xlsx")
    assert "csv" in str(info.value) and "canvas" in str(info.value)
    with pytest.raises(GradebookError, match="no gradebook here"):
        export(tmp_path / "nope.sqlite", "csv", tmp_path / "g.csv")


def test_export_command(db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "grades.csv"
    main(["export", str(db), "--format", "csv", "-o", str(out), "--lesson", L1])
    assert "exported 7 submissions (csv, 14 rows)" in capsys.readouterr().out
    assert _rows(out)[0] == list(CSV_COLUMNS)
    main(["export", str(db), "-f", "gradescope", "-o", str(tmp_path / "gs")])
    assert "results.json under" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        main(["export", str(db), "-f", "pdf", "-o", str(tmp_path / "x")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "unknown export format 'pdf'" in err and "Traceback" not in err
