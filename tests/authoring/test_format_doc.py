"""The complete example in docs/format.md parses, releases and validates as the page says."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from eduproject.authoring import load_lesson, release, validate_lesson
from eduproject.core.policy import PolicyLayer

from .no_leak import all_text, secret_lines

WriteLesson = Callable[..., Path]
DOC = Path(__file__).resolve().parents[2] / "docs" / "format.md"
BLOCK = re.compile(r"^```(\w+)([^\n]*)\n(.*?)\n```$", re.MULTILINE | re.DOTALL)


def example_lesson(write_lesson: WriteLesson) -> Path:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("\n## A complete example\n", 1)[1].split("\n## What release makes\n", 1)[0]
    cells: list[tuple[str, str]] = []
    data: dict[str, bytes] = {}
    for kind, info, body in BLOCK.findall(section):
        if kind == "text":
            data[info.strip().removeprefix("data/")] = (body + "\n").encode()
        else:
            cells.append(({"markdown": "md", "python": "code"}[kind] + info, body))
    assert len(cells) == 11 and list(data) == ["temperatures.txt"]
    return write_lesson(cells, "00-example", data=data)


def test_example_parses_as_described(write_lesson: WriteLesson) -> None:
    lesson = load_lesson(example_lesson(write_lesson))
    assert lesson.title == "Functions"
    sum_evens, warmest = lesson.exercises
    assert [(t.name, t.points, t.hidden) for t in sum_evens.tests] == [
        ("basics", 1.0, False),
        ("negatives", 2.0, True),
        ("sum_evens-2", 0.5, True),
    ]
    assert sum_evens.tests[2].visible_source == ""
    assert [(t.name, t.points, t.hidden) for t in warmest.tests] == [("warmest-1", 1.0, False)]
    assert (sum_evens.all_or_nothing, warmest.all_or_nothing) == (False, True)
    assert len(sum_evens.hints) == 3
    assert sum_evens.avoid == ("sum(", "generator expression", "total += n")
    assert (sum_evens.policy, warmest.policy) == (
        PolicyLayer(),
        PolicyLayer(hints_after_checks=1, ask=False),
    )


@pytest.mark.slow
def test_example_releases_without_leaks_and_validates(
    write_lesson: WriteLesson, tmp_path: Path
) -> None:
    folder = example_lesson(write_lesson)
    result = release(folder, tmp_path / "notebooks", tmp_path / "grader")
    learner = json.loads(result.notebook.read_text())
    assert [c["metadata"]["eduproject"]["role"] for c in learner["cells"]] == [
        "context",
        "panel",
        "setup",
        "prompt",
        "solution",
        "tests",
        "panel",
        "prompt",
        "solution",
        "tests",
        "panel",
    ]
    source = json.loads((folder / "00-example.ipynb").read_text())
    texts = all_text(learner) + all_text(json.loads(result.pack.read_text()))
    assert [s for s in secret_lines(source) if any(s in t for t in texts)] == []
    report = validate_lesson(folder)
    assert [(r.exercise, r.solution, r.stub) for r in report.rows] == [
        ("sum_evens", "pass", "fails-as-expected"),
        ("warmest", "pass", "fails-as-expected"),
    ]
