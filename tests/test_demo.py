"""`eduproject demo`, the README's main job, end to end on one lesson of the sample course."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_demo_runs_end_to_end_in_an_empty_folder(tmp_path: Path) -> None:
    # No exercises/ here: the demo uses the sample course shipped inside the package.
    empty = tmp_path / "anywhere"
    empty.mkdir()
    out = tmp_path / "demo"
    env = {
        **os.environ,
        "EDUPROJECT_TUTOR_ROUTES": "offline",  # the model tests live in tests/models and tests/tutor
        "EDUPROJECT_LEDGER": str(tmp_path / "ledger.sqlite"),
        "EDUPROJECT_CACHE": str(tmp_path / "cache.sqlite"),
    }
    exe = Path(sys.executable).with_name("eduproject")
    done = subprocess.run(
        [str(exe), "demo", "--lesson", "01-functions", "--learners", "8", "-o", str(out)],
        cwd=empty,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Traceback" not in done.stdout + done.stderr
    assert "the demo uses the sample course shipped with eduproject" in done.stdout
    assert sorted(p.name for p in empty.iterdir()) == []  # everything went below -o
    for step in ("1. Release", "2. Validate", "3. Simulate", "4. Grade", "5. Tutor"):
        assert step in done.stdout

    rows = list(csv.DictReader((out / "grades.csv").read_text().splitlines()))
    assert {r["learner"] for r in rows} == {
        p.name for p in (out / "submissions/01-functions").iterdir() if p.is_dir()
    }
    assert len(rows) == 8 * 4
    statuses = {r["status"] for r in rows}
    assert {"graded", "timeout", "killed", "tampered"} <= statuses
    # The correct learner scores full marks; nobody scores more than the maximum.
    assert all(float(r["score"]) <= float(r["max_score"]) for r in rows)
    assert len(list((out / "feedback").rglob("*.html"))) == 8
    report = (out / "report.html").read_text()
    assert "<img" in report and "01-functions" in report
    assert "Offline tutor" in done.stdout or "Instructor hint" in done.stdout
