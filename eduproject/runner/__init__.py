"""The runner layer: one sandboxed execution engine, shared by every caller.

Grading, ``validate``, the tutor's pass-check of a hint's code and the benchmark all run
learner code here: a zygote forks sandboxed children (``sandbox.py``, ``backends.py``,
``isolation.py``, ``zygote.py``, ``harness.py``), a judge outside the sandbox runs the tests
against proxies of the learner's values (``judge.py``, ``judges.py``, ``proxy.py``,
``namespace.py``, ``verdict.py``, ``channel.py``, ``wire.py``), and ``engine.py`` turns a
lesson and a submission into a :class:`~eduproject.core.results.SubmissionResult`::

    from eduproject.runner import Engine, Limits, Zygote, detect_backend, preload_for
    backend, limits = detect_backend(), Limits()
    with Zygote(backend, preload=preload_for(lesson), limits=limits) as zygote:
        engine = Engine(lesson, data_files={}, spawner=zygote, limits=limits)
        result = engine.grade("ada", Path("ada.ipynb"), notebook_bytes)

The runner imports only the core. Modules not named here are internal.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from eduproject.runner.engine import Engine, preload_for
    from eduproject.runner.executors import (
        DaskExecutor,
        Executor,
        GradeJob,
        LocalPool,
        make_executor,
    )
    from eduproject.runner.mutants import Mutant
    from eduproject.runner.sandbox import Backend, Limits, Zygote, detect_backend
    from eduproject.runner.submissions import discover, read_notebook

_EXPORTS = {
    "Backend": "eduproject.runner.sandbox",
    "DaskExecutor": "eduproject.runner.executors",
    "Engine": "eduproject.runner.engine",
    "Executor": "eduproject.runner.executors",
    "GradeJob": "eduproject.runner.executors",
    "Limits": "eduproject.runner.sandbox",
    "LocalPool": "eduproject.runner.executors",
    "Mutant": "eduproject.runner.mutants",
    "Zygote": "eduproject.runner.sandbox",
    "detect_backend": "eduproject.runner.sandbox",
    "discover": "eduproject.runner.submissions",
    "make_executor": "eduproject.runner.executors",
    "preload_for": "eduproject.runner.engine",
    "read_notebook": "eduproject.runner.submissions",
}

__all__ = [
    "Backend",
    "DaskExecutor",
    "Engine",
    "Executor",
    "GradeJob",
    "Limits",
    "LocalPool",
    "Mutant",
    "Zygote",
    "detect_backend",
    "discover",
    "make_executor",
    "preload_for",
    "read_notebook",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'eduproject.runner' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
