"""Fixtures of the grading tests: one real sandboxed zygote shared by the whole session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from eduproject.core.lesson import Lesson
from eduproject.runner.sandbox import Backend, Limits, Zygote, detect_backend

from .grading_support import BASIC, WriteLesson, bundle_lesson

# Short timeouts keep the hostile cases quick; 512 MB is plenty for the fixtures.
TEST_LIMITS = Limits(cell_timeout=5, timeout=30, memory_mb=512, processes=32, file_mb=8)


@pytest.fixture(scope="session")
def backend() -> Backend:
    return detect_backend()


@pytest.fixture(scope="session")
def zygote(backend: Backend) -> Iterator[Zygote]:
    """A zygote without preloads (pandas tests use ``pandas_zygote``)."""
    with Zygote(backend, preload=[], limits=TEST_LIMITS) as z:
        yield z


@pytest.fixture(scope="session")
def pandas_zygote(backend: Backend) -> Iterator[Zygote]:
    with Zygote(backend, preload=["pandas", "numpy"], limits=TEST_LIMITS) as z:
        yield z


@pytest.fixture
def basic_lesson(write_lesson: WriteLesson, tmp_path: Path) -> Lesson:
    return bundle_lesson(write_lesson(BASIC, "basic"), tmp_path / "grader")
