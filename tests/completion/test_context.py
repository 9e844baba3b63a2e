"""Inline completion without a server: the request, the context budget, the stop rules, the gate."""

from __future__ import annotations

import pytest

from eduproject.completion.context import (
    BadCompletionRequest,
    CompletionInput,
    model_request,
    parse_input,
    strip_echo,
    trim_to_block,
)
from eduproject.completion.gate import decide, decide_anywhere, notebook_policy
from eduproject.core.pack import ExerciseInfo, LessonPack
from eduproject.core.policy import AiPolicy, PolicyLayer
from eduproject.models.families import default_families


def test_the_cells_around_the_cursor_become_one_fim_prompt() -> None:
    inp = parse_input(
        {
            "prefix": "def add(a, b):\n    ",
            "suffix": "",
            "above": ["import math", "x = 1"],
            "below": ["print(add(1, 2))"],
            "lesson": "l",
            "exercise": None,
            "role": "context",
        }
    )
    request = model_request(inp)
    assert (request.task, request.temperature, request.stop) == ("complete", 0.0, ("\n\n\n",))
    prompt = default_families()["starcoder2"].render(request).prompt
    assert prompt == (
        "<fim_prefix>import math\n\nx = 1\n\ndef add(a, b):\n    "
        "<fim_suffix>\n\nprint(add(1, 2))<fim_middle>"
    )


def test_context_budget_keeps_the_code_nearest_the_cursor() -> None:
    far, near = "# far\n" + "a = 1\n" * 200, "b = 2"
    inp = CompletionInput(
        prefix="c = ", suffix="\nd = 4", above=(far, near), below=("e = 5" * 500,)
    )
    request = model_request(inp, context_chars=400)
    assert request.prefix == "b = 2\n\nc = "  # the far cell does not fit: left out whole
    assert request.suffix == "\nd = 4"
    long = CompletionInput(prefix="\n".join(f"line{i} = {i}" for i in range(100)) + "\nz = ")
    kept = model_request(long, context_chars=200).prefix
    assert kept.endswith("line99 = 99\nz = ") and len(kept) <= 150
    assert kept.startswith("line")  # cut at a line boundary


def test_mid_line_completion_stops_at_the_line_end() -> None:
    inp = CompletionInput(prefix="print(total(", suffix="))\nx = 1")
    assert model_request(inp).stop == ("\n",)
    assert trim_to_block("numbers\nprint(2)", inp.prefix, inp.suffix) == "numbers"


@pytest.mark.parametrize(
    ("prefix", "suffix", "text", "expected"),
    [
        # Inside a function body: a dedent ends the block.
        ("def f(x):\n    ", "", "return x + 1\n\ndef g():\n    pass", "return x + 1"),
        # After a header line: the block opened ends when code comes back to its level.
        (
            "def f(x):",
            "",
            "\n    y = x * 2\n    return y\n\nprint(f(2))",
            "\n    y = x * 2\n    return y",
        ),
        # At top level, statements go on until a double blank line.
        ("", "", "a = 1\nb = 2\n\n\nc = 3", "a = 1\nb = 2"),
        # The model writing the code below the cursor again: stop there.
        (
            "total = 0\n",
            "\nprint(total)",
            "for n in ns:\n    total += n\nprint(total)",
            "for n in ns:\n    total += n",
        ),
        # Never more than MAX_LINES lines.
        (
            "",
            "",
            "\n".join(f"x{i} = {i}" for i in range(30)),
            "\n".join(f"x{i} = {i}" for i in range(12)),
        ),
    ],
)
def test_stop_rules_at_block_ends(prefix: str, suffix: str, text: str, expected: str) -> None:
    assert trim_to_block(text, prefix, suffix) == expected


def test_instruction_models_echo_is_removed() -> None:
    prefix = "total = 0\nfor n in range(10):\n    "
    echoed = "total = 0\nfor n in range(10):\n    total += n\nprint(total)"
    assert strip_echo(echoed, prefix) == "total += n\nprint(total)"
    assert strip_echo("    return a + b", "def add(a, b):\n    return") == " a + b"
    assert strip_echo("total += n", prefix) == "total += n"  # nothing echoed: unchanged


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ([], "must be a JSON object"),
        ({"prefix": "x", "path": "nb.ipynb"}, "unknown field 'path'"),
        ({"prefix": 1}, "field 'prefix' must be a string"),
        ({"prefix": "x", "above": ["a"] * 9}, "at most 8 cell sources"),
        ({"prefix": "x", "lesson": ""}, "must be an id of 1 to 100 characters"),
    ],
)
def test_bad_requests_say_what_is_wrong(body: object, problem: str) -> None:
    with pytest.raises(BadCompletionRequest, match=problem):
        parse_input(body)


def _pack(policy: AiPolicy, other: AiPolicy | None = None) -> LessonPack:
    def info(exercise_id: str, stub: str, p: AiPolicy) -> ExerciseInfo:
        return ExerciseInfo(exercise_id, exercise_id, "", stub, (), (), (), policy=p)

    return LessonPack(
        lesson="fns",
        title="Functions",
        version="v",
        exercises=(
            info("sum_evens", "def sum_evens(numbers):\n    raise NotImplementedError()", policy),
            info("double", "def double(x):\n    raise NotImplementedError()", other or policy),
        ),
        policy=AiPolicy(complete_in_solutions=True),
    )


def test_gate_refuses_graded_solutions_whatever_the_request_claims() -> None:
    pack = _pack(AiPolicy())
    claimed = CompletionInput(prefix="x = ", role="solution", lesson="fns", exercise="double")
    assert decide(pack, AiPolicy(), claimed).reason == (
        "Code completion is off in the solution cells of graded exercises."
    )
    # A "context" cell that defines what sum_evens asks for is its solution.
    sneaky = CompletionInput(
        prefix="def sum_evens(numbers):\n    ", role="context", lesson="fns", exercise=None
    )
    decision = decide(pack, AiPolicy(), sneaky)
    assert (decision.exercise, decision.in_solution) == ("sum_evens", True)
    assert decision.reason is not None
    anywhere = decide_anywhere([pack], AiPolicy(), CompletionInput(prefix="def sum_evens(xs):\n"))
    assert anywhere.lesson == "fns" and anywhere.reason is not None
    scratch = CompletionInput(prefix="def helper(xs):\n    ", lesson="fns")
    assert decide(pack, AiPolicy(), scratch).reason is None


def test_ungraded_or_allowed_solutions_complete() -> None:
    pack = _pack(AiPolicy(), other=AiPolicy(complete_in_solutions=True))
    inp = CompletionInput(
        prefix="def double(x):\n    ", role="solution", lesson="fns", exercise="double"
    )
    assert decide(pack, AiPolicy(), inp).reason is None
    front = notebook_policy(pack, AiPolicy())
    assert front["exercises"]["double"] == {"complete": True, "solutions": True, "reason": ""}
    assert front["exercises"]["sum_evens"]["solutions"] is False
    exam = _pack(AiPolicy(exam=True, complete=False, hint=False, ask=False))
    assert notebook_policy(exam, AiPolicy())["exercises"]["sum_evens"]["complete"] is False
    assert PolicyLayer(complete=False).set_values() == {"complete": False}
