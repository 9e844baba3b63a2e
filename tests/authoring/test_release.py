"""release(): the learner notebook, lesson.json, data files and the sealed bundle."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
import pytest

from eduproject.authoring import load_lesson, release, stale_files
from eduproject.core import read_bundle
from eduproject.core.policy import AiPolicy
from eduproject.errors import LessonFormatError
from tests.support.lessons import GOOD, GOOD_DATA

from .no_leak import all_text, secret_lines

WriteLesson = Callable[..., Path]


def _release(folder: Path, tmp_path: Path, name: str = "out") -> Any:
    return release(folder, tmp_path / name / "notebooks", tmp_path / name / "grader")


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_release_writes_the_documented_layout(good_lesson: Path, tmp_path: Path) -> None:
    result = _release(good_lesson, tmp_path)
    out = tmp_path / "out"
    assert sorted(_tree(out)) == [
        "grader/01-good/bundle.json",
        "grader/01-good/bundle.json.sha256",
        "notebooks/01-good/01-good.ipynb",
        "notebooks/01-good/data/numbers.txt",
        "notebooks/01-good/lesson.json",
    ]
    assert result.notebook == out / "notebooks/01-good/01-good.ipynb"
    assert result.pack == out / "notebooks/01-good/lesson.json"
    assert result.bundle == out / "grader/01-good/bundle.json"
    assert result.data_files == (out / "notebooks/01-good/data/numbers.txt",)
    assert (out / "notebooks/01-good/data/numbers.txt").read_bytes() == GOOD_DATA["numbers.txt"]
    assert stat.S_IMODE(result.bundle.stat().st_mode) == 0o600
    assert stat.S_IMODE(result.bundle.parent.stat().st_mode) == 0o700


def test_release_is_deterministic(good_lesson: Path, tmp_path: Path) -> None:
    first = _release(good_lesson, tmp_path, "a")
    assert len(first.changed) == 4
    again = _release(good_lesson, tmp_path, "a")
    assert again.changed == ()
    _release(good_lesson, tmp_path, "b")
    assert _tree(tmp_path / "a") == _tree(tmp_path / "b")


def test_learner_notebook_is_valid_nbformat(good_lesson: Path, tmp_path: Path) -> None:
    result = _release(good_lesson, tmp_path)
    nb = nbformat.read(result.notebook, as_version=nbformat.NO_CONVERT)
    nbformat.validate(nb)
    assert (nb.nbformat, nb.nbformat_minor) == (4, 5)


def test_learner_notebook_cells(good_lesson: Path, tmp_path: Path) -> None:
    nb = json.loads(_release(good_lesson, tmp_path).notebook.read_text())
    cells = nb["cells"]
    roles = [(c["id"], c["metadata"]["eduproject"]["role"]) for c in cells]
    # Hidden test cell c5 and hints cell c6 are gone; panels follow each exercise's last test
    # cell; the cell loading the tutor comes before the first code cell.
    assert roles == [
        ("c0", "context"),
        ("panel-start", "panel"),
        ("c1", "setup"),
        ("c2", "prompt"),
        ("c3", "solution"),
        ("c4", "tests"),
        ("panel-sum_evens", "panel"),
        ("c7", "context"),
        ("c8", "prompt"),
        ("c9", "solution"),
        ("c10", "tests"),
        ("panel-area", "panel"),
        ("c11", "context"),
    ]
    panel = cells[6]
    assert "".join(panel["source"]) == 'import eduproject\neduproject.panel("sum_evens")'
    read_only = {"editable": False, "deletable": False}
    assert panel["metadata"] == {
        "eduproject": {"cell": "panel-sum_evens", "role": "panel", "exercise": "sum_evens"},
        "jupyter": {"source_hidden": True},  # the learner sees the panel, not its code
        **read_only,
    }
    assert "".join(cells[1]["source"]).endswith("eduproject.start()")
    assert cells[1]["metadata"]["editable"] is False
    assert "source_hidden" not in json.dumps(cells[1]["metadata"])  # "run this cell first"
    # Setup and test cells are read-only in JupyterLab and Notebook 7.
    assert {k: cells[2]["metadata"][k] for k in read_only} == read_only
    assert "".join(cells[9]["source"]) == "# YOUR CODE HERE\nraise NotImplementedError()"
    assert cells[10]["metadata"] == {
        "eduproject": {"cell": "c10", "role": "tests", "exercise": "area"},
        "tags": ["raises-exception"],
        **read_only,
    }
    # A whole-cell stub raises as soon as it runs: tagged so that Run All goes on.
    assert cells[9]["metadata"]["tags"] == ["raises-exception"]
    # A stub inside a function raises only when called: nothing to tag, and editable.
    assert "tags" not in cells[4]["metadata"] and "editable" not in cells[4]["metadata"]
    assert cells[0]["metadata"] == {
        "eduproject": {"cell": "c0", "role": "context", "exercise": None}
    }


def test_learner_notebook_keeps_only_whitelisted_metadata(
    write_lesson: WriteLesson, tmp_path: Path
) -> None:
    folder = write_lesson(GOOD, "01-good", data=GOOD_DATA)
    nb_path = folder / "01-good.ipynb"
    nb = json.loads(nb_path.read_text())
    nb["metadata"]["authors"] = [{"name": "Ada"}]
    nb["metadata"]["nbgrader"] = {"secret": "SOLUTION-METADATA"}
    nb["metadata"]["widgets"] = {"state": {}}
    for cell in nb["cells"]:
        cell["metadata"]["nbgrader"] = {"grade_id": "x", "solution": True}
        cell["metadata"]["collapsed"] = True
        cell["metadata"]["eduproject"] = {"origin": "o1", "note": "instructor only"}
        if cell["cell_type"] == "code":
            cell["execution_count"] = 3
            cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["6\n"]}]
    nb_path.write_text(json.dumps(nb))
    learner = json.loads(_release(folder, tmp_path).notebook.read_text())
    assert set(learner["metadata"]) == {"eduproject", "kernelspec", "language_info"}
    assert learner["metadata"]["eduproject"] == {
        "format": 1,
        "lesson": "01-good",
        "version": load_lesson(folder).version,
    }
    for cell in learner["cells"]:
        assert set(cell["metadata"]) <= {"eduproject", "tags", "editable", "deletable", "jupyter"}
        if cell["cell_type"] == "code":
            assert (cell["execution_count"], cell["outputs"]) == (None, [])
        if cell["metadata"]["eduproject"]["role"] != "panel":
            assert cell["metadata"]["eduproject"]["origin"] == "o1"
    assert "instructor only" not in json.dumps(learner)


def test_eduproject_tags_are_stripped(good_lesson: Path, tmp_path: Path) -> None:
    nb = json.loads(_release(good_lesson, tmp_path).notebook.read_text())
    tags = {t for c in nb["cells"] for t in c["metadata"].get("tags", [])}
    assert tags == {"raises-exception"}


def test_markdown_attachments_are_kept(write_lesson: WriteLesson, tmp_path: Path) -> None:
    folder = write_lesson(GOOD, "01-good", data=GOOD_DATA)
    nb_path = folder / "01-good.ipynb"
    nb = json.loads(nb_path.read_text())
    nb["cells"][2]["attachments"] = {"x.png": {"image/png": "iVBORw0KGgo="}}
    nb_path.write_text(json.dumps(nb))
    learner = json.loads(_release(folder, tmp_path).notebook.read_text())
    cell = next(c for c in learner["cells"] if c["id"] == nb["cells"][2]["id"])
    assert cell["attachments"] == {"x.png": {"image/png": "iVBORw0KGgo="}}


def test_lesson_pack(good_lesson: Path, tmp_path: Path) -> None:
    result = _release(good_lesson, tmp_path)
    pack = json.loads(result.pack.read_text())
    assert pack["format"] == 1
    assert (pack["lesson"], pack["title"], pack["version"]) == (
        "01-good",
        "Functions",
        result.lesson.version,
    )
    sum_evens, area = pack["exercises"]
    # The tutor's guard data (eduproject.tutor.guards) is tested with the tutor, the policy
    # with the policy (tests/policy).
    assert isinstance(sum_evens.pop("guard"), dict)
    assert sum_evens.pop("policy") == AiPolicy().to_json()  # graded: no completion in solutions
    assert isinstance(area.pop("policy"), dict)
    assert pack["policy"] == AiPolicy(complete_in_solutions=True).to_json()
    assert sum_evens == {
        "id": "sum_evens",
        "title": "Sum of evens",
        "prompt": "# Sum of evens\nWrite `sum_evens(numbers)`.",
        "stub": result.lesson.exercises[0].stub,
        "hints": list(result.lesson.exercises[0].hints),
        # "total += n" is a line of the solution and "sum(" looks like code: only the hashed
        # guard data carries them (lesson.json is on the learner's disk).
        "avoid": ["generator expression"],
        "all_or_nothing": False,
        "tests": [
            {
                "name": "basics",
                "points": 1.0,
                "hidden": False,
                "visible_source": "assert sum_evens([1, 2, 3, 4]) == 6\nassert sum_evens([]) == 0",
                "cell": "c4",
                "shared": 0,
            },
            {
                "name": "negatives",
                "points": 2.0,
                "hidden": True,
                "visible_source": "assert sum_evens([-2, -3]) == -2",
                "cell": "c4",
                "shared": 0,
            },
            {
                "name": "sum_evens-2",
                "points": 0.5,
                "hidden": True,
                "visible_source": "",
                "cell": "c5",
                "shared": 0,
            },
        ],
    }
    assert (area["id"], area["all_or_nothing"], area["hints"], area["avoid"]) == (
        "area",
        True,
        [],
        [],
    )


def test_no_solution_or_hidden_test_line_reaches_learners(
    good_lesson: Path, tmp_path: Path
) -> None:
    source = json.loads((good_lesson / "01-good.ipynb").read_text())
    secrets = secret_lines(source)
    # The yardstick itself must see the secrets this fixture holds.
    assert {
        "total += n",
        "assert sum_evens(list(range(101))) == 2550",
        "return math.pi * r ** 2",
    } <= secrets
    result = _release(good_lesson, tmp_path)
    texts = [
        *all_text(json.loads(result.notebook.read_text())),
        *all_text(json.loads(result.pack.read_text())),
    ]
    texts.append(result.notebook.read_text() + result.pack.read_text())
    leaks = sorted(s for s in secrets if any(s in text for text in texts))
    assert leaks == []
    # ...while the sealed bundle, which learners never get, holds them all.
    bundle_text = "\n".join(all_text(json.loads(result.bundle.read_text())))
    assert all(s in bundle_text for s in secrets)


def test_bundle_round_trips(good_lesson: Path, tmp_path: Path) -> None:
    result = _release(good_lesson, tmp_path)
    lesson = load_lesson(good_lesson)
    sealed = read_bundle(result.bundle.parent)
    assert sealed.exercises == lesson.exercises
    assert sealed.version == lesson.version
    assert sealed.cells == lesson.cells


def test_stale_files_and_removed_data(good_lesson: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "notebooks"
    assert stale_files(good_lesson, out) == (
        out / "01-good/01-good.ipynb",
        out / "01-good/data/numbers.txt",
        out / "01-good/lesson.json",
    )
    _release(good_lesson, tmp_path)
    assert stale_files(good_lesson, out) == ()

    (good_lesson / "data" / "numbers.txt").unlink()
    (good_lesson / "data" / "other.txt").write_text("1 2 3 4")
    # The version changes, so the notebook and pack are stale too; the old data file lingers.
    assert stale_files(good_lesson, out) == (
        out / "01-good/01-good.ipynb",
        out / "01-good/data/numbers.txt",
        out / "01-good/data/other.txt",
        out / "01-good/lesson.json",
    )
    _release(good_lesson, tmp_path)
    assert not (out / "01-good/data/numbers.txt").exists()
    assert stale_files(good_lesson, out) == ()


@pytest.mark.parametrize("bad", ["nothing", "broken"])
def test_release_of_a_bad_lesson_writes_nothing(
    write_lesson: WriteLesson, tmp_path: Path, bad: str
) -> None:
    folder = write_lesson(
        [("md exercise=f", "F"), ("code solution", "x = 1"), ("code tests", "assert x")], bad
    )
    with pytest.raises(Exception, match="without `### BEGIN SOLUTION`"):
        _release(folder, tmp_path)
    assert not (tmp_path / "out").exists()


def test_learner_test_cells_let_run_all_go_on(good_lesson: Path, tmp_path: Path) -> None:
    nb = json.loads(_release(good_lesson, tmp_path).notebook.read_text())
    tests = [c for c in nb["cells"] if c["metadata"]["eduproject"]["role"] == "tests"]
    assert tests and all("raises-exception" in c["metadata"]["tags"] for c in tests)
    start = next(c for c in nb["cells"] if c["id"] == "panel-start")
    assert "eduproject.start()" in "".join(start["source"])


def test_a_hidden_tests_own_line_becomes_a_comment(
    write_lesson: WriteLesson, tmp_path: Path
) -> None:
    tests = (
        "### TEST visible\nassert f() == 1\n### TEST secret points=2\n"
        "### BEGIN HIDDEN TESTS\nassert f() + 1 == 2\n### END HIDDEN TESTS"
    )
    folder = write_lesson(
        [
            ("md exercise=f", "# F"),
            (
                "code solution",
                "def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION",
            ),
            ("code tests", tests),
        ]
    )
    nb = json.loads(_release(folder, tmp_path).notebook.read_text())
    cell = next(c for c in nb["cells"] if c["metadata"]["eduproject"]["role"] == "tests")
    assert "".join(cell["source"]).splitlines() == [
        "### TEST visible",
        "assert f() == 1",
        "# Test 'secret' is hidden: it is checked when your work is graded.",
    ]


def test_code_like_words_to_avoid_stay_out_of_lesson_json(
    write_lesson: WriteLesson, tmp_path: Path
) -> None:
    hints = "1. Think.\n\nAvoid: modulo, `range(2, n + 1)`, x[::-1], reversed word"
    folder = write_lesson(
        [
            ("md exercise=f", "# F"),
            (
                "code solution",
                "def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION",
            ),
            ("code tests", "assert f() == 1"),
            ("md hints", hints),
        ]
    )
    result = _release(folder, tmp_path)
    pack = json.loads(result.pack.read_text())
    assert pack["exercises"][0]["avoid"] == ["modulo", "reversed word"]
    text = result.pack.read_text()
    assert "range(2, n + 1)" not in text and "x[::-1]" not in text
    # The tutor still refuses them: they are in the hashed guard data.
    from eduproject.core.pack import LessonPack
    from eduproject.tutor.guards import check_leak

    info = LessonPack.load(result.pack).exercise("f")
    assert check_leak("Try `range(2, n + 1)` here.", info).leak


def test_files_beside_the_notebook_are_released_beside_the_learner_notebook(
    good_lesson: Path, tmp_path: Path
) -> None:
    (good_lesson / "weather.csv").write_text("day,temp\n")
    (good_lesson / "README.md").write_text("notes for the author")
    (good_lesson / ".ipynb_checkpoints").mkdir()
    (good_lesson / ".ipynb_checkpoints" / "x.ipynb").write_text("{}")
    result = _release(good_lesson, tmp_path)
    (mixed,) = result.warnings
    assert mixed.startswith("1 test(s) mix visible and hidden lines: 'negatives' (sum_evens).")
    folder = result.notebook.parent
    assert (folder / "weather.csv").read_text() == "day,temp\n"
    assert not (folder / "README.md").exists() and not (folder / ".ipynb_checkpoints").exists()
    assert result.lesson.data_files == (Path("data/numbers.txt"), Path("weather.csv"))


def test_a_learner_notebook_is_refused_plainly(good_lesson: Path, tmp_path: Path) -> None:
    learner = _release(good_lesson, tmp_path).notebook.parent
    with pytest.raises(LessonFormatError) as info:
        _release(learner, tmp_path, "again")
    assert "this is a learner notebook that `eduproject release` wrote for lesson '01-good'" in (
        str(info.value)
    )
    assert "eduproject release exercises/01-good" in str(info.value)


@pytest.mark.parametrize(
    ("cells", "problem"),
    [
        ([("md", "# Just text")], "the lesson has no exercises (it holds only markdown cells)"),
        ([("md", "# Text"), ("code", "x = 1")], "the lesson has no exercises"),
    ],
)
def test_a_lesson_without_exercises_is_an_error(
    write_lesson: WriteLesson, cells: list[tuple[str, str]], problem: str
) -> None:
    with pytest.raises(LessonFormatError) as info:
        load_lesson(write_lesson(cells))
    assert info.value.problem == problem
    assert "exercise=ID" in str(info.value.hint)


def test_notebook_magics_in_setup_and_tests_compile(
    write_lesson: WriteLesson, tmp_path: Path
) -> None:
    folder = write_lesson(
        [
            ("code setup", "%matplotlib inline\n!echo hello\nimport math"),
            ("md exercise=f", "# F"),
            (
                "code solution",
                "def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION",
            ),
            ("code tests", "%time f()\nassert f() == 1"),
        ]
    )
    assert [e.id for e in load_lesson(folder).exercises] == ["f"]


def test_the_grader_bundle_lives_with_the_course_whatever_the_cwd(
    good_lesson: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = release(good_lesson, tmp_path / "nb")
    course = good_lesson.parent.parent  # the folder holding exercises/
    assert result.bundle == course / "build" / "grader" / "01-good" / "bundle.json"
    assert not (elsewhere / "build").exists()


@pytest.mark.slow
def test_papermill_runs_an_untouched_learner_notebook_to_the_end(
    good_lesson: Path, tmp_path: Path
) -> None:
    """Every exercise unfinished: stubs and their tests raise, yet the run reaches the last
    cell (as JupyterLab's Run All does), and the first cell says the tutor is ready. Papermill
    then reports the first error, as it does for any notebook whose cells raised."""
    import papermill

    result = _release(good_lesson, tmp_path)
    out = tmp_path / "ran.ipynb"
    with pytest.raises(papermill.PapermillExecutionError):
        papermill.execute_notebook(
            str(result.notebook),
            str(out),
            kernel_name="python3",
            cwd=str(result.notebook.parent),
            progress_bar=False,
            log_output=False,
        )
    ran = json.loads(out.read_text())
    ran["cells"] = [c for c in ran["cells"] if "papermill-error-cell-tag" not in json.dumps(c)]
    code = [c for c in ran["cells"] if c["cell_type"] == "code"]
    assert all(c["execution_count"] is not None for c in code)  # nothing was skipped
    start = next(c for c in code if c["id"] == "panel-start")
    printed = "".join("".join(o.get("text", "")) for o in start["outputs"])
    assert printed.startswith("Tutor ready for Functions:")
    assert not any(o.get("output_type") == "execute_result" for o in start["outputs"])  # no `True`
    errors = [c["id"] for c in code if any(o["output_type"] == "error" for o in c["outputs"])]
    assert errors == ["c4", "c9", "c10"]  # the failing tests and the whole-cell stub
    assert "print('demo code, kept as is')" in "".join(code[-1]["source"])
