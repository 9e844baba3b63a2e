"""The sample course: every lesson under exercises/ parses, leaks nothing, is released
exactly as committed under notebooks/, and validates on real kernels."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eduproject.authoring import learner_notebook, learner_pack, load_lesson, stale_files
from eduproject.authoring.validate import raise_for_problems, validate_lessons

from .no_leak import all_text, secret_lines

ROOT = Path(__file__).resolve().parents[2]
EXERCISES = ROOT / "exercises"
NOTEBOOKS = ROOT / "notebooks"
LESSONS = sorted(p.name for p in EXERCISES.glob("*") if p.is_dir() and any(p.glob("*.ipynb")))


def test_the_course_has_lessons() -> None:
    assert LESSONS, f"no lessons under {EXERCISES}"


@pytest.mark.parametrize("lesson", LESSONS)
def test_released_files_are_up_to_date(lesson: str) -> None:
    stale = stale_files(EXERCISES / lesson, NOTEBOOKS)
    assert stale == (), (
        f"notebooks/{lesson} is out of date with exercises/{lesson}: run "
        f"`eduproject release exercises/{lesson}` and commit notebooks/{lesson}"
    )


def test_no_released_lesson_without_a_source() -> None:
    released = sorted(p.parent.name for p in NOTEBOOKS.glob("*/lesson.json"))
    assert set(released) <= set(LESSONS)


@pytest.mark.parametrize("lesson", LESSONS)
def test_no_solution_or_hidden_test_line_reaches_learners(lesson: str) -> None:
    loaded = load_lesson(EXERCISES / lesson)
    secrets = secret_lines(json.loads(loaded.notebook_path.read_text(encoding="utf-8")))
    assert secrets, f"lesson {lesson} has no solution or hidden-test lines to check"
    texts = all_text(learner_notebook(loaded)) + all_text(learner_pack(loaded))
    assert sorted(s for s in secrets if any(s in t for t in texts)) == []


@pytest.mark.slow
def test_every_lesson_validates() -> None:
    reports = validate_lessons([EXERCISES])
    assert [r.lesson for r in reports] == LESSONS
    raise_for_problems(reports)
    assert all(r.rows for r in reports)
