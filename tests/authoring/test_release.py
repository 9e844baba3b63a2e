"""release(): the learner notebook, lesson.json, data files and the sealed bundle."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
import pytest

from eduproject.authoring import load_lesson, read_bundle, release, stale_files
from eduproject.policy import AiPolicy

from .lessons import GOOD, GOOD_DATA, all_text, secret_lines

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
    assert panel["metadata"] == {
        "eduproject": {"cell": "panel-sum_evens", "role": "panel", "exercise": "sum_evens"}
    }
    assert "".join(cells[9]["source"]) == "# YOUR CODE HERE\nraise NotImplementedError()"
    assert cells[10]["metadata"] == {
        "eduproject": {"cell": "c10", "role": "tests", "exercise": "area"},
        "tags": ["raises-exception"],
    }
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
        assert set(cell["metadata"]) <= {"eduproject", "tags"}
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
        # "total += n" is a line of the solution: only the hashed guard data carries it.
        "avoid": ["sum(", "generator expression"],
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
    assert "eduproject.enable_error_help()" in "".join(start["source"])
