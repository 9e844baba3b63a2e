"""Files beside the notebook, end to end through the CLI: import brings them along, release
copies them beside the learner notebook, validate, the grading sandbox and the tutor's checks
see them at the same relative paths, helper modules and packages import; links are refused."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from eduproject.authoring.parse import load_lesson
from tests.support.cli import run_cli

from .test_importers_bad import md, nbg, write

HELPER = "def scale(x):\n    return 10 * x\n"
SETUP = (
    "import helper\n"
    "from tools.units import unit\n"
    "ROWS = [int(v) for v in open('data.csv').read().split()]\n"
    "EXTRA = [int(v) for v in open('tables/extra.csv').read().split()]"
)
SOLUTION_CODE = (
    "def total(rows):\n"
    "    ### BEGIN SOLUTION\n"
    "    return helper.scale(sum(rows)) + unit()\n"
    "    ### END SOLUTION"
)
TESTS = (
    "assert total(ROWS) == 61\n"
    "assert total(EXTRA) == 71\n"
    "### BEGIN HIDDEN TESTS\n"
    "import helper as h\n"
    "assert h.scale(1) == 10 and open('tables/extra.csv').read().split() == ['7']\n"
    "### END HIDDEN TESTS"
)


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "1000")


def course_source(folder: Path) -> Path:
    """An nbgrader source notebook with a helper module, a helper package and data files
    beside it, plus what must not come along (hidden files, caches, another notebook)."""
    folder.mkdir(parents=True)
    (folder / "helper.py").write_text(HELPER)
    (folder / "tools").mkdir()
    (folder / "tools" / "__init__.py").write_text("")
    (folder / "tools" / "units.py").write_text("def unit():\n    return 1\n")
    (folder / "data.csv").write_text("1 2 3\n")
    (folder / "tables").mkdir()
    (folder / "tables" / "extra.csv").write_text("7\n")
    (folder / ".secret").write_text("not for learners")
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "helper.cpython-311.pyc").write_bytes(b"\0")
    (folder / "other.ipynb").write_text("{}")
    return write(
        folder,
        [
            md("# Totals"),
            nbg("code", SETUP, "setup", locked=True),
            md("## Total\nWrite `total(rows)`: ten times the sum, plus one."),
            nbg("code", SOLUTION_CODE, "total", solution=True),
            nbg("code", TESTS, "total_tests", grade=True, locked=True, points=2),
        ],
        name="totals.ipynb",
    )


def solution_submission(lesson: Path, learner_nb: Path, out: Path) -> None:
    """The released learner notebook with the instructor's solution put back."""
    source = json.loads((lesson / f"{lesson.name}.ipynb").read_text())
    by_id = {c["id"]: c for c in source["cells"]}
    nb = json.loads(learner_nb.read_text())
    for cell in nb["cells"]:
        src = by_id.get(cell.get("id", ""))
        if src is not None and "solution" in src["metadata"].get("tags", []):
            text = "".join(src["source"])
            cell["source"] = "\n".join(line for line in text.split("\n") if "### " not in line)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(nb))


def scores(db: Path, lesson: str) -> dict[tuple[str, str], float]:
    from eduproject.grading.gradebook import Gradebook

    with Gradebook(db, create=False) as gradebook:
        return {
            (result.learner, ex.exercise): ex.score
            for result in gradebook.results(lesson)
            for ex in result.exercises
        }


