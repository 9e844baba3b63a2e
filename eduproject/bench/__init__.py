"""The model benchmark: accepted-output rate and cost per accepted output, per route and task.

    from eduproject.bench import BenchOptions, run_bench, write_report

    report = run_bench(BenchOptions(routes=("local-smollm2",), suites=("exercises",), limit=4))
    write_report(report, Path("bench"))

See docs/bench.md. Names are imported on first use: ``eduproject --help`` must not pay for
the router, the grader and matplotlib.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "BenchItem": "eduproject.bench.suites",
    "load_suite": "eduproject.bench.suites",
    "humaneval_items": "eduproject.bench.suites",
    "SandboxGrader": "eduproject.bench.grade",
    "Grade": "eduproject.bench.grade",
    "BenchOptions": "eduproject.bench.runner",
    "BenchReport": "eduproject.bench.runner",
    "run_bench": "eduproject.bench.runner",
    "Record": "eduproject.bench.metrics",
    "TaskMetrics": "eduproject.bench.metrics",
    "pass_at_k": "eduproject.bench.metrics",
    "write_report": "eduproject.bench.report",
    "summary_table": "eduproject.bench.report",
    "check_identifiers": "eduproject.bench.identifiers",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'eduproject.bench' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
