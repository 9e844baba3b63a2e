"""`eduproject tutor check-hint`: JSON verdict, exit 3 on a leak, tests run on code blocks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from eduproject.tutor.passcheck import HintRunner

from .tutor_support import EXERCISES, ROOT, sample_lesson

CLI = [sys.executable, "-m", "eduproject.cli", "tutor", "check-hint"]


def run(
    lesson: str, exercise: str, text: str, tmp_path: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    hint = tmp_path / "hint.md"
    hint.write_text(text)
    return subprocess.run(
        [*CLI, str(EXERCISES / lesson), "--exercise", exercise, "--text-file", str(hint), *extra],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_clean_hint_exits_0(tmp_path: Path) -> None:
    done = run(
        "03-lists-dicts",
        "sum_evens",
        "Think about what the remainder of a division by two tells you.",
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "leak": False,
        "score": 0.0,
        "reason": "no part of the solution found",
    }


def test_leaking_hint_exits_3(tmp_path: Path) -> None:
    done = run(
        "03-lists-dicts", "sum_evens", "Inside your loop check `if n % 2 == 0:` first.", tmp_path
    )
    assert done.returncode == 3
    verdict = json.loads(done.stdout)
    assert verdict["leak"] is True and 0.5 <= verdict["score"] <= 1


@pytest.mark.slow
def test_code_that_passes_the_tests_is_a_leak_even_when_the_hashes_miss_it(tmp_path: Path) -> None:
    sneaky = (
        "Here is a way with an index:\n\n"
        "    i = 0\n    acc = 0\n    while i < len(numbers):\n        if numbers[i] % 2 == 0:\n"
        "            acc += numbers[i]\n        i += 1\n    return acc\n"
    )
    without = run("03-lists-dicts", "sum_evens", sneaky, tmp_path, "--no-run")
    assert without.returncode == 0 and json.loads(without.stdout)["leak"] is False
    done = run("03-lists-dicts", "sum_evens", sneaky, tmp_path)
    assert done.returncode == 3
    assert json.loads(done.stdout)["reason"] == "contains code that passes the exercise's tests"


@pytest.mark.slow
def test_runner_runs_hidden_tests_with_the_lessons_data() -> None:
    lesson = sample_lesson("04-pandas-intro")
    with HintRunner(lesson, timeout_s=5) as hints:
        run_tests = hints.runner(lesson.exercise("rainy_days"))
        assert run_tests("return df[df.rain_mm > 0]")  # the body, spliced into the stub
        assert run_tests("def rainy_days(df):\n    return df.loc[df['rain_mm'].gt(0)]")
        assert not run_tests("return df[df.rain_mm >= 0]")  # fails the visible tests
        assert not run_tests("return df")
        assert not run_tests("while True:\n    pass")  # killed by the time limit, not a pass
    lists = sample_lesson("03-lists-dicts")
    with HintRunner(lists) as hints:
        # Passes the visible tests, fails the hidden negatives_and_large test.
        loops = hints.runner(lists.exercise("sum_evens"))
        assert not loops("return sum(n for n in numbers if n > 0 and n % 2 == 0)")


def test_errors_are_one_line_messages(tmp_path: Path) -> None:
    done = run("03-lists-dicts", "nope", "hello there friend", tmp_path)
    assert done.returncode == 1
    assert done.stderr.startswith("error: lesson '03-lists-dicts' has no exercise 'nope'")
    missing = subprocess.run(
        [
            *CLI,
            str(EXERCISES / "03-lists-dicts"),
            "--exercise",
            "sum_evens",
            "--text-file",
            str(tmp_path / "none.md"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert missing.returncode == 1 and "cannot read the hint text file" in missing.stderr
    assert "Traceback" not in done.stderr + missing.stderr


def test_text_from_stdin() -> None:
    done = subprocess.run(
        [*CLI, str(EXERCISES / "01-functions"), "--exercise", "greet", "--text-file", "-"],
        input='Return the greeting with `return "Hello, " + name + "!"`.',
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 3, done.stderr


def test_model_code_is_never_run_without_the_grading_sandbox() -> None:
    from eduproject.errors import TutorError
    from eduproject.runner.sandbox import rlimits_backend

    with pytest.raises(TutorError, match="grading sandbox is not available") as info:
        HintRunner(sample_lesson("03-lists-dicts"), backend=rlimits_backend("test"))
    assert info.value.hint is not None and "bubblewrap" in info.value.hint


@pytest.mark.slow
def test_model_code_sees_no_key_no_host_file_and_no_network(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A reply's code passes the tests only if it can read the gateway's provider key, the
    lesson folder, or reach the network: it must never pass."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-gateway-secret-123")
    lesson = sample_lesson("03-lists-dicts")
    hints = HintRunner(lesson)
    run_tests = hints.runner(lesson.exercise("sum_evens"))
    found = (
        "import os, glob, socket\n"
        "seen = str(dict(os.environ))\n"
        "for env in glob.glob('/proc/*/environ'):\n"
        "    try:\n        seen += open(env, 'rb').read().decode('latin-1')\n"
        "    except OSError:\n        pass\n"
        f"seen += str(os.path.exists({str(EXERCISES)!r}))\n"
        "try:\n    socket.create_connection(('127.0.0.1', 22), timeout=1)\n    seen += 'NET'\n"
        "except OSError:\n    pass\n"
        "LEAKED = 'sk-gateway' in seen or 'True' in seen or 'NET' in seen\n"
    )
    honest = "def sum_evens(numbers):\n    return sum(n for n in numbers if n % 2 == 0)"
    gated = "def sum_evens(numbers):\n    return sum(n for n in numbers if n % 2 == 0) if LEAKED else None"
    assert run_tests(honest)
    # If it could read any of them, it would pass the tests; it cannot, so it fails them.
    assert not run_tests(found + gated)
    assert run_tests(found.replace("LEAKED = ", "LEAKED = True or ") + gated)  # the control
    hints.close()