def test_files_beside_the_notebook_reach_learners_validation_grading_and_the_tutor(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = course_source(tmp_path / "course" / "source" / "ps1")
    lesson = tmp_path / "exercises" / "totals"

    code, stdout, stderr = run_cli(["import", "nbgrader", str(src), "-o", str(lesson)], capsys)
    assert (code, stderr) == (0, "")
    assert (
        "copied 5 file(s) from beside the source (0.1 kB): data.csv, helper.py, "
        "tables/extra.csv, tools/__init__.py, tools/units.py\n"
    ) in stdout
    assert sorted(p.relative_to(lesson).as_posix() for p in lesson.rglob("*") if p.is_file()) == [
        "data.csv", "helper.py", "tables/extra.csv", "tools/__init__.py", "tools/units.py",
        "totals.ipynb",
    ]  # fmt: skip

    out = tmp_path / "notebooks"
    code, stdout, stderr = run_cli(["release", str(lesson), "-o", str(out)], capsys)
    assert code == 0 and "files" not in stderr
    released = out / "totals"
    for rel in ("data.csv", "helper.py", "tables/extra.csv", "tools/units.py"):
        assert (released / rel).read_bytes() == (lesson / rel).read_bytes()
    assert json.loads((released / "lesson.json").read_text())["files"] == [
        "data.csv", "helper.py", "tables/extra.csv", "tools/__init__.py", "tools/units.py",
    ]  # fmt: skip

    code, stdout, stderr = run_cli(["validate", str(lesson), "--cell-timeout", "60"], capsys)
    assert code == 0, stdout + stderr
    assert "2/2" in stdout  # the solution graded in the sandbox, files and modules found

    subs = tmp_path / "submissions"
    solution_submission(lesson, released / "totals.ipynb", subs / "ada" / "totals.ipynb")
    stub = subs / "bob" / "totals.ipynb"
    stub.parent.mkdir()
    stub.write_bytes((released / "totals.ipynb").read_bytes())
    db = tmp_path / "gradebook.sqlite"
    code, stdout, stderr = run_cli(
        ["grade", str(lesson), str(subs), "--db", str(db), "--workers", "1", "--no-progress"],
        capsys,
    )
    assert code == 0, stdout + stderr
    assert scores(db, "totals") == {("ada", "total"): 2.0, ("bob", "total"): 0.0}

    from eduproject.tutor.passcheck import HintRunner

    loaded = load_lesson(lesson)
    exercise = loaded.exercises[0]
    with HintRunner(loaded) as runner:
        assert runner.passes(exercise, "return helper.scale(sum(rows)) + unit()")
        assert not runner.passes(exercise, "return sum(rows)")


def test_a_link_beside_the_source_or_in_the_lesson_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = course_source(tmp_path / "source")
    outside = tmp_path / "elsewhere.csv"
    outside.write_text("1\n")
    (tmp_path / "source" / "linked.csv").symlink_to(outside)
    lesson = tmp_path / "exercises" / "totals"
    code, stdout, stderr = run_cli(["import", "nbgrader", str(src), "-o", str(lesson)], capsys)
    assert (code, stdout) == (1, "")
    assert stderr.startswith(
        f"error: {tmp_path / 'source' / 'linked.csv'}: a symbolic link (to {outside}) beside "
        "totals.ipynb; a lesson's files must be real files inside the lesson folder\n"
    )
    assert "Traceback" not in stderr

    code, _, stderr = run_cli(
        ["import", "nbgrader", str(src), "-o", str(lesson), "--no-files"], capsys
    )
    assert code == 0 and [p.name for p in lesson.iterdir()] == ["totals.ipynb"]
    (lesson / "data").mkdir()
    (lesson / "data" / "linked.csv").symlink_to(outside)
    code, stdout, stderr = run_cli(["release", str(lesson), "-o", str(tmp_path / "nb")], capsys)
    assert (code, stdout) == (1, "")
    assert stderr.startswith(
        f"error: {lesson / 'data' / 'linked.csv'}: is a symbolic link (to {outside}); a "
        f"lesson's files must be real files inside {lesson}\n"
    )


def test_an_otter_config_listing_a_file_outside_the_folder_is_refused(tmp_path: Path) -> None:
    from eduproject.authoring.importers import import_otter
    from eduproject.errors import ImportConversionError

    from .test_importers_bad import code as code_cell
    from .test_importers_bad import raw

    (tmp_path / "hw").mkdir()
    src = write(
        tmp_path / "hw",
        [
            raw("# ASSIGNMENT CONFIG\nfiles:\n  - ../shared/data.csv"),
            raw("# BEGIN QUESTION\nname: q1"),
            md("Set `x` to 1."),
            raw("# BEGIN SOLUTION"),
            code_cell("x = 1  # SOLUTION"),
            raw("# END SOLUTION"),
            raw("# BEGIN TESTS"),
            code_cell("x == 1", "True"),
            raw("# END TESTS"),
            raw("# END QUESTION"),
        ],
    )
    with pytest.raises(ImportConversionError) as caught:
        import_otter(src, tmp_path / "exercises" / "hw")
    assert str(caught.value).startswith(
        f"{src}: the assignment config's files lists '../shared/data.csv', which is outside "
        f"the notebook's folder {src.parent}"
    )


def test_release_removes_lesson_files_it_copied_before_and_keeps_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = course_source(tmp_path / "source")
    lesson = tmp_path / "exercises" / "totals"
    out = tmp_path / "notebooks"
    assert run_cli(["import", "nbgrader", str(src), "-o", str(lesson)], capsys)[0] == 0
    assert run_cli(["release", str(lesson), "-o", str(out)], capsys)[0] == 0
    (out / "totals" / "my-notes.txt").write_text("a learner's own file")
    (lesson / "tables" / "extra.csv").unlink()
    (lesson / "tables").rmdir()
    assert run_cli(["release", str(lesson), "-o", str(out), "--check"], capsys)[0] == 1
    assert run_cli(["release", str(lesson), "-o", str(out)], capsys)[0] == 0
    assert not (out / "totals" / "tables").exists()
    assert (out / "totals" / "my-notes.txt").exists() and (out / "totals" / "data.csv").exists()
    assert run_cli(["release", str(lesson), "-o", str(out), "--check"], capsys)[0] == 0


COUNTER = (
    "_marks = set()\n\n\ndef mark(i):\n    _marks.add(i)\n\n\n"
    "def marked(i):\n    return i in _marks\n\n\ndef reset():\n    _marks.clear()\n"
)
STATEFUL = [
    ("code setup", "import sys\nsys.path.append('more')  # as courses reach code/my_utilities.py"),
    ("md exercise=imports", "## Import `mark`, `marked` and `reset` from `counter`"),
    (
        "code solution",
        "### BEGIN SOLUTION\nfrom counter import mark, marked, reset\n### END SOLUTION",
    ),
    ("code tests", "reset()\nmark(3)\nassert marked(3) and not marked(0)"),
    ("md exercise=evens", "## Mark only 0 and 2"),
    (
        "code solution",
        "### BEGIN SOLUTION\nreset()\nfor i in (0, 2):\n    mark(i)\n### END SOLUTION",
    ),
    ("code tests", "assert marked(0) and marked(2) and not marked(3)"),
    ("code hidden-tests", "import counter\nassert counter.marked(2) and not counter.marked(1)"),
    ("code hidden-tests", "from extra import three\nassert three() == 3"),
]


def test_a_helper_modules_state_is_the_learners_as_in_the_notebook(
    write_lesson: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Tests see the helper module learner code changed (CS1302 lab4's markposition), not a
    fresh copy in the grader."""
    lesson = write_lesson(STATEFUL, "marks")
    (lesson / "counter.py").write_text(COUNTER)
    (lesson / "more").mkdir()
    (lesson / "more" / "extra.py").write_text("def three():\n    return 3\n")
    code, stdout, stderr = run_cli(["validate", str(lesson), "--cell-timeout", "60"], capsys)
    assert code == 0, stdout + stderr
    assert "│ 1/1 " in stdout and "│ 3/3 " in stdout  # graded in the sandbox as in the notebook
