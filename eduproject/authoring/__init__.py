"""Authoring: read lesson notebooks, import nbgrader/otter lessons, release and validate.

The lesson model and its files are the core's (:mod:`eduproject.core`: ``Lesson``,
``read_bundle``, ...); validate runs solutions and stubs in the runner.

from eduproject.authoring import load_lesson, release, validate_lesson
lesson = load_lesson(Path("exercises/01-functions"))
release(lesson.folder)                 # notebooks/01-functions/, build/grader/01-functions/
validate_lesson(lesson.folder)         # raises LessonValidationError when broken
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from eduproject.authoring.parse import find_lessons, load_lesson
from eduproject.authoring.release import (
    ReleaseResult,
    learner_notebook,
    learner_pack,
    release,
    stale_files,
)

if TYPE_CHECKING:
    from eduproject.authoring.validate import ValidationReport, validate_lesson, validate_lessons

# validate (kernels, papermill, asyncio: a tenth of a second to import) loads on first use,
# so that grading, which reads lessons with `parse`, does not pay for it.
_LAZY = ("ValidationReport", "validate_lesson", "validate_lessons")

__all__ = [
    "ReleaseResult",
    "ValidationReport",
    "find_lessons",
    "learner_notebook",
    "learner_pack",
    "load_lesson",
    "release",
    "stale_files",
    "validate_lesson",
    "validate_lessons",
]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'eduproject.authoring' has no attribute {name!r}")
    from eduproject.authoring import validate

    return getattr(validate, name)
