"""Authoring: the exercise format, importers, release and validate.

from eduproject.authoring import load_lesson, release, validate_lesson
lesson = load_lesson(Path("exercises/01-functions"))
release(lesson.folder)                 # notebooks/01-functions/, build/grader/01-functions/
validate_lesson(lesson.folder)         # raises LessonValidationError when broken
"""

from __future__ import annotations

from eduproject.authoring.parse import find_lessons, load_lesson
from eduproject.authoring.release import (
    ReleaseResult,
    learner_notebook,
    learner_pack,
    release,
    stale_files,
)
from eduproject.authoring.validate import ValidationReport, validate_lesson, validate_lessons
from eduproject.core.bundle import read_bundle, write_bundle
from eduproject.core.lesson import Cell, Exercise, Lesson, Role, TestCase

__all__ = [
    "Cell",
    "Exercise",
    "Lesson",
    "ReleaseResult",
    "Role",
    "TestCase",
    "ValidationReport",
    "find_lessons",
    "learner_notebook",
    "learner_pack",
    "load_lesson",
    "read_bundle",
    "release",
    "stale_files",
    "validate_lesson",
    "validate_lessons",
    "write_bundle",
]
