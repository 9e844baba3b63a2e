"""Release a lesson: the learner notebook, its data, the learner pack and the sealed bundle.

    >>> result = release(Path("exercises/01-functions"))
    >>> result.notebook
    PosixPath('notebooks/01-functions/01-functions.ipynb')

Everything written is a pure function of the lesson folder (sorted keys, fixed indentation,
no timestamps), so releasing twice gives byte-identical files and ``notebooks/`` can be
checked against ``exercises/`` in CI.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eduproject.authoring.markers import STUB_LINES
from eduproject.authoring.parse import load_lesson
from eduproject.authoring.static_checks import lesson_warnings
from eduproject.config import course_folder_of
from eduproject.core.bundle import BUNDLE_NAME, default_grader_dir, write_bundle
from eduproject.core.lesson import FORMAT_VERSION, Cell, Lesson, Role
from eduproject.core.pack import PACK_NAME, LessonPack
from eduproject.core.policy import PolicyLayer, course_layer

_TEST_ROLES = (Role.TESTS, Role.HIDDEN_TESTS)
# Cells learners must not change: JupyterLab and Notebook 7 honour these flags.
_READ_ONLY = {"editable": False, "deletable": False}


@dataclass(frozen=True)
class ReleaseResult:
    """What :func:`release` wrote. ``changed`` lists the files whose bytes changed."""

    lesson: Lesson
    notebook: Path
    pack: Path
    data_files: tuple[Path, ...]
    bundle: Path
    changed: tuple[Path, ...]
    warnings: tuple[str, ...] = ()  # legal but probably a mistake (see static_checks)


def release(
    lesson_folder: Path,
    out_dir: Path = Path("notebooks"),
    grader_dir: Path | None = None,
    *,
    course_policy: PolicyLayer | None = None,
) -> ReleaseResult:
    """Release the lesson in ``lesson_folder`` into ``out_dir/<lesson>/`` and ``grader_dir/<lesson>/``.

    ``grader_dir`` defaults to the course's ``build/grader/`` (:func:`default_grader_dir`);
    ``course_policy`` to the ``[policy]`` of the course the lesson belongs to
    (:func:`course_policy_for`).
    """
    lesson = load_lesson(Path(lesson_folder))
    if grader_dir is None:
        grader_dir = default_grader_dir(lesson.folder)
    target = Path(out_dir) / lesson.id
    if course_policy is None:
        course_policy = course_policy_for(Path(lesson_folder))
    files = learner_files(lesson, course_policy)
    for path in _left_over(target, lesson):
        # Files removed from the lesson must not linger in the released folder.
        path.unlink()
        for parent in path.relative_to(target).parents:
            folder = target / parent
            if folder != target and folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
    changed = [path for rel, data in files.items() if _write_if_changed(path := target / rel, data)]

    bundle_dir = Path(grader_dir) / lesson.id
    bundle_path = bundle_dir / BUNDLE_NAME
    before = bundle_path.read_bytes() if bundle_path.is_file() else None
    write_bundle(lesson, bundle_dir)
    if bundle_path.read_bytes() != before:
        changed.append(bundle_path)
    return ReleaseResult(
        lesson=lesson,
        notebook=target / f"{lesson.id}.ipynb",
        pack=target / PACK_NAME,
        data_files=tuple(target / rel for rel in lesson.data_files),
        bundle=bundle_path,
        changed=tuple(changed),
        warnings=tuple(lesson_warnings(lesson)),
    )


def stale_files(lesson_folder: Path, out_dir: Path = Path("notebooks")) -> tuple[Path, ...]:
    """Released learner files that differ from what :func:`release` would write now.

    Lists missing and outdated files, and leftover data files; empty when up to date.

        >>> _ = release(Path("exercises/01-functions"))
        >>> stale_files(Path("exercises/01-functions"))
        ()
    """
    lesson = load_lesson(Path(lesson_folder))
    target = Path(out_dir) / lesson.id
    course = course_policy_for(Path(lesson_folder))
    files = {target / rel: data for rel, data in learner_files(lesson, course).items()}
    stale = [p for p, data in files.items() if not p.is_file() or p.read_bytes() != data]
    return tuple(sorted(stale + _left_over(target, lesson)))


def _left_over(target: Path, lesson: Lesson) -> list[Path]:
    """Lesson files an earlier release wrote into ``target`` that the lesson no longer has.

    The earlier ``lesson.json`` lists them (``files``); a release older than that list
    copied only ``data/``. Anything else in ``target`` (learners' own files) stays.
    """
    try:
        earlier = json.loads((target / PACK_NAME).read_text(encoding="utf-8"))
        listed = [Path(p) for p in earlier.get("files", [])]
    except (OSError, ValueError, TypeError, AttributeError):
        listed = []
        if (target / "data").is_dir():
            listed = [p.relative_to(target) for p in (target / "data").rglob("*") if p.is_file()]
    keep = set(lesson.data_files)
    return sorted(
        target / rel
        for rel in listed
        if rel not in keep
        and not rel.is_absolute()
        and ".." not in rel.parts
        and (target / rel).is_file()
        and not (target / rel).is_symlink()
    )


def course_policy_for(lesson_folder: Path) -> PolicyLayer:
    """The ``[policy]`` of the lesson's course: ``eduproject.toml`` in the folder holding
    ``exercises/`` (or next to the lesson folder, else the working folder, as
    :func:`~eduproject.models.config.load_config` finds it)."""
    from eduproject.models.config import load_config

    return course_layer(load_config(course_folder_of(lesson_folder)))


def learner_files(lesson: Lesson, course_policy: PolicyLayer | None = None) -> dict[Path, bytes]:
    """Every learner-side file of the release, by path relative to ``notebooks/<lesson>/``."""
    files = {
        Path(f"{lesson.id}.ipynb"): dumps(learner_notebook(lesson)),
        Path(PACK_NAME): dumps(learner_pack(lesson, course_policy)),
    }
    for rel in lesson.data_files:
        files[rel] = (lesson.folder / rel).read_bytes()
    return files


def dumps(document: dict[str, Any]) -> bytes:
    """Serialise like Jupyter does (indent 1, sorted keys), which keeps diffs small."""
    return (json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode()


def learner_notebook(lesson: Lesson) -> dict[str, Any]:
    """The learner notebook as nbformat 4.5 JSON (see docs/format.md, "What release makes")."""
    last_test = {c.exercise: c.index for c in lesson.cells if c.role in _TEST_ROLES}
    cells: list[dict[str, Any]] = []
    for cell in lesson.cells:
        if cell.kind == "code" and not any(c["cell_type"] == "code" for c in cells):
            cells.append(start_cell())
        if cell.learner_source is not None:
            cells.append(_learner_cell(cell))
        if cell.exercise is not None and last_test.get(cell.exercise) == cell.index:
            cells.append(panel_cell(cell.exercise))
    return {
        "cells": cells,
        "metadata": {
            "eduproject": {
                "format": FORMAT_VERSION,
                "lesson": lesson.id,
                "version": lesson.version,
            },
            "kernelspec": lesson.kernelspec,
            "language_info": lesson.language_info,
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def solution_notebook(lesson: Lesson, code: dict[str, str] | None = None) -> dict[str, Any]:
    """The released learner notebook with the instructor's solutions (and the model answers of
    manual exercises) in place: what a learner who solved everything hands in. ``code``
    replaces chosen solution cells (by cell id)."""
    from eduproject.authoring.markers import CellRef, without_markers

    notebook = learner_notebook(lesson)
    sources = {
        c.cell_id: without_markers(c.source, CellRef(lesson.notebook_path, c.index))
        if any(line.strip() == "### BEGIN SOLUTION" for line in c.source.split("\n"))
        else c.source
        for c in lesson.cells
        if c.role in (Role.SOLUTION, Role.ANSWER)
    }
    sources.update(code or {})
    for cell in notebook["cells"]:
        cell_id = cell.get("metadata", {}).get("eduproject", {}).get("cell")
        if cell_id in sources:
            cell["source"] = _lines(sources[cell_id])
    return notebook


def start_cell() -> dict[str, Any]:
    """The cell release puts before the first code cell: it loads the tutor.

    Loaded first, "Explain this error" also appears under the very first failing cell.
    """
    return _code_cell(
        "panel-start",
        "# Run this cell first: it loads your tutor (a panel under each exercise, and an\n"
        '# "Explain this error" button after any error).\n'
        "import eduproject\n"
        "eduproject.start()",
        {
            "eduproject": {"cell": "panel-start", "role": Role.PANEL.value, "exercise": None},
            **_READ_ONLY,
        },
    )


def panel_cell(exercise_id: str) -> dict[str, Any]:
    """The tutor panel cell release puts after an exercise's last test cell."""
    return _code_cell(
        f"panel-{exercise_id}",
        f'import eduproject\neduproject.panel("{exercise_id}")',
        {
            "eduproject": {
                "cell": f"panel-{exercise_id}",
                "role": Role.PANEL.value,
                "exercise": exercise_id,
            },
            # The learner sees the panel, not the two lines that show it.
            "jupyter": {"source_hidden": True},
            **_READ_ONLY,
        },
    )


