"""The simulated class: valid notebooks, faithful solutions, real bugs, every kind, determinism."""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest

from eduproject.authoring.parse import load_lesson
from eduproject.errors import LessonError
from eduproject.grading.simulate import KINDS, MANIFEST_NAME, read_manifest, simulate_class

ROOT = Path(__file__).resolve().parents[2]
COURSE = ROOT / "exercises"
LESSONS = sorted(p.name for p in COURSE.iterdir() if p.is_dir())


def _cells(path: Path) -> list[dict[str, Any]]:
    cells: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return cells


def _source(cell: dict[str, Any]) -> str:
    return "".join(cell["source"])


def _role(cell: dict[str, Any]) -> str | None:
    role: str | None = cell["metadata"].get("eduproject", {}).get("role")
    return role


def _by_kind(out: Path) -> dict[str, list[Path]]:
    found: dict[str, list[Path]] = {}
    for learner in read_manifest(out).values():
        found.setdefault(learner.kind, []).append(learner.path)
    return found


@contextlib.contextmanager
def _in_folder(folder: Path) -> Iterator[None]:
    before = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


def _run_tests(lesson_id: str, submission: Path) -> dict[str, list[str]]:
    """Run a submission's setup and solution cells, then the lesson's tests, in plain Python.

    Only for submissions we generated from our own course (never hostile kinds). Returns,
    per exercise, the names of the tests that failed.
    """
    lesson = load_lesson(COURSE / lesson_id)
    namespace: dict[str, Any] = {}
    failed: dict[str, list[str]] = {}
    with _in_folder(lesson.folder), contextlib.redirect_stdout(io.StringIO()):
        for cell in _cells(submission):
            if _role(cell) in ("setup", "solution"):
                with contextlib.suppress(Exception):
                    exec(compile(_source(cell), "<cell>", "exec"), namespace)
        for exercise in lesson.exercises:
            failed[exercise.id] = []
            for test in exercise.tests:
                try:
                    exec(compile(test.source, test.name, "exec"), dict(namespace))
                except Exception:
                    failed[exercise.id].append(test.name)
    return failed


