"""`eduproject bench` end to end on loopback routes, and its page in a real browser."""

from __future__ import annotations

import csv
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.cli import run_cli

from .conftest import COURSE, write_config
from .server import ScriptedModels

pytestmark = pytest.mark.slow


def test_bench_command_writes_table_csv_and_page(
    isolated: Path, server: ScriptedModels, capsys: pytest.CaptureFixture[str]
) -> None:
    write_config(isolated, server.base_url, ["good", "bad"])
    out_dir = isolated / "bench"
    code, out, err = run_cli(
        [
            "bench", "--routes", "good,bad", "--suite", str(COURSE), "--tasks", "completion,explain",
            "--limit", "2", "--course", str(isolated), "-o", str(out_dir), "--no-progress",
        ],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    assert "good" in out and "bad" in out and "unpriced" in out
    assert f"wrote {out_dir / 'report.html'}" in out
    with (out_dir / "summary.csv").open() as handle:
        rows = {(r["route"], r["task"]): r for r in csv.DictReader(handle)}
    assert rows[("good", "completion")]["accepted_rate"] == "1.0000"
    assert rows[("good", "completion")]["pass_at_1"] == "1.0000"
    assert rows[("bad", "explain")]["accepted_rate"] == "0.0000"
    assert rows[("bad", "explain")]["cost_per_accepted_usd"] == "unpriced"
    assert rows[("good", "explain")]["cost_per_accepted_usd"] == "0.000140"

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    page = (out_dir / "report.html").resolve()
    dom = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert "Scoreboard" in dom and "What counts as accepted" in dom
    assert dom.count("data:image/png;base64,") >= 3  # accepted, outcomes, latency (+ cost)
    assert '<span class="flag">unpriced</span>' in dom
    shot = isolated / "bench.png"
    subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={shot}",
         "--window-size=1280,2000", page.as_uri()],
        capture_output=True, timeout=120, check=True,
    )  # fmt: skip
    assert shot.stat().st_size > 20_000


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--routes", "nosuch"], "no route named 'nosuch'"),
        (["--routes", "good", "--tasks", "poetry"], "unknown task 'poetry'"),
        (["--routes", "good", "--suite", "nowhere/"], "neither `humaneval` nor an existing folder"),
        (["--routes", "offline"], "the offline tutor is not a model"),
        (["--routes", "good", "--samples", "0"], "--samples must be at least 1"),
    ],
)
def test_user_errors_are_one_message(
    isolated: Path,
    server: ScriptedModels,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    write_config(isolated, server.base_url, ["good"])
    code, _, err = run_cli(["bench", "--course", str(isolated), "--no-progress", *args], capsys)
    assert code == 2
    assert message in err
    assert "Traceback" not in err
