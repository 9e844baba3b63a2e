"""pass@k from several samples, and the simulated-student validation of hints (loopback)."""

from __future__ import annotations

from pathlib import Path

import pytest

from eduproject.bench.grade import SandboxGrader
from eduproject.bench.runner import BenchOptions, run_bench

from .conftest import COURSE, write_config
from .server import ScriptedModels

pytestmark = pytest.mark.slow


def test_pass_at_k_from_samples(
    isolated: Path, server: ScriptedModels, grader: SandboxGrader
) -> None:
    # `flaky` is right on sample 0 only: c = 1 of n = 3 for every item.
    write_config(isolated, server.base_url, ["flaky"])
    options = BenchOptions(
        routes=("flaky",),
        suites=(str(COURSE),),
        tasks=("completion",),
        samples=3,
        limit=2,
        course_dir=isolated,
    )
    report = run_bench(options, grader=grader)
    (m,) = report.metrics
    assert (m.requests, m.accepted) == (6, 2)
    assert m.pass_at[1] == pytest.approx(1 / 3)
    assert m.pass_at[3] == 1.0
    seeds = [c["seed"] for c in server.calls if c["model"] == "flaky"]
    assert sorted(seeds) == [0, 0, 1, 1, 2, 2]
    assert {c["temperature"] for c in server.calls if c["model"] == "flaky"} == {0.8}


def test_hint_validation_follows_phung(
    isolated: Path, server: ScriptedModels, grader: SandboxGrader
) -> None:
    write_config(isolated, server.base_url, ["helpful", "contrary"])
    options = BenchOptions(
        routes=("helpful", "contrary"),
        suites=(str(COURSE),),
        tasks=("hint",),
        limit=1,
        validate=True,
        repairs=2,
        course_dir=isolated,
    )
    report = run_bench(options, grader=grader)
    hints = {r.route: r for r in report.records if r.task == "hint"}
    # helpful: 0/2 repairs without the hint, 2/2 with it -> accepted.
    assert hints["helpful"].accepted
    detail = hints["helpful"].detail
    assert (detail["without_hint"], detail["with_hint"], detail["repairs"]) == (0, 2, 2)
    # contrary: 2/2 without, 0/2 with -> n2 < n1, rejected although the guards passed it.
    assert not hints["contrary"].accepted
    assert hints["contrary"].status == "ok"
    assert "does not help enough: 0/2 repairs with it, 2/2 without" in hints["contrary"].reason
    repairs = [r for r in report.records if r.task == "repair"]
    assert len(repairs) == 2 * 2 * 2  # two routes x (2 without + 2 with)
    rows = {(m.route, m.task): m for m in report.metrics}
    assert rows[("helpful", "repair")].accepted == 2
    assert rows[("contrary", "repair")].accepted == 2
