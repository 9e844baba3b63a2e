"""The CI-sized parity subset: ``benchmarks/parity.py`` on nbgrader's own example course.

CI reaches PyPI only, and the only real course notebooks found on PyPI are the ones the
nbgrader wheel ships with its documentation (``docs/source/user_guide/source/ps1``, BSD-3,
nbgrader is a dev dependency); no PyPI package ships otter-assign masters (see
benchmarks/parity/README.md). The harness runs on ``problem1.ipynb`` exactly as on the full
corpus (import, release, validate, grade three submissions with eduproject, generate and
autograde them with nbgrader), with the test environment's nbgrader as the original tool
instead of a separate virtual environment, to stay within CI's time.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbgrader
import pytest

ROOT = Path(__file__).resolve().parents[2]
PS1 = Path(nbgrader.__file__).parent / "docs" / "source" / "user_guide" / "source" / "ps1"
NAME = "nbgrader-docs-ps1-problem1"

# About 90 s on an otherwise idle 2-core machine (nbgrader generate_assignment + autograde take
# half of it); far longer when the machine is shared, hence the generous timeout.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def parity(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    corpus = tmp_path_factory.mktemp("corpus")
    (corpus / NAME).mkdir()
    for name in ("problem1.ipynb", "jupyter.png"):
        shutil.copy(PS1 / name, corpus / NAME / name)
    entry = {
        "name": NAME,
        "repo": "jupyter/nbgrader (the installed wheel)",
        "commit": nbgrader.__version__,
        "path": "nbgrader/docs/source/user_guide/source/ps1/problem1.ipynb",
        "university": "Project Jupyter (nbgrader documentation)",
        "course": "example problem set ps1",
        "kind": "nbgrader",
        "licence": "BSD-3-Clause",
        "siblings": ["jupyter.png"],
        "imports": [],
        "notebook": "problem1.ipynb",
        "missing": [],
    }
    (corpus / "manifest.json").write_text(json.dumps({"corpus": [entry], "failed": []}))
    out = corpus / "parity.json"
    done = subprocess.run(
        [
            sys.executable, str(ROOT / "benchmarks" / "parity.py"), "--corpus", str(corpus),
            "--json", str(out), "--tool-python", f"nbgrader={sys.executable}",
            "--cell-timeout", "10",
        ],
        capture_output=True, text=True, timeout=600, cwd=corpus,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(out.read_text()), done.stdout


def scores(side: dict[str, Any], submission: str) -> dict[str, float]:
    per = side["scores"][submission]["exercises"]
    return {ex: slot["score"] for ex, slot in per.items()}


def test_eduproject_imports_and_releases_the_two_autograded_exercises(parity):
    row = parity[0]["rows"][0]
    assert row["eduproject"]["import"]["ok"], row["eduproject"]["import"]["output"]
    assert row["eduproject"]["release"]["ok"], row["eduproject"]["release"]["output"]
    assert row["eduproject"]["layout"]["exercises"] == ["squares", "sum_of_squares"]


def test_nbgrader_grades_the_three_submissions_as_expected(parity):
    row = parity[0]["rows"][0]
    nbg = row["nbgrader"]
    assert nbg["generate"]["ok"] and nbg["autograde"]["ok"], nbg
    assert scores(nbg, "solution") == {"squares": 2.0, "sum_of_squares": 1.0}
    assert scores(nbg, "stub") == {"squares": 0.0, "sum_of_squares": 0.0}
    # partial keeps the stub of `squares`: sum_of_squares fails its test that calls squares,
    # and passes the one that replaces squares by a mock
    assert scores(nbg, "partial") == {"squares": 0.0, "sum_of_squares": 0.5}
    # the manually graded cells (an equation, a function, a 4-point task) stay out of the
    # comparison, with their points counted
    assert nbg["scores"]["solution"]["unmapped_max"] == 1 + 2 + 4


def test_eduproject_grades_the_same_submissions(parity):
    row = parity[0]["rows"][0]
    edu = row["eduproject"]
    assert set(edu["scores"]) == {"solution", "stub", "partial"}
    # the instructor's solution earns full marks, as under nbgrader (sum_of_squares's second
    # test deletes and restores the learner's `squares` to check that it is called)
    assert scores(edu, "solution") == {"squares": 2.0, "sum_of_squares": 1.0}
    assert scores(edu, "stub") == {"squares": 0.0, "sum_of_squares": 0.0}
    assert scores(edu, "partial")["squares"] == 0.0


def test_the_table_compares_every_question_of_every_submission(parity):
    results, printed = parity
    lines = results["rows"][0]["comparison"]
    assert {(line["submission"], line["exercise"]) for line in lines} == {
        (s, e) for s in ("solution", "stub", "partial") for e in ("squares", "sum_of_squares")
    }
    for line in lines:
        assert line["agree"] == (line["eduproject"] == line["tool"])
        assert line["agree"] or (line["eduproject_reason"] and line["tool_reason"])
    assert "Per-question agreement" in printed
    assert results["summary"]["question_rows"] == 6
