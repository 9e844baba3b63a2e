"""Fixtures for the benchmark's tests: a real sandbox grader, an isolated config, and a
loopback server whose scripted models answer well, badly, slowly or not at all."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from eduproject.bench.grade import SandboxGrader
from eduproject.bench.suites import BenchItem, load_suite
from tests.support.openai import Reply

from .server import ScriptedModels, reply, scripted_models

COURSE = Path(__file__).resolve().parents[2] / "exercises"

GOOD_HINT = (
    "Look again at the condition that decides which answer your function gives back. "
    "Compare what the failing check expected with what your code returned, and think "
    "about which kind of input your code handles the wrong way. Try the smallest input "
    "by hand and follow each line to see where the result starts to differ."
)


@pytest.fixture(scope="session")
def grader() -> Iterator[SandboxGrader]:
    with SandboxGrader() as g:
        yield g


@pytest.fixture(scope="session")
def course_items() -> list[BenchItem]:
    return load_suite(str(COURSE))


@pytest.fixture
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No user config, ledger or cache of this machine leaks in; returns a course folder."""
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    for name in (
        "EDUPROJECT_USER_CONFIG",
        "EDUPROJECT_CONFIG",
        "EDUPROJECT_LEDGER",
        "EDUPROJECT_CACHE",
        "EDUPROJECT_CACHE_ENABLED",
        "EDUPROJECT_TUTOR_ROUTES",
        "EDUPROJECT_BENCH_ROUTES",
    ):
        monkeypatch.delenv(name, raising=False)
    course = tmp_path / "course"
    course.mkdir()
    return course


def _task(body: dict[str, Any]) -> str:
    text = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
    if "<CURSOR>" in text:
        return "completion"
    if "fails its tests" in text:
        return "repair"
    if "programming tutor" in text:
        return "hint"
    return "explain"


def _item(body: dict[str, Any], items: list[BenchItem]) -> BenchItem:
    text = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
    for item in items:
        if re.search(rf"def {item.function}\(", text):
            return item
    raise AssertionError("the request names no known exercise")


def _fenced(code: str) -> str:
    return f"```python\n{code}\n```"


def make_scripts(items: list[BenchItem]) -> dict[str, Any]:
    def good(body: dict[str, Any]) -> Reply:
        task, item = _task(body), _item(body, items)
        if task == "completion":
            return reply(_fenced(textwrap.dedent(item.target)))
        if task == "repair":
            return reply(_fenced(item.reference))
        if task == "hint":
            return reply(GOOD_HINT)
        fn = item.function
        return reply(
            f"The function `{fn}` takes its input and checks it with `if` before it uses "
            f"`return` to give back the answer. Each call to `{fn}` works out the result "
            "from its argument, so the caller gets the value the exercise asks for."
        )

    def bad(body: dict[str, Any]) -> Reply:
        task, item = _task(body), _item(body, items)
        if task in ("completion", "repair"):
            return reply(_fenced("return None"))
        if task == "hint":
            return reply("Here is the whole answer for you:\n\n" + _fenced(item.reference))
        return reply(
            f"The function `{item.function}` calls `helper_magic()` and then `math.add` to "
            "combine the values before it returns the answer to the caller of the function."
        )

    def slow(body: dict[str, Any]) -> Reply:
        return reply(good(body).text, first_delay=1.5)

    def failing(body: dict[str, Any]) -> Reply:
        return reply(status=500)

    def flaky(body: dict[str, Any]) -> Reply:
        """Right only on the first sample (seed 0)."""
        return good(body) if body.get("seed") == 0 else bad(body)

    def helpful(body: dict[str, Any]) -> Reply:
        """A simulated student who repairs the code only when given the hint."""
        if _task(body) == "repair":
            hinted = any("A hint from my tutor" in str(m.get("content")) for m in body["messages"])
            return good(body) if hinted else bad(body)
        return good(body)

    def contrary(body: dict[str, Any]) -> Reply:
        """Good hints that confuse: repairs succeed only without them."""
        if _task(body) == "repair":
            hinted = any("A hint from my tutor" in str(m.get("content")) for m in body["messages"])
            return bad(body) if hinted else good(body)
        return good(body)

    return {
        "good": good,
        "bad": bad,
        "slow": slow,
        "failing": failing,
        "flaky": flaky,
        "helpful": helpful,
        "contrary": contrary,
    }


@pytest.fixture(scope="session")
def server(course_items: list[BenchItem]) -> Iterator[ScriptedModels]:
    with scripted_models(make_scripts(course_items)) as models:
        yield models


# Prices per million tokens; "bad" has none (unpriced).
PRICED = {"good", "slow", "failing", "flaky", "helpful", "contrary"}
PRICE_IN, PRICE_OUT = 1.0, 2.0


def write_config(course: Path, base_url: str, names: list[str]) -> Path:
    """An eduproject.toml with one loopback route per scripted model."""
    lines = ['[ledger]\npath = "ledger.sqlite3"\n', "[cache]\nenabled = false\n"]
    for name in names:
        lines.append(
            f'[[routes]]\nname = "{name}"\nprovider = "openai"\nmodel = "{name}"\n'
            f'family = "qwen2.5-coder-instruct"\nbase_url = "{base_url}"\nretries = 0\n'
        )
        if name in PRICED:
            lines.append(
                f"price_per_million_input = {PRICE_IN}\nprice_per_million_output = {PRICE_OUT}\n"
            )
        first = 0.5 if name == "slow" else 10
        lines.append(f"[routes.timeouts]\nconnect = 2\nfirst_token = {first}\ntotal = 20\n")
    path = course / "eduproject.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
