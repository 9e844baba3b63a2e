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
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

CellSpec = tuple[str, str]
KINDS = {"md": "markdown", "code": "code", "raw": "raw"}


def notebook_json(cells: Sequence[CellSpec], *, minor: int = 5) -> dict[str, Any]:
    """An nbformat 4 notebook dict; cells get ids ``c0``, ``c1``... when ``minor >= 5``."""
    nb_cells = []
    for index, (head, source) in enumerate(cells):
        kind, *tags = head.split()
        cell: dict[str, Any] = {
            "cell_type": KINDS[kind],
            "metadata": {"tags": tags} if tags else {},
            "source": source.splitlines(keepends=True),
        }
        if kind == "code":
            cell["execution_count"] = None
            cell["outputs"] = []
        if minor >= 5:
            cell["id"] = f"c{index}"
        nb_cells.append(cell)
    return {
        "cells": nb_cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": minor,
    }


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
