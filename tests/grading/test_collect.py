"""``eduproject collect``: notebooks from learners' homes into the grading layout, with
times, late flags and a manifest -- and nothing through a symbolic link."""

from __future__ import annotations

import csv
import datetime
import json
import os
from pathlib import Path

import pytest

from eduproject.errors import CollectError
from eduproject.grading.collect import collect
from eduproject.runner.submissions import discover

LESSON = "01-functions"
DEADLINE = datetime.datetime(2026, 12, 1, 23, 59, tzinfo=datetime.UTC)
BEFORE = DEADLINE.timestamp() - 3600
AFTER = DEADLINE.timestamp() + 7200


def notebook(home: Path, text: str, mtime: float, rel: str = f"{LESSON}/{LESSON}.ipynb") -> Path:
    path = home / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5, "x": text}
    path.write_text(json.dumps(document))
    os.utime(path, (mtime, mtime))
    return path


@pytest.fixture
def homes(tmp_path: Path) -> Path:
    root = tmp_path / "homes"
    notebook(root / "ada", "ada's", BEFORE)
    notebook(root / "bob", "bob's", AFTER, rel=f"{LESSON}.ipynb")  # next to the home's root
    (root / "cy").mkdir(parents=True)  # never opened the lesson
    secret = notebook(tmp_path / "teacher", "the solution", BEFORE)
    # mal links the instructor's notebook into his home, as the notebook and as a folder.
    (root / "mal" / LESSON).mkdir(parents=True)
    (root / "mal" / LESSON / f"{LESSON}.ipynb").symlink_to(secret)
    (root / "eve").mkdir()
    (root / "eve" / LESSON).symlink_to(secret.parent)
    (root / "fay").mkdir()
    os.link(secret, root / "fay" / f"{LESSON}.ipynb")  # a hard link to it
    (root / "gus" / LESSON).mkdir(parents=True)
    os.mkfifo(root / "gus" / LESSON / f"{LESSON}.ipynb")  # would hang a plain open()
    (tmp_path / "elsewhere").mkdir()
    (root / "hal").symlink_to(tmp_path / "elsewhere")  # the home itself is a link
    return root


def test_collects_with_times_late_flags_and_a_manifest(homes: Path, tmp_path: Path) -> None:
    out = tmp_path / "submissions"
    report = collect(LESSON, [f"{homes}/*"], out, deadline=DEADLINE)
    status = {r.learner: r.status for r in report.rows}
    assert status == {
        "ada": "collected",
        "bob": "collected",
        "cy": "missing",
        "eve": "refused",
        "fay": "refused",
        "gus": "refused",
        "hal": "refused",
        "mal": "refused",
    }
    assert json.loads((out / "ada" / f"{LESSON}.ipynb").read_text())["x"] == "ada's"
    assert (out / "ada" / f"{LESSON}.ipynb").stat().st_mtime == BEFORE
    assert [r.learner for r in report.late] == ["bob"]
    (bob,) = [r for r in report.rows if r.learner == "bob"]
    assert bob.late_by_s == pytest.approx(7200)
    # Nothing of the planted solution was copied anywhere.
    copied = b"".join(p.read_bytes() for p in out.rglob("*") if p.is_file())
    assert b"the solution" not in copied
    reasons = {r.learner: r.reason for r in report.refused}
    assert "symbolic link" in reasons["mal"] and "symbolic link" in reasons["eve"]
    assert "hard links" in reasons["fay"] and "not a regular file" in reasons["gus"]
    assert "symbolic link" in reasons["hal"]
    with report.manifest.open() as fh:
        rows = {row["learner"]: row for row in csv.DictReader(fh)}
    assert rows["bob"]["late"] == "yes" and rows["ada"]["late"] == "no"
    assert rows["cy"]["status"] == "missing" and len(rows["ada"]["sha256"]) == 64
    # The grading layout: grade reads exactly the collected learners (manifest ignored).
    found = discover(out, LESSON)
    assert [s.learner for s in found.submissions] == ["ada", "bob"] and found.skipped == ()


def test_exchange_folder_placeholders_and_owners(tmp_path: Path) -> None:
    exchange = tmp_path / "exchange" / LESSON
    notebook(exchange, "ada's", BEFORE, rel="ada.ipynb")
    notebook(tmp_path / "hub" / "bob" / "work", "bob's", BEFORE)
    out = tmp_path / "out"
    report = collect(LESSON, [f"{exchange}/*.ipynb", f"{tmp_path}/hub/{{learner}}/work"], out)
    assert sorted(r.learner for r in report.collected) == ["ada", "bob"]
    assert all(r.late is None for r in report.collected)  # no deadline, no flag
    # Files in a shared folder must belong to the learner named by the file.
    owned = collect(LESSON, [f"{exchange}/*.ipynb"], tmp_path / "out2", require_owner=True)
    (row,) = owned.rows
    assert row.status == "refused" and "belongs to" in row.reason


def test_nothing_matches(tmp_path: Path) -> None:
    with pytest.raises(CollectError, match="nothing matches"):
        collect(LESSON, [f"{tmp_path}/nobody/*"], tmp_path / "out")


def test_cli(homes: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from eduproject.cli import main

    out = tmp_path / "subs"
    main(
        [
            "collect",
            LESSON,
            "--from",
            f"{homes}/*",
            "-o",
            str(out),
            "--deadline",
            "2026-12-01T23:59+00:00",
        ]
    )
    captured = capsys.readouterr()
    assert "collected 2 notebooks of 01-functions (1 late)" in captured.out
    assert "1 missing, 5 refused" in captured.out
    assert "refused mal: the notebook is a symbolic link" in captured.err
    with pytest.raises(SystemExit) as bad:
        main(["collect", LESSON, "--from", f"{homes}/*", "-o", str(out), "--deadline", "friday"])
    assert bad.value.code == 2 and "is not an ISO date" in capsys.readouterr().err