def learner_pack(lesson: Lesson, course_policy: PolicyLayer | None = None) -> dict[str, Any]:
    """The learner-side lesson pack (``lesson.json``): never solution text or hidden test code.

    ``policy`` is the AI policy in force (course, lesson and exercise settings resolved).
    """
    return LessonPack.from_lesson(lesson, course_policy).to_json()


def _learner_cell(cell: Cell) -> dict[str, Any]:
    assert cell.learner_source is not None
    meta: dict[str, Any] = {
        "cell": cell.cell_id,
        "role": cell.role.value,
        "exercise": cell.exercise,
    }
    if cell.origin is not None:
        meta["origin"] = cell.origin
    metadata: dict[str, Any] = {"eduproject": meta}
    tags = list(cell.foreign_tags)
    if _may_raise(cell) and "raises-exception" not in tags:
        # Stubs fail their tests, and a stub at the top level of a cell raises when run;
        # with this tag "Run All" (and papermill) go on to the next exercise and its tutor
        # panel instead of stopping at the first unfinished exercise.
        tags.append("raises-exception")
    if tags:
        metadata["tags"] = tags
    if cell.role in (Role.SETUP, Role.TESTS):
        metadata.update(_READ_ONLY)
    if cell.kind == "code":
        return _code_cell(cell.cell_id, cell.learner_source, metadata)
    out: dict[str, Any] = {
        "cell_type": cell.kind,
        "id": cell.cell_id,
        "metadata": metadata,
        "source": _lines(cell.learner_source),
    }
    if cell.attachments:
        out["attachments"] = cell.attachments
    return out


def _may_raise(cell: Cell) -> bool:
    """Test cells, and solution cells whose stub raises as soon as the cell runs."""
    if cell.role is Role.TESTS:
        return True
    if cell.role not in (Role.SOLUTION, Role.ANSWER) or cell.learner_source is None:
        return False
    if cell.kind != "code":
        return False
    return STUB_LINES[-1] in cell.learner_source.split("\n")  # an unindented stub line


def _code_cell(cell_id: str, source: str, metadata: dict[str, Any]) -> dict[str, Any]:
    return {
        "cell_type": "code",
        "execution_count": None,
        "id": cell_id,
        "metadata": metadata,
        "outputs": [],
        "source": _lines(source),
    }


def _lines(source: str) -> list[str]:
    return source.splitlines(keepends=True)


def _write_if_changed(path: Path, data: bytes) -> bool:
    if path.is_file() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return True
