"""A learner's answer to a manually graded exercise, and its fingerprint.

The grader records, for every ``manual`` exercise, the hash of the learner's answer as read
from the executed notebook (:func:`answer_cells`, :func:`answer_hash`); the manual-grading
desk (:mod:`eduproject.grading.manual`) keeps a person's points with that hash. Both sides
read the answer the same way, so this lives below both.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

__all__ = ["answer_cells", "answer_hash"]

# Cells of an exercise that are not part of a learner's answer.
_NOT_ANSWER = ("prompt", "panel", "tests", "hidden-tests", "hints", "rubric", "ai-policy")


def answer_cells(notebook: dict[str, Any] | None, exercise: str) -> list[dict[str, Any]]:
    """The cells of ``notebook`` (an executed notebook) that answer manual ``exercise``.

    >>> [c["source"] for c in answer_cells(executed, "explain")]   # doctest: +SKIP
    ['A loop runs its body once per item.', 'print(sum_evens([2, 4]))']
    """
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(cells, list):
        return []
    current: object = None
    out: list[dict[str, Any]] = []
    for cell in cells:
        if not isinstance(cell, dict):
            continue
        meta = cell.get("metadata")
        ours = meta.get("eduproject") if isinstance(meta, dict) else None
        if isinstance(ours, dict) and "cell" in ours:
            current = ours.get("exercise")  # a cell of the lesson: it says where we are
            if ours.get("role") in _NOT_ANSWER:
                continue
        if current == exercise:
            out.append(cell)  # a lesson cell of the exercise, or one the learner added there
    return out


def answer_hash(cells: list[dict[str, Any]]) -> str:
    """A fingerprint of what a learner wrote (cell types, sources and pasted images).

    Outputs are left out: they come from running the answer, so regrading the same answer
    keeps its hash (and its points).
    """
    text = json.dumps(
        [[c.get("cell_type"), _text(c.get("source")), c.get("attachments") or {}] for c in cells],
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _text(value: object) -> str:
    if isinstance(value, list):
        return "".join(str(v) for v in value)
    return value if isinstance(value, str) else ""
