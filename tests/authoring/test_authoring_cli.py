"""`eduproject release / validate / import`: output, exit codes and error messages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.cli import run_cli
from tests.support.lessons import GOOD, GOOD_DATA

WriteLesson = Callable[..., Path]


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    # rich wraps error messages at the terminal width (80 when output is captured).
    monkeypatch.setenv("COLUMNS", "1000")


def test_release_and_release_again(
    good_lesson: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, grader = tmp_path / "nb", tmp_path / "gr"
    args = ["release", str(good_lesson), "-o", str(out), "--grader-dir", str(grader)]
    code, stdout, _ = run_cli(args, capsys)
    assert code == 0
    assert stdout == (
        "released 01-good: 2 exercise(s), 4 file(s) written\n"
        f"  learner: {out}/01-good/01-good.ipynb\n"
        f"  grader:  {grader}/01-good/bundle.json\n"
    )
    code, stdout, _ = run_cli(args, capsys)
    assert (code, stdout.splitlines()[0]) == (0, "released 01-good: 2 exercise(s), unchanged")


def test_release_a_folder_of_lessons_and_check(
    write_lesson: WriteLesson, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_lesson(GOOD, "a", data=GOOD_DATA)
    write_lesson(GOOD, "b", data=GOOD_DATA)
    course, out = tmp_path / "exercises", tmp_path / "nb"
    check = ["release", str(course), "-o", str(out), "--check"]

    code, stdout, stderr = run_cli(check, capsys)
    assert (code, stdout) == (1, "")
    assert stderr.startswith("error: 6 released file(s) are out of date with the lesson sources:\n")
    assert f"  {out}/a/a.ipynb\n" in stderr
    assert stderr.endswith(f"  -> run `eduproject release {course} -o {out}`\n")

    code, stdout, _ = run_cli(
        ["release", str(course), "-o", str(out), "--grader-dir", str(tmp_path / "g")], capsys
    )
    assert code == 0
    assert [line for line in stdout.splitlines() if line.startswith("released")] == [
        "released a: 2 exercise(s), 4 file(s) written",
        "released b: 2 exercise(s), 4 file(s) written",
    ]
    code, stdout, _ = run_cli(check, capsys)
    assert (code, stdout) == (0, f"2 lesson(s) up to date in {out}\n")


def test_release_of_a_broken_lesson_exits_1_with_the_message(
    write_lesson: WriteLesson, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = write_lesson([("md exercise=f", "F"), ("code solutoin", "x = 1")], "bad")
    code, stdout, stderr = run_cli(["release", str(folder), "-o", str(tmp_path / "nb")], capsys)
    assert (code, stdout) == (1, "")
    first, hint = stderr.splitlines()
    assert (
        first == f"error: {folder}/bad.ipynb, cell 1 (starts `x = 1`): unknown tag 'solutoin' "
        "(did you mean `solution`?)"
    )
    assert hint.startswith("  -> use one of the eduproject tags `exercise=ID`")
    assert "Traceback" not in stderr


def test_release_of_a_missing_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, stderr = run_cli(["release", str(tmp_path / "nope")], capsys)
    assert (code, stderr) == (
        1,
        f"error: {tmp_path}/nope: no such lesson folder\n  -> give a folder under exercises/\n",
    )


@pytest.mark.slow
def test_validate_prints_a_table(good_lesson: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, stdout, stderr = run_cli(["validate", str(good_lesson)], capsys)
    assert (code, stderr) == (0, "")
    rows = [line for line in stdout.splitlines() if "01-good" in line]
    assert len(rows) == 2
    assert all(w in rows[0] for w in ("sum_evens", "3", "pass", "fails-as-expected"))
    assert all(w in rows[1] for w in ("area", "1", "pass", "fails-as-expected"))
    assert "1 lesson(s) validated in" in stdout


@pytest.mark.slow
def test_validate_a_broken_lesson_exits_1(
    write_lesson: WriteLesson, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = write_lesson(
        [
            ("md exercise=double", "# Double"),
            (
                "code solution",
                "def double(x):\n    ### BEGIN SOLUTION\n    return x + 2\n    ### END SOLUTION",
            ),
            ("code tests", "assert double(3) == 6"),
        ],
        "broken",
    )
    code, stdout, stderr = run_cli(["validate", str(folder)], capsys)
    assert code == 1
    assert "passes!" not in stdout and "fail" in stdout
    assert stderr == (
        "error: lesson 'broken' is broken:\n"
        "  lesson 'broken', exercise 'double', cell 2, test 'double-1': the solution fails: "
        "AssertionError (line 1 of the test: assert double(3) == 6)\n"
        "  -> fix the solution or the tests in exercises/broken, then run "
        "`eduproject validate exercises/broken` again\n"
    )


NBGRADER = {
    "cells": [
        {
            "cell_type": "markdown",
            "id": "p",
            "metadata": {
                "nbgrader": {
                    "grade": False,
                    "grade_id": "squares_prompt",
                    "locked": True,
                    "schema_version": 3,
                    "solution": False,
                    "task": False,
                }
            },
            "source": "# Squares\nWrite `squares(n)`.",
        },
        {
            "cell_type": "code",
            "execution_count": None,
            "id": "s",
            "metadata": {
                "nbgrader": {
                    "grade": False,
                    "grade_id": "squares",
                    "locked": False,
                    "schema_version": 3,
                    "solution": True,
                    "task": False,
                }
            },
            "outputs": [],
            "source": "def squares(n):\n    ### BEGIN SOLUTION\n    return [i * i for i in range(1, n + 1)]\n    ### END SOLUTION",
        },
        {
            "cell_type": "code",
            "execution_count": None,
            "id": "t",
            "metadata": {
                "nbgrader": {
                    "grade": True,
                    "grade_id": "test_squares",
                    "locked": True,
                    "points": 2,
                    "schema_version": 3,
                    "solution": False,
                    "task": False,
                }
            },
            "outputs": [],
            "source": "assert squares(3) == [1, 4, 9]\n### BEGIN HIDDEN TESTS\nassert squares(1) == [1]\n### END HIDDEN TESTS",
        },
    ],
    "metadata": {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}
    },
    "nbformat": 4,
    "nbformat_minor": 5,
}


def test_import_nbgrader_then_release(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "ps1.ipynb"
    src.write_text(json.dumps(NBGRADER))
    lesson = tmp_path / "exercises" / "ps1"
    code, stdout, stderr = run_cli(["import", "nbgrader", str(src), "-o", str(lesson)], capsys)
    assert (code, stderr) == (0, "")
    assert stdout.startswith(f"wrote {lesson}/")
    assert f"  1. eduproject validate {lesson}   (solutions pass, stubs fail)\n" in stdout
    assert stdout.endswith(f"  2. eduproject release {lesson} -o notebooks/\n")
    code, stdout, _ = run_cli(
        ["release", str(lesson), "-o", str(tmp_path / "nb"), "--grader-dir", str(tmp_path / "g")],
        capsys,
    )
    assert code == 0 and "released ps1: 1 exercise(s)" in stdout


def test_import_of_a_missing_file_exits_non_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, stdout, stderr = run_cli(
        ["import", "otter", str(tmp_path / "nope.ipynb"), "-o", str(tmp_path / "x")], capsys
    )
    assert code != 0 and stdout == ""
    assert stderr.startswith("error: ") and "nope.ipynb" in stderr and "Traceback" not in stderr


def test_unknown_tool_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, stderr = run_cli(["import", "moodle", "x.ipynb", "-o", str(tmp_path)], capsys)
    assert code == 2 and "moodle" in stderr


@pytest.mark.slow  # two fresh interpreters importing the whole CLI
def test_console_script(good_lesson: Path, tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("eduproject")
    args = [
        str(exe),
        "release",
        str(good_lesson),
        "-o",
        str(tmp_path / "nb"),
        "--grader-dir",
        str(tmp_path / "g"),
    ]
    env = {**os.environ, "COLUMNS": "1000"}
    done = subprocess.run(args, capture_output=True, text=True, check=False, env=env)
    # The lesson's one mixed visible/hidden test is worth a warning, nothing else.
    (warning,) = done.stderr.splitlines()
    assert done.returncode == 0 and warning.startswith("warning: 1 test(s) mix visible and hidden")
    assert done.stdout.startswith("released 01-good")
    bad = subprocess.run(
        [str(exe), "release", str(tmp_path / "none")],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert bad.returncode == 1
    assert (
        bad.stderr
        == f"error: {tmp_path}/none: no such lesson folder\n  -> give a folder under exercises/\n"
    )
