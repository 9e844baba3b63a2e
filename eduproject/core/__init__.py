"""The core layer: what every other part of eduproject reads and writes.

The lesson model (``lesson.py``) and its files -- the sealed grader bundle (``bundle.py``) and
the learner pack ``lesson.json`` (``pack.py``) -- the result types (``results.py``), the
course's AI policy (``policy/``), solution fingerprints for the leak guard
(``fingerprints.py``), learner ids and the SQLite/PostgreSQL opener. With
:mod:`eduproject.errors` (and the settings), this is the bottom layer: it imports nothing
above it, so the grader, the tutor and the learner's kernel can all rely on it::

    from eduproject.core import LessonPack, TestResult
    pack = LessonPack.find()                  # lesson.json next to the notebook
    pack.exercise("sum_evens").visible_tests

Modules not named here are internal; import the names below from ``eduproject.core``.
Names are imported on first use (the learner's kernel loads only what ``check`` needs).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from eduproject.core.bundle import default_grader_dir, read_bundle, write_bundle
    from eduproject.core.fingerprints import guard_data, solution_region
    from eduproject.core.learner_ids import normalize_learner_id
    from eduproject.core.lesson import (
        Cell,
        Exercise,
        Lesson,
        Role,
        TestCase,
        exercise_policy,
        lesson_policies,
    )
    from eduproject.core.pack import PACK_NAME, ExerciseInfo, LessonPack, VisibleTest
    from eduproject.core.results import (
        ExerciseResult,
        Status,
        SubmissionResult,
        TestOutcome,
        TestResult,
    )
    from eduproject.core.storage import open_store

_EXPORTS = {
    "PACK_NAME": "eduproject.core.pack",
    "Cell": "eduproject.core.lesson",
    "Exercise": "eduproject.core.lesson",
    "ExerciseInfo": "eduproject.core.pack",
    "ExerciseResult": "eduproject.core.results",
    "Lesson": "eduproject.core.lesson",
    "LessonPack": "eduproject.core.pack",
    "Role": "eduproject.core.lesson",
    "Status": "eduproject.core.results",
    "SubmissionResult": "eduproject.core.results",
    "TestCase": "eduproject.core.lesson",
    "TestOutcome": "eduproject.core.results",
    "TestResult": "eduproject.core.results",
    "VisibleTest": "eduproject.core.pack",
    "default_grader_dir": "eduproject.core.bundle",
    "exercise_policy": "eduproject.core.lesson",
    "guard_data": "eduproject.core.fingerprints",
    "lesson_policies": "eduproject.core.lesson",
    "normalize_learner_id": "eduproject.core.learner_ids",
    "open_store": "eduproject.core.storage",
    "read_bundle": "eduproject.core.bundle",
    "solution_region": "eduproject.core.fingerprints",
    "write_bundle": "eduproject.core.bundle",
}

__all__ = [
    "PACK_NAME",
    "Cell",
    "Exercise",
    "ExerciseInfo",
    "ExerciseResult",
    "Lesson",
    "LessonPack",
    "Role",
    "Status",
    "SubmissionResult",
    "TestCase",
    "TestOutcome",
    "TestResult",
    "VisibleTest",
    "default_grader_dir",
    "exercise_policy",
    "guard_data",
    "lesson_policies",
    "normalize_learner_id",
    "open_store",
    "read_bundle",
    "solution_region",
    "write_bundle",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'eduproject.core' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
