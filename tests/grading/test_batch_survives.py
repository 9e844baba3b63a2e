"""One submission never stops the batch (issue 11, class 3), with the real sandbox.

Hostile submissions (folder trees deeper than Python's recursion limit in the work folder,
/tmp and /dev/shm), a
leftover work folder of a dead run, and unreadable "notebooks" each become a recorded
status; every other learner is graded; no work folder of the run is left behind.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from eduproject.runner.sandbox import ROOT_PREFIX

from .attack_corpus import DEEP_TREES
from .grading_support import BASIC, BASIC_ANSWERS, WriteLesson, grade_course, write_submission


def _roots() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob(f"{ROOT_PREFIX}*"))


@pytest.fixture
def no_roots_left_behind() -> Iterator[None]:
    """Fails the test if a worker folder of this process outlives the run (and removes it:
    a leftover would break every later grading run on this host)."""
    before = _roots()
    yield
    left = [
        r for r in _roots() - before if (r / "owner.pid").read_text().strip() == str(os.getpid())
    ]
    for root in left:
        subprocess.run(["rm", "-rf", str(root)], check=False)
    assert left == [], "worker folders left behind"


@pytest.fixture
def course(write_lesson: WriteLesson, tmp_path: Path) -> Path:
    write_lesson(BASIC, "basic")
    (tmp_path / "submissions").mkdir()
    return tmp_path


def test_deep_folder_trees_do_not_stop_the_batch(course: Path, no_roots_left_behind: None) -> None:
    learners = [f"learner{i}" for i in range(7)]
    for i, learner in enumerate(learners):
        answers = dict(BASIC_ANSWERS)
        if i in (1, 3, 5):  # a deep tree in the work folder, /tmp and /dev/shm
            where = ("work", "/tmp", "/dev/shm")[i // 2]
            answers["double"] = DEEP_TREES[where] + "\n" + answers["double"]
        write_submission(course, learner, answers)
    results = grade_course(course)
    assert sorted(results) == learners
    # The trees are the learners' own business: everyone is graded in full.
    assert {k: v[:2] for k, v in results.items()} == dict.fromkeys(learners, (6.0, "graded"))


def test_a_dead_runs_leftover_work_folder_is_cleaned_by_the_next_run(
    course: Path, tmp_path: Path
) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # The run's temporary folder on tmpfs: removing 1,100 levels from this host's disk takes 4 s.
    with tempfile.TemporaryDirectory(dir="/dev/shm") as temp:
        stale = Path(tempfile.mkdtemp(prefix=ROOT_PREFIX, dir=temp))
        (stale / "owner.pid").write_text(dead)
        # Deeper than Python's recursion limit (shutil.rmtree recurses).
        deep = os.open(stale, os.O_RDONLY)
        for _ in range(1100):
            os.mkdir("d", dir_fd=deep)
            below = os.open("d", os.O_RDONLY, dir_fd=deep)
            os.close(deep)
            deep = below
        os.close(deep)
        # Not ours to touch: a link named like a worker folder, pointing at someone's files.
        precious = tmp_path / "precious"
        precious.mkdir()
        (precious / "owner.pid").write_text(dead)
        (Path(temp) / f"{ROOT_PREFIX}link").symlink_to(precious)
        write_submission(course, "ada", BASIC_ANSWERS)
        command = [
            *(sys.executable, "-m", "eduproject.cli", "grade", "exercises/basic", "submissions"),
            *("--db", "gb.sqlite", "--workers", "1", "--no-progress"),
        ]
        done = subprocess.run(
            command,
            cwd=course,
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "TMPDIR": temp},
        )
        assert done.returncode == 0, done.stderr[-3000:]
        assert "Traceback" not in done.stderr and "statuses: graded 1" in done.stdout
        assert not stale.exists()
        assert (precious / "owner.pid").exists()


def test_unreadable_notebooks_are_recorded_and_the_batch_goes_on(
    course: Path, no_roots_left_behind: None
) -> None:
    write_submission(course, "ada", BASIC_ANSWERS)
    write_submission(course, "zoe", BASIC_ANSWERS)
    subs = course / "submissions"
    (subs / "mem").mkdir()
    (subs / "mem" / "basic.ipynb").symlink_to("/proc/self/mem")
    os.mkfifo(subs / "fifo.ipynb")  # reading it would wait forever
    (subs / "huge.ipynb").write_bytes(b"")
    os.truncate(subs / "huge.ipynb", 200 * 2**20)  # sparse: 200 MB on paper, nothing on disk
    results = grade_course(course, workers=2)
    assert results["ada"][:2] == results["zoe"][:2] == (6.0, "graded")
    for learner in ("mem", "fifo", "huge"):
        score, status, _ = results[learner]
        assert (score, status) == (0.0, "invalid"), learner
    assert "symbolic link" in results["mem"][2]
    assert "not a regular file" in results["fifo"][2]
    assert "too large" in results["huge"][2]
