"""The learner pack as release writes it and the kernel reads it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from eduproject.authoring.release import release
from eduproject.core.pack import PACK_NAME, LessonPack
from eduproject.errors import TutorError
from eduproject.tutor.guards import check_leak

from .tutor_support import EXERCISES, sample_pack


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("release")
    result = release(EXERCISES / "03-lists-dicts", out / "notebooks", out / "grader")
    return result.pack


def test_release_writes_a_pack_the_tutor_reads(released: Path) -> None:
    pack = LessonPack.load(released)
    assert pack.lesson == "03-lists-dicts"
    info = pack.exercise("sum_evens")
    assert info.title == "Exercise 1: Add up the even numbers"
    assert [t.name for t in info.visible_tests] == ["basics", "empty_list", "negatives_and_large"]
    assert info.tests == info.visible_tests
    assert info.visible_tests[2].hidden and info.visible_tests[2].visible_source == ""
    assert len(info.hints) == 3
    # The guard data in lesson.json is what the instructor side computes, and it works --
    # also for words to avoid that release keeps out of the plain-text list.
    assert info.guard == sample_pack("03-lists-dicts").exercise("sum_evens").guard
    assert check_leak("Write `if n % 2 == 0:` inside the loop.", info).leak
    assert check_leak("Then do total += n for the ones you keep.", info).leak


def test_one_format_the_pack_in_memory_is_the_file_release_writes(released: Path) -> None:
    # The gateway, the benchmark and check-hint build the pack from the lesson; the kernel
    # reads lesson.json: both are the same document, words to avoid included.
    written = json.loads(released.read_text(encoding="utf-8"))
    assert sample_pack("03-lists-dicts").to_json() == written
    assert LessonPack.load(released).to_json() == written
    assert sample_pack("03-lists-dicts").exercise("sum_evens").avoid == ()  # all code-shaped


def test_the_pack_holds_no_solution_line(released: Path) -> None:
    raw = released.read_text(encoding="utf-8")
    for needle in ("if n % 2 == 0:\n", "counts.get(word, 0) + 1", "best = name"):
        assert needle not in raw


def test_find_looks_here_and_two_folders_up(released: Path, tmp_path: Path) -> None:
    deep = released.parent / "a" / "b"
    deep.mkdir(parents=True)
    assert LessonPack.find(deep).lesson == "03-lists-dicts"
    too_deep = deep / "c"
    too_deep.mkdir()
    with pytest.raises(TutorError, match=r"no lesson.json found in .* or the two folders above it"):
        LessonPack.find(too_deep)
    cwd = Path.cwd()
    os.chdir(released.parent)
    try:
        assert LessonPack.find().lesson == "03-lists-dicts"
    finally:
        os.chdir(cwd)


def test_unknown_exercise_lists_the_known_ones(released: Path) -> None:
    with pytest.raises(
        TutorError, match=r"has no exercise 'nope' \(it has: sum_evens, running_total"
    ):
        LessonPack.load(released).exercise("nope")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "lesson pack not found"),
        ("{broken", "cannot read the lesson pack"),
        (json.dumps({"exercises": []}), "the lesson pack is malformed"),
        (
            json.dumps({"lesson": "x", "exercises": [{"title": "no id"}]}),
            "the lesson pack is malformed",
        ),
    ],
)
def test_bad_packs_give_clear_errors(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / PACK_NAME
    if content is not None:
        path.write_text(content)
    with pytest.raises(TutorError, match=message) as info:
        LessonPack.load(path)
    assert str(path) in str(info.value) and info.value.hint


@pytest.mark.parametrize("first", ["eduproject.core.pack", "eduproject.learner.check"])
def test_the_learners_kernel_may_import_the_pack_before_authoring(first: str) -> None:
    # eduproject.authoring imports the pack (release writes it); the kernel loads the pack
    # first and must not need authoring for it.
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import {first}, sys; assert 'eduproject.authoring' not in sys.modules",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
