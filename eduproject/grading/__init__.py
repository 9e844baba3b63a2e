"""Grading a class: collect submissions, grade them in the runner, keep a gradebook, report.

``grade_lesson`` grades every submission of a lesson (``pipeline.py``, on the runner's
executors) into a :class:`Gradebook` (``gradebook.py``); ``export``, ``write_feedback`` and
``write_report`` read it back (``eduproject.grading.export.export`` writes CSV, Canvas and
Gradescope files; ``eduproject.grading.collect.collect`` gathers submissions);
``simulate_class`` makes a class of simulated learners for the demo::

    from eduproject.grading import Gradebook, grade_lesson
    summary = grade_lesson(Path("exercises/01-functions"), Path("submissions"),
                           Path("gradebook.sqlite"), workers=2)
    results = Gradebook(Path("gradebook.sqlite")).results()

Modules not named here are internal. Names are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from eduproject.grading.feedback import write_feedback
    from eduproject.grading.gradebook import Gradebook
    from eduproject.grading.pipeline import GradeRunSummary, grade_lesson
    from eduproject.grading.report import print_summary, write_report
    from eduproject.grading.simulate import simulate_class

_EXPORTS = {
    "GradeRunSummary": "eduproject.grading.pipeline",
    "Gradebook": "eduproject.grading.gradebook",
    "grade_lesson": "eduproject.grading.pipeline",
    "print_summary": "eduproject.grading.report",
    "simulate_class": "eduproject.grading.simulate",
    "write_feedback": "eduproject.grading.feedback",
    "write_report": "eduproject.grading.report",
}

__all__ = [
    "GradeRunSummary",
    "Gradebook",
    "grade_lesson",
    "print_summary",
    "simulate_class",
    "write_feedback",
    "write_report",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'eduproject.grading' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
