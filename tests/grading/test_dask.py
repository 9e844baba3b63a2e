"""Grading on a Dask LocalCluster gives exactly the results of the local pool."""

from __future__ import annotations

from pathlib import Path

import pytest

from eduproject.core.results import SubmissionResult
from eduproject.runner.executors import DaskExecutor, GradeJob, LocalPool
from eduproject.runner.sandbox import Limits

from .grading_support import BASIC, BASIC_ANSWERS, WriteLesson, bundle_lesson, submission


@pytest.mark.slow
def test_dask_local_cluster_matches_the_local_pool(
    write_lesson: WriteLesson, tmp_path: Path
) -> None:
    lesson = bundle_lesson(write_lesson(BASIC, "basic"), tmp_path / "grader")
    variants = {
        "right": BASIC_ANSWERS,
        "half": {"double": BASIC_ANSWERS["double"]},
        "wrong": {
            "double": "def double(x):\n    return x",
            "words": "def words(t):\n    return t.split(' ')",
        },
        "exits": {"double": "import os\nos._exit(1)"},
    }
    jobs = []
    for name, answers in variants.items():
        path = tmp_path / "subs" / f"{name}.ipynb"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(submission(lesson, answers))
        jobs.append(GradeJob(name, str(path)))
    jobs.append(
        GradeJob(
            "nobody", str(tmp_path / "subs" / "nobody"), "empty folder: no notebook (.ipynb) in it"
        )
    )
    limits = Limits(cell_timeout=10, timeout=60, memory_mb=512)

    def key(results: list[object]) -> dict[str, tuple[object, ...]]:
        out: dict[str, tuple[object, ...]] = {}
        for r in results:
            assert isinstance(r, SubmissionResult)
            out[r.learner] = (r.status, r.score, r.exercises, r.submission_hash, r.detail)
        return out

    with LocalPool(lesson, {}, limits, workers=2) as pool:
        local = key(list(pool.map(jobs)))
    dask = DaskExecutor("local:2", lesson, {}, limits)
    try:
        assert dask.sandbox.startswith("bwrap+uid") and dask.sandbox.endswith("on Dask workers")
        remote = key(list(dask.map(jobs)))
    finally:
        dask.close()
    assert remote == local
    assert (
        local["right"][1] == 6.0
        and local["exits"][0] == "killed"
        and local["nobody"][0] == "invalid"
    )
