"""Notebook files from ``(type-and-tags, source)`` cell specs (see tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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
