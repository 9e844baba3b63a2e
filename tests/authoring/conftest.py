"""Fixture lessons for the authoring tests (built with the shared ``write_lesson``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.lessons import GOOD, GOOD_DATA


@pytest.fixture
def good_lesson(write_lesson: Callable[..., Path]) -> Path:
    """A lesson folder using every feature of the format (two exercises, data file)."""
    return write_lesson(GOOD, "01-good", data=GOOD_DATA)
