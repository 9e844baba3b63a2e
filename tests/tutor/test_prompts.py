"""Prompt building: compact, per task and level, without the solution or the learner's name."""

from __future__ import annotations

from dataclasses import replace

import pytest

from eduproject.core.results import TestResult
from eduproject.models.families import default_families
from eduproject.tutor.prompts import (
    LEVELS,
    MAX_CODE_CHARS,
    STRICT,
    ask_request,
    explain_code_request,
    explain_error_request,
    hint_request,
)

from .tutor_support import sample_lesson, sample_pack

INFO = sample_pack("03-lists-dicts").exercise("sum_evens")
CODE = "def sum_evens(numbers):\n    total = 0\n    for n in numbers:\n        total += n\n    return total\n"
RESULTS = [TestResult("basics", False, "gave 10, expected 6"), TestResult("empty_list", True)]


@pytest.mark.parametrize("level", [1, 2, 3])
def test_hint_request_per_level(level: int) -> None:
    request = hint_request(INFO, CODE, RESULTS, level)
    assert request.task == "hint" and request.max_tokens == 320
    assert LEVELS[level] in request.instruction
    assert INFO.hints[level - 1].split()[0] in request.instruction  # the teacher's hint for it
    assert (
        "- `basics`: failed -- gave 10, expected 6\n- `empty_list`: passed" in request.instruction
    )
    assert request.context == CODE.strip()
    assert "80 to 160 words" in request.system
    assert STRICT not in request.system and request.use_cache


def test_strict_variant_forbids_code_and_skips_the_cache() -> None:
    request = hint_request(INFO, CODE, RESULTS, 1, strict=True)
    assert STRICT in request.system
    assert not request.use_cache and request.temperature < 0.4


def test_other_tasks() -> None:
    assert explain_code_request(CODE, INFO).task == "explain"
    err = explain_error_request("\x1b[31mNameError\x1b[0m: name 'x' is not defined", CODE, INFO)
    assert "NameError: name 'x' is not defined" in err.instruction and "\x1b" not in err.instruction
    ask = ask_request("What is a dictionary?", "", None)
    assert ask.task == "ask" and "My question: What is a dictionary?" in ask.instruction
    assert ask.context == "" and "My code is below." not in ask.instruction


def test_prompts_are_compact() -> None:
    big = "x = 1\n" * 2000
    request = hint_request(INFO, big, RESULTS * 10, 2)
    assert len(request.context) <= MAX_CODE_CHARS + 20
    assert request.instruction.count("- `") <= 6
    error = "Traceback\n" + "  frame\n" * 1000 + "ValueError: bad"
    assert explain_error_request(error, "", INFO).instruction.endswith(
        "ValueError: bad\n\nExplain what the error means in plain words, which line of my code causes it and what I should check. Do not write the corrected code."
    )
    total = len(request.system) + len(request.instruction) + len(request.context)
    assert total < 4500


@pytest.mark.parametrize(
    "lesson_id", ["01-functions", "02-loops-strings", "03-lists-dicts", "04-pandas-intro"]
)
def test_no_solution_text_reaches_a_prompt(lesson_id: str) -> None:
    lesson, pack = sample_lesson(lesson_id), sample_pack(lesson_id)
    for ex in lesson.exercises:
        info = pack.exercise(ex.id)
        requests = [hint_request(info, ex.stub, [], level) for level in (1, 2, 3)] + [
            explain_code_request(ex.stub, info),
            ask_request("help?", ex.stub, info),
        ]
        sent = "\n".join(r.system + r.instruction + r.context for r in requests)
        stub_lines = {line.strip() for line in ex.stub.splitlines()}
        for line in ex.solution.splitlines():
            if line.strip() and line.strip() not in stub_lines and len(line.strip()) > 12:
                assert line.strip() not in sent, (ex.id, line)


def test_plain_words_to_avoid_are_told_code_shaped_ones_are_not() -> None:
    info = replace(INFO, avoid=("generator expression", "n % 2 == 0"))
    system = hint_request(info, CODE, [], 1).system
    assert "Never use these words or expressions: generator expression." in system
    assert "n % 2 == 0" not in system


def test_families_render_the_request_chat_and_starcoder2_issue_shaped() -> None:
    request = hint_request(INFO, CODE, RESULTS, 2)
    families = default_families()
    chat = families["smollm2-instruct"].render(request, chat=True)
    assert chat.messages is not None and chat.messages[0].role == "system"
    base = families["starcoder2"].render(request)
    assert base.prompt is not None
    assert base.prompt.startswith("<issue_start>user: ")
    assert base.prompt.endswith("<issue_comment>user: ")
    # The learner-voice question reads naturally as an issue: code fenced, question first.
    assert "My code is below." in base.prompt and "```python\ndef sum_evens" in base.prompt


def test_home_folders_in_tracebacks_do_not_reveal_the_learner() -> None:
    error = (
        'File "/home/jupyter-ada/notebooks/03/x.py", line 3, in f\n'
        'File "C:\\Users\\Grace\\lesson.py", line 1\nZeroDivisionError: division by zero'
    )
    text = explain_error_request(error, "", INFO).instruction
    assert "ada" not in text.lower() and "grace" not in text.lower()
    assert 'File "~/notebooks/03/x.py", line 3' in text
