"""Fixtures shared by every area's tests.

``write_lesson`` builds a lesson folder from ``(type-and-tags, source)`` pairs, where the first
word is the cell type (``md``, ``code`` or ``raw``) and the rest are cell tags:

    folder = write_lesson([
        ("md exercise=double", "# Double\\nWrite `double(x)`."),
        ("code solution", "def double(x):\\n    ### BEGIN SOLUTION\\n    return 2 * x\\n    ### END SOLUTION"),
        ("code tests", "assert double(2) == 4"),
    ])
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.support.lessons import CellSpec, notebook_json
from tests.support.wire import WireServer, loopback, stop_loopback

WriteLesson = Callable[..., Path]


@pytest.fixture
def write_lesson(tmp_path: Path) -> WriteLesson:
    """Return ``write(cells, name="lesson", *, data=None, minor=5) -> lesson folder``."""

    def write(
        cells: Sequence[CellSpec],
        name: str = "lesson",
        *,
        data: dict[str, bytes] | None = None,
        minor: int = 5,
    ) -> Path:
        folder = tmp_path / "exercises" / name
        folder.mkdir(parents=True)
        text = json.dumps(notebook_json(cells, minor=minor), indent=1, sort_keys=True)
        (folder / f"{name}.ipynb").write_text(text + "\n", encoding="utf-8")
        for rel, content in (data or {}).items():
            path = folder / "data" / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        return folder

    return write


@pytest.fixture(scope="session")
def wire() -> WireServer:
    """The loopback server that speaks the providers' wire formats (tests/support/wire.py)."""
    return loopback()


@pytest.fixture(scope="session", autouse=True)
def _stop_loopback() -> Iterator[None]:
    """Whoever started the loopback server (a fixture or a ``fake_openai`` block), it stops
    with the session."""
    yield
    stop_loopback()


@pytest.fixture(scope="session")
def postgres() -> Iterator[Any]:
    """A real PostgreSQL server for the whole session (tests/pg_support.py);
    ``postgres.new_database()`` gives each test an empty database URL."""
    from tests.support.postgres import postgres_server

    with postgres_server() as server:
        yield server
