"""Completion for a code model with fill-in-the-middle (StarCoder2 family, raw endpoint)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from eduproject.bench.grade import SandboxGrader
from eduproject.bench.runner import BenchOptions, run_bench
from eduproject.bench.suites import BenchItem, load_suite
from tests.support.openai import Reply

from .conftest import COURSE
from .server import ScriptedModels, reply

pytestmark = pytest.mark.slow

SOLUTION = (
    "def first(xs):\n    ### BEGIN SOLUTION\n    return xs[0]\n    ### END SOLUTION\n\n\n"
    "def second(xs):\n    return xs[1]"
)


def sc2_config(course: Path, base_url: str) -> None:
    (course / "eduproject.toml").write_text(
        '[ledger]\npath = "ledger.sqlite3"\n\n[[routes]]\nname = "sc2"\nprovider = "openai"\n'
        f'model = "sc2"\nfamily = "starcoder2"\nbase_url = "{base_url}"\nretries = 0\n',
        encoding="utf-8",
    )


def answer(items: list[BenchItem]) -> Callable[[dict[str, Any]], Reply]:
    def script(body: dict[str, Any]) -> Reply:
        prompt = str(body["prompt"])
        if prompt.startswith("<fim_prefix>"):
            return reply("    return xs[0]\n")
        item = next(i for i in items if prompt == i.prefix)
        # A base model runs on past the function; the stop string must cut it there.
        return reply(item.target + "\n\ndef extra():\n    pass\n")

    return script


def test_fim_prompt_for_a_region_with_code_after_it(
    isolated: Path,
    server: ScriptedModels,
    grader: SandboxGrader,
    write_lesson: Callable[..., Path],
) -> None:
    lesson = write_lesson(
        [
            ("md exercise=first", "# First\nWrite `first(xs)`."),
            ("code solution", SOLUTION),
            ("code tests", "assert first([1, 2]) == 1\nassert second([1, 2]) == 2"),
        ],
        "pairs",
    )
    (item,) = load_suite(str(lesson))
    course_items = load_suite(str(COURSE), limit=2)
    server.scripts["sc2"] = answer(course_items)
    sc2_config(isolated, server.base_url)
    options = BenchOptions(
        routes=("sc2",),
        suites=(str(lesson), str(COURSE)),
        tasks=("completion",),
        limit=2,
        course_dir=isolated,
    )
    report = run_bench(options, grader=grader)
    calls = [c for c in server.calls if c.get("model") == "sc2"]
    fim = calls[0]
    assert fim["prompt"] == f"<fim_prefix>{item.prefix}<fim_suffix>{item.suffix}<fim_middle>"
    assert "\ndef " not in fim.get("stop", [])  # the suffix ends the middle, not a stop string
    plain = calls[1]
    assert plain["prompt"] == course_items[0].prefix  # left to right, as HumanEval does
    assert "\ndef " in plain["stop"] and "<fim_middle>" in plain["stop"]
    assert [(r.item, r.accepted) for r in report.records] == [
        ("pairs/first", True),
        ("01-functions/greet", True),
        ("01-functions/absolute_value", True),
    ]
    assert all("extra" not in r.output for r in report.records)
