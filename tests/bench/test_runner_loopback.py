"""The benchmark against a loopback OpenAI-compatible server with scripted models.

Two exercises of the sample course, three tasks, every kind of route: the figures computed
from the answers are asserted exactly, and so is what landed in the ledger.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from eduproject.bench.grade import SandboxGrader
from eduproject.bench.metrics import TaskMetrics
from eduproject.bench.runner import BenchOptions, BenchReport, run_bench

from .conftest import COURSE, PRICE_IN, PRICE_OUT, write_config
from .server import ScriptedModels

pytestmark = pytest.mark.slow

# Every scripted answer reports 100 prompt and 20 completion tokens.
COST_PER_REQUEST = (100 * PRICE_IN + 20 * PRICE_OUT) / 1e6


@pytest.fixture(scope="module")
def report(
    server: ScriptedModels,
    grader: SandboxGrader,
    tmp_path_factory: pytest.TempPathFactory,
) -> BenchReport:
    # Module scope: the environment is isolated by hand (monkeypatch is per test).
    mp = pytest.MonkeyPatch()
    tmp = tmp_path_factory.mktemp("loopback")
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        mp.setenv(name, str(tmp / name.lower()))
    for name in ("EDUPROJECT_USER_CONFIG", "EDUPROJECT_CONFIG", "EDUPROJECT_LEDGER"):
        mp.delenv(name, raising=False)
    course = tmp / "course"
    course.mkdir()
    write_config(course, server.base_url, ["good", "bad", "slow", "failing"])
    options = BenchOptions(
        routes=("good", "bad", "slow", "failing", "failing>good"),
        suites=(str(COURSE),),
        tasks=("completion", "hint", "explain"),
        limit=2,
        course_dir=course,
    )
    try:
        return run_bench(options, grader=grader)
    finally:
        mp.undo()


def row(report: BenchReport, route: str, task: str) -> TaskMetrics:
    return next(m for m in report.metrics if m.route == route and m.task == task)


@pytest.mark.parametrize("task", ["completion", "hint", "explain"])
def test_good_route_is_accepted_and_priced(report: BenchReport, task: str) -> None:
    m = row(report, "good", task)
    assert (m.requests, m.accepted, m.accepted_rate) == (2, 2, 1.0)
    assert (m.timeout_rate, m.error_rate, m.malformed_rate, m.fallback_rate) == (0, 0, 0, 0)
    assert (m.prompt_tokens, m.completion_tokens) == (200, 40)
    assert not m.unpriced
    assert m.cost_usd == pytest.approx(2 * COST_PER_REQUEST)
    assert m.cost_per_accepted_usd == pytest.approx(COST_PER_REQUEST)
    assert m.p50_latency_s is not None and m.p95_latency_s is not None
    assert m.p50_ttft_s is not None
    if task == "completion":
        assert m.pass_at == {1: 1.0}


@pytest.mark.parametrize(
    ("task", "reason"),
    [
        ("completion", "tests fail"),
        ("hint", "leak: "),
        ("explain", "invents identifiers not in the code: `helper_magic`, `math.add`"),
    ],
)
def test_bad_route_is_rejected_and_unpriced(report: BenchReport, task: str, reason: str) -> None:
    m = row(report, "bad", task)
    assert (m.requests, m.accepted, m.accepted_rate) == (2, 0, 0.0)
    # Answered and well-formed, just not acceptable.
    assert (m.timeout_rate, m.error_rate, m.malformed_rate) == (0, 0, 0)
    assert m.unpriced and m.cost_usd is None and m.cost_per_accepted_usd is None
    assert m.cost_per_accepted_text() == "unpriced"
    records = [r for r in report.records if r.route == "bad" and r.task == task]
    assert all(reason in r.reason for r in records), [r.reason for r in records]


@pytest.mark.parametrize("task", ["completion", "hint", "explain"])
def test_slow_route_times_out(report: BenchReport, task: str) -> None:
    m = row(report, "slow", task)
    assert (m.requests, m.accepted, m.timeout_rate, m.error_rate) == (2, 0, 1.0, 0.0)
    assert m.p50_latency_s is None  # nothing was answered
    assert m.cost_usd == 0.0 and m.cost_per_accepted_usd is None
    assert m.cost_per_accepted_text() == "n/a (none accepted)"


@pytest.mark.parametrize("task", ["completion", "hint", "explain"])
def test_failing_route_errors(report: BenchReport, task: str) -> None:
    m = row(report, "failing", task)
    assert (m.requests, m.accepted, m.error_rate, m.timeout_rate) == (2, 0, 1.0, 0.0)
    assert all("HTTP 500" in r.reason for r in report.records if r.route == "failing")


@pytest.mark.parametrize("task", ["completion", "hint", "explain"])
def test_fallback_chain_counts_fallbacks(report: BenchReport, task: str) -> None:
    m = row(report, "failing>good", task)
    assert (m.requests, m.accepted, m.fallback_rate, m.error_rate) == (2, 2, 1.0, 0.0)
    # The failed attempt on `failing` is priced at $0 (no tokens): the cost is good's.
    assert m.cost_per_accepted_usd == pytest.approx(COST_PER_REQUEST)
    records = [r for r in report.records if r.route == "failing>good" and r.task == task]
    assert {r.answered_by for r in records} == {"good"}
    assert {r.attempts for r in records} == {2}


def test_every_attempt_is_in_the_ledger_and_marked(report: BenchReport) -> None:
    db = sqlite3.connect(report.ledger_path)
    rows = db.execute("SELECT id, route, task, status, accepted FROM attempts").fetchall()
    db.close()
    assert len(rows) == sum(r.attempts for r in report.records)
    by_id = {r[0]: r for r in rows}
    for record in report.records:
        if record.attempt_id is None:
            continue
        _, route, task, status, accepted = by_id[record.attempt_id]
        assert (route, task, status) == (record.answered_by, record.task, "ok")
        assert accepted == int(record.accepted)
    failed = [r for r in rows if r[1] in ("slow", "failing")]
    assert {r[3] for r in failed if r[1] == "slow"} == {"timeout"}
    assert {r[3] for r in failed if r[1] == "failing"} == {"error"}
    assert all(r[4] is None for r in failed)  # no answer, nothing to accept


def test_same_prompts_for_every_route(report: BenchReport, server: ScriptedModels) -> None:
    hints = [r for r in report.records if r.task == "hint"]
    attempts = {(r.route, r.item): r.detail["attempt"] for r in hints}
    for item in {r.item for r in hints}:
        assert len({attempts[(route, item)] for route in report.routes}) == 1


def test_files_are_written(report: BenchReport, tmp_path: Path) -> None:
    from eduproject.bench.report import write_report

    paths = write_report(report, tmp_path / "out")
    names = sorted(p.name for p in paths)
    assert names == ["records.jsonl", "report.html", "summary.csv"]
    csv_text = (tmp_path / "out" / "summary.csv").read_text()
    assert csv_text.splitlines()[0].startswith("route,models,suite,task,requests,accepted")
    bad_rows = [line for line in csv_text.splitlines() if line.startswith("bad,")]
    assert len(bad_rows) == 3 and all(line.endswith("unpriced,unpriced") for line in bad_rows)
    records = (tmp_path / "out" / "records.jsonl").read_text().splitlines()
    assert len(records) == len(report.records) == 5 * 3 * 2
