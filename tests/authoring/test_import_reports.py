"""What real notebooks hold besides exercises: magics, shell lines and installs (never run by
validate or grading, listed by the import), old nbformat and nbgrader schemas, and the short
import report that groups repeated notes and ends with what to do next."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from eduproject.authoring.importers import import_nbgrader
from tests.support.cli import run_cli

from .test_import_files import scores, solution_submission
from .test_importers_bad import md, nbg, write

SHELL_CELLS = [
    ("md", "# Shell lines"),
    ("code", "!touch shell-ran.txt\n%pip install nonexistent-package-xyz\nlisting = !ls"),
    ("code", "%%bash\ntouch bash-ran.txt"),
    ("code", "%matplotlib inline\n%load_ext autoreload\n%autoreload 2"),
    ("code", "%%time\nz = 1"),
    ("md exercise=f", "## f\nWrite `f()`: return 1."),
    ("code solution", "def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION"),
    (
        "code tests",
        "import os\nassert f() == 1 and z == 1 and listing == []\n"
        "assert not os.path.exists('shell-ran.txt') and not os.path.exists('bash-ran.txt')",
    ),
]


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "1000")


def test_shell_lines_and_installs_never_run_in_validate_or_grading(
    write_lesson: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lesson = write_lesson(SHELL_CELLS, "shell")
    code, stdout, stderr = run_cli(["validate", str(lesson), "--cell-timeout", "60"], capsys)
    assert code == 0, stdout + stderr
    assert not list(tmp_path.rglob("shell-ran.txt")) and not list(tmp_path.rglob("bash-ran.txt"))

    out = tmp_path / "notebooks"
    assert run_cli(["release", str(lesson), "-o", str(out)], capsys)[0] == 0
    subs = tmp_path / "subs"
    solution_submission(lesson, out / "shell" / "shell.ipynb", subs / "ada" / "shell.ipynb")
    db = tmp_path / "gradebook.sqlite"
    code, stdout, stderr = run_cli(
        ["grade", str(lesson), str(subs), "--db", str(db), "--workers", "1", "--no-progress"],
        capsys,
    )
    assert code == 0, stdout + stderr
    assert scores(db, "shell") == {("ada", "f"): 1.0}


def test_the_report_groups_repeated_notes_and_ends_with_next_steps(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tagged = [
        md(f"Step {k}.") | {"metadata": {"tags": ["foo" if k < 5 else "bar"]}} for k in range(7)
    ]
    cells = [
        *tagged,
        nbg("code", "!pip install numpy\n%pip install scipy==1.13", "setup", locked=True),
        md("## Double"),
        nbg(
            "code",
            "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
            "double",
            solution=True,
        ),
        nbg("code", "assert double(2) == 4", "tests", grade=True, locked=True, points=1),
    ]
    src = write(tmp_path, cells)
    notebook = json.loads(src.read_text())
    notebook["nbformat_minor"] = 2
    notebook["cells"][7]["metadata"]["nbgrader"]["schema_version"] = 1
    del notebook["cells"][9]["metadata"]["nbgrader"]["schema_version"]  # v0: no version
    del notebook["cells"][9]["metadata"]["nbgrader"]["task"]
    src.write_text(json.dumps(notebook))
    lesson = tmp_path / "exercises" / "ps1"
    code, stdout, stderr = run_cli(["import", "nbgrader", str(src), "-o", str(lesson)], capsys)
    assert (code, stderr) == (0, "")
    assert stdout == (
        f"wrote {lesson}/ps1.ipynb (lesson 'ps1', 1 exercises: double)\n"
        "2 shell / install line(s), never run by validate or grade (install what they need in "
        "the course environment):\n"
        "  !pip install numpy\n"
        "  %pip install scipy==1.13\n"
        "3 kind(s) of thing were not converted as they were:\n"
        "  - 2 cells with nbgrader metadata of an older schema, read as v3 (the fields v3 added "
        f"take their defaults; `nbgrader update {src}` writes the same): v1 (cell 7); v0 (cell 9)\n"
        "  - 7 tags dropped (eduproject rejects tags it does not know; docs/format.md lists the "
        "allowed ones): 'foo' (cells 0, 1, 2, 3, 4); 'bar' (cells 5, 6)\n"
        "  - notebook format 4.2 upgraded to 4.5 (cell ids added; nothing else changes)\n"
        "next:\n"
        f"  1. read the notes above; fix in {lesson}/ps1.ipynb what matters\n"
        "  2. install the packages the lines above install, in the course environment\n"
        f"  3. eduproject validate {lesson}   (solutions pass, stubs fail)\n"
        f"  4. eduproject release {lesson} -o notebooks/\n"
    )


def test_a_v0_nbgrader_cell_without_flags_is_an_ordinary_cell(tmp_path: Path) -> None:
    cells = [
        nbg("code", "x = 1", "plain"),
        md("## Double"),
        nbg("code", "def double(x):\n    return 2 * x", "double", solution=True),
        nbg("code", "assert double(2) == 4", "tests", grade=True, points="2"),
    ]
    for cell in (cells[0], cells[2], cells[3]):
        del cell["metadata"]["nbgrader"]["schema_version"]
    report = import_nbgrader(write(tmp_path, cells), tmp_path / "exercises" / "ps1")
    assert report.exercises == ["double"]
    nb = json.loads(report.notebook_path.read_text())
    tags = {"".join(c["source"]): c["metadata"].get("tags", []) for c in nb["cells"]}
    assert tags["x = 1"] == [] and tags["assert double(2) == 4"] == ["tests", "points=2"]


def test_a_cell_reading_the_keyboard_is_tagged_raises_exception_and_validates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cells = [
        md("Type an expression, see its value."),
        {**md(""), "cell_type": "code", "source": "print(eval(input()))", "outputs": [],
         "execution_count": None},
        {**md(""), "cell_type": "code", "source": "def ask():\n    return input('? ')",
         "outputs": [], "execution_count": None},
        md("## Double"),
        nbg("code", "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
            "double", solution=True),
        nbg("code", "assert double(2) == 4", "t", grade=True, points=1),
    ]  # fmt: skip
    lesson = tmp_path / "exercises" / "keys"
    code, stdout, _ = run_cli(
        ["import", "nbgrader", str(write(tmp_path, cells)), "-o", str(lesson)], capsys
    )
    assert code == 0
    assert "imported cell 1 calls input(): tagged raises-exception" in stdout
    nb = json.loads((lesson / "keys.ipynb").read_text())
    assert [c["metadata"].get("tags", []) for c in nb["cells"][1:3]] == [["raises-exception"], []]
    code, stdout, stderr = run_cli(["validate", str(lesson), "--cell-timeout", "60"], capsys)
    assert code == 0, stdout + stderr


def test_notes_that_differ_only_in_names_and_numbers_print_as_one_line() -> None:
    from eduproject.authoring.importers.base import Note, group_notes

    notes = [
        Note(11, "answer 'a1' (2 points) is not graded: the learner's placeholder stays"),
        Note(33, "answer 'b2' (1 point) is not graded: the learner's placeholder stays"),
        Note(35, "answer 'c3' (3 points) is not graded: the learner's placeholder stays"),
        Note(40, "something else"),
    ]
    assert group_notes(notes) == [
        "cell 11: answer 'a1' (2 points) is not graded: the learner's placeholder stays "
        "-- and 2 more like it: 'b2' (cell 33), 'c3' (cell 35)",
        "cell 40: something else",
    ]
