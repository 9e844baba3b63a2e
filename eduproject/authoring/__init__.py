"""Authoring: the exercise format, importers, release and validate."""

from eduproject.authoring.bundle import read_bundle, write_bundle
from eduproject.authoring.model import Cell, Exercise, Lesson, Role, TestCase

__all__ = ["Cell", "Exercise", "Lesson", "Role", "TestCase", "read_bundle", "write_bundle"]