@pytest.fixture(scope="module")
def functions_class(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("class")
    simulate_class(COURSE / "01-functions", out, seed=3)
    return out


@pytest.mark.parametrize("lesson_id", LESSONS)
def test_every_submission_is_a_valid_notebook_without_labels(
    lesson_id: str, tmp_path: Path
) -> None:
    paths = simulate_class(COURSE / lesson_id, tmp_path, n_learners=8, seed=0)
    assert len(paths) == 8
    assert paths == sorted(paths)
    for path in paths:
        assert path == tmp_path / path.parent.name / f"{lesson_id}.ipynb"
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        assert notebook.metadata["eduproject"]["lesson"] == lesson_id
        metadata = json.dumps(
            [notebook.metadata] + [c.metadata for c in notebook.cells], sort_keys=True
        )
        assert "kind" not in metadata
        assert not any(f'"{kind}"' in metadata for kind in KINDS)


def test_every_kind_is_present_once_in_a_class_of_eight(functions_class: Path) -> None:
    manifest = read_manifest(functions_class)
    assert sorted(learner.kind for learner in manifest.values()) == sorted(KINDS)
    assert all(learner.path.is_file() for learner in manifest.values())
    assert all(name.isalpha() and name.islower() for name in manifest)
    everything = ("greet", "absolute_value", "letter_grade", "is_leap_year")
    for learner in manifest.values():
        if learner.kind == "correct":
            assert learner.failing == ()
        elif learner.kind.startswith("hostile-"):
            assert learner.failing == everything
        else:
            assert 0 < len(learner.failing) < len(everything)


def test_correct_solution_cells_are_the_instructor_solution_bodies(functions_class: Path) -> None:
    lesson = load_lesson(COURSE / "01-functions")
    instructor = {
        c.cell_id: "\n".join(
            line
            for line in c.source.split("\n")
            if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION")
        )
        for c in lesson.cells
        if c.role.value == "solution"
    }
    (correct,) = _by_kind(functions_class)["correct"]
    submitted = {
        c["metadata"]["eduproject"]["cell"]: _source(c)
        for c in _cells(correct)
        if _role(c) == "solution"
    }
    assert submitted == instructor
    assert _run_tests("01-functions", correct) == {e.id: [] for e in lesson.exercises}


def test_whole_cell_solution_is_copied_whole(tmp_path: Path) -> None:
    simulate_class(COURSE / "02-loops-strings", tmp_path, seed=0)
    lesson = load_lesson(COURSE / "02-loops-strings")
    whole = next(c for c in lesson.cells if c.exercise == "initials" and c.role.value == "solution")
    (correct,) = _by_kind(tmp_path)["correct"]
    cell = next(c for c in _cells(correct) if c["metadata"]["eduproject"]["cell"] == whole.cell_id)
    assert _source(cell) == whole.source


def test_only_solution_cells_differ_from_the_released_notebook(functions_class: Path) -> None:
    kinds = _by_kind(functions_class)
    reference = _cells(kinds["correct"][0])
    for kind, paths in kinds.items():
        if kind == "hostile-tamper":
            continue
        for path in paths:
            for mine, theirs in zip(_cells(path), reference, strict=True):
                assert mine["id"] == theirs["id"]
                if _role(mine) != "solution":
                    assert mine == theirs, f"{kind}: cell {mine['id']} changed"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_partial_learners_solve_some_exercises_and_break_the_others(
    seed: int, tmp_path: Path
) -> None:
    simulate_class(COURSE / "03-lists-dicts", tmp_path, n_learners=12, seed=seed)
    partials = [m for m in read_manifest(tmp_path).values() if m.kind == "partial"]
    assert partials
    for learner in partials:
        failed = _run_tests("03-lists-dicts", learner.path)
        buggy = {ex for ex, names in failed.items() if names}
        assert buggy == set(learner.failing), f"{learner.name}: {learner.detail}; {failed}"
        assert 0 < len(buggy) < len(failed)


def test_broken_learners_fail_with_the_announced_error(functions_class: Path) -> None:
    kinds = _by_kind(functions_class)
    (syntax,) = kinds["broken-syntax"]
    broken_cells = []
    for cell in _cells(syntax):
        if _role(cell) == "solution":
            try:
                compile(_source(cell), "<cell>", "exec")
            except SyntaxError:
                broken_cells.append(cell["metadata"]["eduproject"]["exercise"])
    assert len(broken_cells) == 1
    assert read_manifest(functions_class)[syntax.parent.name].failing == tuple(broken_cells)

    (name_error,) = kinds["broken-name"]
    learner = read_manifest(functions_class)[name_error.parent.name]
    assert "NameError" in learner.detail
    failed = _run_tests("01-functions", name_error)
    assert tuple(ex for ex, names in failed.items() if names) == learner.failing


def test_hostile_learners_carry_their_tricks(functions_class: Path) -> None:
    kinds = _by_kind(functions_class)
    texts = {kind: "\n".join(_source(c) for c in _cells(p[0])) for kind, p in kinds.items()}
    assert "os._exit(0)" in texts["hostile-exit"]
    assert "while True:\n    pass" in texts["hostile-loop"]

    namespace: dict[str, Any] = {}
    for cell in _cells(kinds["hostile-eq"][0]):
        if _role(cell) == "solution":
            exec(compile(_source(cell), "<cell>", "exec"), namespace)
    assert namespace["greet"]("Ada") == "anything at all"
    assert namespace["letter_grade"](95) == 12345

    tampered = _cells(kinds["hostile-tamper"][0])
    tests = [c for c in tampered if _role(c) == "tests"]
    assert tests
    for cell in tests:
        code = [line for line in _source(cell).splitlines() if not line.startswith("### TEST")]
        assert set(code) == {"assert True"}
        assert cell["metadata"]["eduproject"]["points"] == 100
        assert "All tests passed" in cell["outputs"][0]["text"][0]
    assert 'print("All tests passed' in texts["hostile-tamper"]


def test_hostile_eq_handles_whole_cell_solutions(tmp_path: Path) -> None:
    simulate_class(COURSE / "02-loops-strings", tmp_path, seed=0)
    (path,) = _by_kind(tmp_path)["hostile-eq"]
    namespace: dict[str, Any] = {}
    for cell in _cells(path):
        if _role(cell) == "solution":
            exec(compile(_source(cell), "<cell>", "exec"), namespace)
    assert namespace["initials"]("Ada Lovelace") == "not initials"


def test_same_seed_same_bytes_other_seed_other_class(tmp_path: Path) -> None:
    def snapshot(out: Path, seed: int) -> dict[str, bytes]:
        simulate_class(COURSE / "01-functions", out, n_learners=10, seed=seed)
        return {
            str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()
        }

    first = snapshot(tmp_path / "a", 7)
    assert first == snapshot(tmp_path / "b", 7)
    assert MANIFEST_NAME in first
    assert first != snapshot(tmp_path / "c", 8)


def test_large_classes_get_unique_names_and_every_kind(tmp_path: Path) -> None:
    paths = simulate_class(COURSE / "03-lists-dicts", tmp_path, n_learners=30, seed=5)
    names = [p.parent.name for p in paths]
    assert len(set(names)) == 30
    assert set(KINDS) <= {m.kind for m in read_manifest(tmp_path).values()}


def test_an_empty_class_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LessonError, match="n_learners=1 or more"):
        simulate_class(COURSE / "01-functions", tmp_path, n_learners=0)


def test_reading_a_missing_manifest_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(LessonError, match=r"_manifest\.json is missing"):
        read_manifest(tmp_path)


def test_a_lesson_without_solution_cells_is_refused(tmp_path: Path) -> None:
    lesson = tmp_path / "no-answers"
    lesson.mkdir()
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_markdown_cell("# Reading only", id="intro"),
        nbformat.v4.new_code_cell("print('hello')", id="demo"),
    ]
    nbformat.write(notebook, lesson / "no-answers.ipynb")
    # Such a notebook is not a lesson at all: reading it already says so.
    with pytest.raises(LessonError, match="the lesson has no exercises"):
        simulate_class(lesson, tmp_path / "class")
