"""The sealed grader bundle: everything grading needs, from the instructor side only.

Written by release to ``build/grader/<lesson>/bundle.json`` (mode 0600, folder 0700) with a
``bundle.json.sha256`` seal beside it. Grading takes test code, points and read-only cells from
here, never from a submission.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from eduproject.core.lesson import BUNDLE_SCHEMA, Cell, Exercise, Lesson, Role, TestCase
from eduproject.errors import BundleError

BUNDLE_NAME = "bundle.json"


def default_grader_dir(lesson_folder: Path) -> Path:
    """Where a lesson's sealed bundle lives: ``build/grader/`` of its course, whatever the cwd.

    The course is the folder holding ``exercises/`` (else the lesson folder's parent), so
    release and grade find the same bundle from anywhere.

        >>> default_grader_dir(Path("/course/exercises/01-functions"))
        PosixPath('/course/build/grader')
    """
    given = Path(lesson_folder)
    parent = given.absolute().parent
    course = parent.parent if parent.name == "exercises" else parent
    if not given.is_absolute() and course.is_relative_to(Path.cwd()):
        course = course.relative_to(Path.cwd())  # messages stay short: build/grader/...
    return course / "build" / "grader"


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def lesson_to_json(lesson: Lesson) -> dict[str, Any]:
    return {
        "schema": BUNDLE_SCHEMA,
        "lesson": lesson.id,
        "title": lesson.title,
        "version": lesson.version,
        "kernelspec": lesson.kernelspec,
        "language_info": lesson.language_info,
        "data_files": {
            p.as_posix(): hashlib.sha256((lesson.folder / p).read_bytes()).hexdigest()
            for p in lesson.data_files
        },
        "cells": [
            {
                "index": c.index,
                "cell_id": c.cell_id,
                "kind": c.kind,
                "role": c.role.value,
                "exercise": c.exercise,
                "source": c.source,
                "learner_source": c.learner_source,
                "learner_sha256": None
                if c.learner_source is None
                else sha256_text(c.learner_source),
                "points": c.points,
                "foreign_tags": list(c.foreign_tags),
                "origin": c.origin,
            }
            for c in lesson.cells
        ],
        "exercises": [
            {
                "id": e.id,
                "title": e.title,
                "prompt": e.prompt,
                "tests": [t.to_json() for t in e.tests],
                "hints": list(e.hints),
                "avoid": list(e.avoid),
                "all_or_nothing": e.all_or_nothing,
                "solution": e.solution,
                "stub": e.stub,
                "origin": e.origin,
                "manual": e.manual,
                "points": e.points,
                "rubric": e.rubric,
                "model_answer": e.model_answer,
            }
            for e in lesson.exercises
        ],
    }


def lesson_from_json(data: dict[str, Any], folder: Path) -> Lesson:
    if data.get("schema") != BUNDLE_SCHEMA:
        raise BundleError(
            f"grader bundle in {folder} has schema {data.get('schema')!r}, expected {BUNDLE_SCHEMA}",
            hint="release the lesson again with `eduproject release`",
        )
    cells = tuple(
        Cell(
            index=c["index"],
            cell_id=c["cell_id"],
            kind=c["kind"],
            role=Role(c["role"]),
            exercise=c["exercise"],
            source=c["source"],
            learner_source=c["learner_source"],
            points=c["points"],
            foreign_tags=tuple(c["foreign_tags"]),
            origin=c["origin"],
        )
        for c in data["cells"]
    )
    exercises = tuple(
        Exercise(
            id=e["id"],
            title=e["title"],
            prompt=e["prompt"],
            tests=tuple(TestCase.from_json(t) for t in e["tests"]),
            hints=tuple(e["hints"]),
            avoid=tuple(e["avoid"]),
            all_or_nothing=e["all_or_nothing"],
            solution=e["solution"],
            stub=e["stub"],
            origin=e["origin"],
            # Bundles released before manual exercises existed have none.
            manual=e.get("manual", False),
            points=e.get("points", 0.0),
            rubric=e.get("rubric", ""),
            model_answer=e.get("model_answer", ""),
        )
        for e in data["exercises"]
    )
    return Lesson(
        id=data["lesson"],
        title=data["title"],
        folder=folder,
        notebook_path=folder / BUNDLE_NAME,
        version=data["version"],
        cells=cells,
        exercises=exercises,
        data_files=tuple(Path(p) for p in sorted(data["data_files"])),
        kernelspec=data["kernelspec"],
        language_info=data["language_info"],
    )


def write_bundle(lesson: Lesson, out_dir: Path) -> Path:
    """Write the sealed bundle for ``lesson`` into ``out_dir`` and return the bundle path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(out_dir, 0o700)
    text = json.dumps(lesson_to_json(lesson), indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    path = out_dir / BUNDLE_NAME
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)
    seal = path.with_name(BUNDLE_NAME + ".sha256")
    seal.write_text(sha256_text(text) + "\n", encoding="utf-8")
    os.chmod(seal, 0o600)
    return path


def read_bundle(bundle_dir: Path) -> Lesson:
    """Load and verify a sealed bundle written by :func:`write_bundle`."""
    path = bundle_dir / BUNDLE_NAME
    seal = path.with_name(BUNDLE_NAME + ".sha256")
    if not path.is_file() or not seal.is_file():
        raise BundleError(
            f"no grader bundle in {bundle_dir}",
            hint="run `eduproject release exercises/<lesson>` first",
        )
    text = path.read_text(encoding="utf-8")
    if sha256_text(text) != seal.read_text(encoding="utf-8").strip():
        raise BundleError(
            f"grader bundle {path} does not match its seal: it was edited after release",
            hint="release the lesson again with `eduproject release`",
        )
    return lesson_from_json(json.loads(text), bundle_dir)
