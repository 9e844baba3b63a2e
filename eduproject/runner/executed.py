"""The executed notebook of a graded submission, as the learner may see it.

Learner cells keep their outputs (shape-checked and within a budget); test cells show their
VISIBLE source only, with one line per test; hidden tests appear by name and points, never
with their source or messages.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from eduproject.core.lesson import Cell, Lesson, Role
from eduproject.core.results import TestOutcome
from eduproject.runner.submissions import SubmittedCell

__all__ = ["OutputBudget", "Step", "code_cell", "notebook", "shown_cell", "tests_cell"]

_OUTPUT_TYPES = ("stream", "display_data", "execute_result", "error")


@dataclass
class Step:
    """One step of a grading plan: run a cell, run a test cell's tests, or only show a cell."""

    action: str  # "run" | "tests" | "show"
    cell: Cell | None  # the bundle's cell (None for cells the learner added)
    submitted: SubmittedCell | None
    code: str = ""

    def where(self) -> str:
        if self.action == "tests" and self.cell is not None:
            return f"the tests of cell {self.cell.cell_id!r}"
        if self.cell is not None:
            return f"cell {self.cell.cell_id!r}"
        if self.submitted is not None:
            return f"cell {self.submitted.index} of the notebook"
        return "a cell"


class OutputBudget:
    """Characters of output a submission may still add to its executed notebook."""

    def __init__(self, characters: int) -> None:
        self.left = characters

    def take(self, outputs: Any) -> list[dict[str, Any]]:
        """The learner process's outputs, shape-checked and cut to the budget (untrusted)."""
        kept: list[dict[str, Any]] = []
        if type(outputs) is not list:
            return kept
        for out in outputs:
            if type(out) is not dict or out.get("output_type") not in _OUTPUT_TYPES:
                continue
            size = len(json.dumps(out))
            if size > self.left:
                kept.append(
                    {"output_type": "stream", "name": "stderr", "text": "[output truncated]\n"}
                )
                self.left = 0
                break
            self.left -= size
            kept.append(out)
        return kept


def _meta(step: Step) -> dict[str, Any]:
    if step.cell is None:
        return {}
    meta: dict[str, Any] = {"cell": step.cell.cell_id, "role": step.cell.role.value}
    if step.cell.exercise is not None:
        meta["exercise"] = step.cell.exercise
    return {"eduproject": meta}


def _id(step: Step) -> str:
    if step.cell is not None:
        return step.cell.cell_id
    return f"added-{step.submitted.index if step.submitted else 0}"


def code_cell(step: Step, source: str) -> dict[str, Any]:
    return {
        "cell_type": "code",
        "id": _id(step),
        "metadata": _meta(step),
        "source": source,
        "outputs": [],
        "execution_count": None,
    }


def shown_cell(step: Step) -> dict[str, Any]:
    """A cell that is shown as submitted and not run (markdown, raw, panel...)."""
    submitted = step.submitted
    kind = submitted.kind if submitted is not None else "markdown"
    source = submitted.source if submitted is not None else ""
    if kind == "code":
        return code_cell(step, source)
    cell: dict[str, Any] = {
        "cell_type": kind,
        "id": _id(step),
        "metadata": _meta(step),
        "source": source,
    }
    if submitted is not None and submitted.attachments:
        cell["attachments"] = submitted.attachments
    return cell


def tests_cell(step: Step, lines: list[tuple[TestOutcome, str]]) -> dict[str, Any]:
    """A test cell: its visible source, and one result line per test (with what it printed)."""
    cell = step.cell
    assert cell is not None
    visible = cell.learner_source if cell.role == Role.TESTS and cell.learner_source else ""
    out = code_cell(step, visible or "# hidden tests")
    text = "".join(_line(outcome, printed) for outcome, printed in lines)
    if text:
        out["outputs"] = [{"output_type": "stream", "name": "stdout", "text": text}]
    return out


def _line(outcome: TestOutcome, printed: str) -> str:
    mark = "REVIEW" if outcome.review else "PASS" if outcome.passed else "FAIL"
    label = f"{outcome.name} (hidden)" if outcome.hidden else outcome.name
    line = f"{mark} {label}: {outcome.points:g}/{outcome.max_points:g} points"
    if outcome.review:
        line += " -- passed, but your instructor must confirm it"
    elif outcome.learner_message:  # a hidden test's own message is the instructor's
        line += f" -- {outcome.learner_message}"
    extra = "" if outcome.hidden else "".join(f"    {t}\n" for t in printed.splitlines()[:50])
    return line + "\n" + extra


def notebook(lesson: Lesson, learner: str, cells: list[dict[str, Any]]) -> dict[str, Any]:
    """The nbformat 4.5 document (cell ids made unique: copied cells share one)."""
    seen: set[str] = set()
    for i, cell in enumerate(cells):
        if cell["id"] in seen:
            cell["id"] = f"{cell['id']}-{i}"
        seen.add(cell["id"])
    return {
        "cells": cells,
        "metadata": {
            "eduproject": {"lesson": lesson.id, "version": lesson.version, "learner": learner},
            "kernelspec": lesson.kernelspec,
            "language_info": lesson.language_info,
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
