"""Leak guard and malformed-reply checks, case by case (the labelled set measures them)."""

from __future__ import annotations

import json
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from eduproject.core.codetext import canonical, fragments, tokens
from eduproject.core.fingerprints import guard_data, solution_region
from eduproject.core.lesson import Exercise, TestCase
from eduproject.core.pack import ExerciseInfo
from eduproject.models.registry import ENTRY_POINT_GROUP, Registry
from eduproject.tutor.guards import check_leak, check_malformed, check_reply

from .tutor_support import sample_lesson, sample_pack

LESSONS = ("01-functions", "02-loops-strings", "03-lists-dicts", "04-pandas-intro")
SUM_EVENS = sample_pack("03-lists-dicts").exercise("sum_evens")


def make_exercise(solution: str, stub: str, avoid: tuple[str, ...] = ()) -> Exercise:
    test = TestCase(
        "basics", "double", 1.0, "assert double(2) == 5", "assert double(2) == 5", False, "c2"
    )
    return Exercise(
        "double", "Double", "Write double(x).", (test,), avoid=avoid, solution=solution, stub=stub
    )


DOUBLE = make_exercise(
    "def double(x):\n    return 2 * x + 1\n",
    "def double(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()\n",
)


def test_identifiers_are_renamed_per_window() -> None:
    assert canonical(tokens("total += n")) == canonical(tokens("acc += value")) == "v0 += v1"
    assert canonical(tokens("s.lower()")) == "v0 . lower ( )"  # attribute names stay
    assert canonical(tokens("len(x) > 0")) == "len ( v0 ) > 0"  # builtins stay
    assert canonical(tokens("don't use x")) == "v0 v1 v2"  # no string opened by an apostrophe


def test_fragments_find_fenced_inline_and_unfenced_code() -> None:
    text = "Use `x + 1` here.\n\n```py\ny = 2\n```\nOr write:\nfor i in items:\n    print(i)\nDone."
    found = {(f.lang, f.code.strip()) for f in fragments(text)}
    assert ("py", "y = 2") in found
    assert ("inline", "x + 1") in found
    assert ("loose", "for i in items:\n    print(i)") in found


@pytest.mark.parametrize("lesson_id", LESSONS)
def test_guard_data_holds_no_solution_text(lesson_id: str) -> None:
    lesson = sample_lesson(lesson_id)
    for ex in lesson.exercises:
        data = guard_data(ex, salt=lesson.version)
        dumped = json.dumps(data)
        region = solution_region(ex.solution, ex.stub)
        for line in region.splitlines():
            if len(line.strip()) > 3 and line.strip() not in ex.stub:
                assert line.strip() not in dumped, (ex.id, line)
        for word in ex.avoid:
            assert word not in dumped, (ex.id, word)
        assert data["ngrams"] and data["salt"] == lesson.version


def test_salt_changes_every_hash() -> None:
    a, b = guard_data(DOUBLE, salt="v1"), guard_data(DOUBLE, salt="v2")
    assert not set(a["ngrams"]) & set(b["ngrams"])
    assert check_leak("```python\ndef double(x):\n    return 2 * x + 1\n```", a).leak


def test_solution_region_uses_markers_or_the_stub_difference() -> None:
    marked = "def f(x):\n    ### BEGIN SOLUTION\n    return x * 3\n    ### END SOLUTION\n"
    assert solution_region(marked) == "return x * 3"
    assert solution_region(DOUBLE.solution, DOUBLE.stub) == "return 2 * x + 1"


def test_verbatim_renamed_and_reformatted_code_leak() -> None:
    for text in (
        "```python\nreturn 2 * x + 1\n```",
        "Just write `return 2 * value + 1`.",
        "return (2*n)+1 is all you need",
    ):
        verdict = check_leak(text, DOUBLE)
        assert verdict.leak and not verdict.ok and verdict.score >= 0.5, text


def test_key_expression_in_prose_leaks() -> None:
    verdict = check_leak("Check whether n % 2 == 0 before adding.", SUM_EVENS.guard | {"avoid": []})
    assert verdict.leak and verdict.reason == "states a key expression of the solution"


def test_words_to_avoid_are_enforced_case_and_plural_insensitively() -> None:
    ex = make_exercise(DOUBLE.solution, DOUBLE.stub, avoid=("generator expression", "sum("))
    assert check_leak("Try a Generator Expressions here.", ex).leak
    assert check_leak("call sum (numbers)", ex).leak
    assert not check_leak("The sum of the numbers is what you want.", ex).leak


def test_a_complete_function_leaks_but_a_skeleton_does_not() -> None:
    full = "```python\ndef sum_evens(numbers):\n    acc = 0\n    for v in numbers:\n        acc = acc + v * (1 - v % 2)\n    return acc\n```"
    skeleton = "```python\ndef sum_evens(numbers):\n    total = 0\n    # your loop here\n    return total\n```"
    guard = SUM_EVENS.guard | {"avoid": []}
    assert check_leak(full, guard).reason == "writes the exercise's function `sum_evens` in full"
    assert not check_leak(skeleton, guard).leak


def test_answer_shaped_return_leaks_unless_it_quotes_the_learner() -> None:
    text = "Your line `return numbers[0]` only gives back the first number."
    assert check_leak(text, SUM_EVENS).leak
    learner = "def sum_evens(numbers):\n    for n in numbers:\n        return numbers[0]\n"
    assert not check_leak(text, SUM_EVENS, code=learner).leak


def test_run_tests_is_asked_only_about_code_the_hashes_did_not_flag() -> None:
    seen: list[str] = []

    def runner(code: str) -> bool:
        seen.append(code)
        return "while" in code

    clean = "Think about the remainder of a division by two."
    assert not check_leak(clean, SUM_EVENS, run_tests=runner).leak and seen == []
    sneaky = "```python\ni = 0\nwhile i < len(numbers):\n    i += 1\n```"
    verdict = check_leak(sneaky, SUM_EVENS, run_tests=runner)
    assert verdict.leak and verdict.reason == "contains code that passes the exercise's tests"
    assert seen == ["i = 0\nwhile i < len(numbers):\n    i += 1\n"]


def test_exercise_info_built_server_side_carries_the_same_guard() -> None:
    lesson = sample_lesson("03-lists-dicts")
    info = ExerciseInfo.from_exercise(lesson.exercise("sum_evens"), salt=lesson.version)
    assert info.guard == SUM_EVENS.guard
    assert check_leak("`total += n`", info).leak


# -- malformed and off-topic ------------------------------------------------------------

GOOD = "Look at the test `basics`: it expects 6 but your code gives 10, so every number is added."


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty or too short"),
        ("Yes.", "empty or too short"),
        (
            "<|im_start|>assistant Here is a hint about loops for you",
            "contains prompt-template tokens",
        ),
        (
            "### Response\nUse a loop to add the numbers together.",
            "contains prompt-template tokens",
        ),
        ("Try again. " + "Add the even numbers to the total. " * 4, "repeats itself in a loop"),
        (" ".join(f"w{i}" for i in range(260)), "too long (260 words; the limit is 250)"),
        (
            "Para resolver este ejercicio recorre la lista con un bucle y suma solo los numeros pares que encuentres",
            "not written in English",
        ),
        (
            "你应该使用一个循环来遍历列表中的每个数字。然后检查每个数字是不是偶数。如果是偶数就把它加到总和里面。",
            "not written in English",
        ),
        (
            "Here it is in Java:\n```java\nint total = 0;\n```\nUse a loop.",
            "contains java code instead of Python",
        ),
        (
            "Here is the idea:\n```\nlet total = 0;\nfor (const n of numbers) {\n  total += n;\n}\n```",
            "contains code that is not Python",
        ),
        (
            "The test `test_sum_evens_negative` fails because of the sign.",
            "mentions a test `test_sum_evens_negative` that this exercise does not have",
        ),
        (
            "The `overflow` test shows that your total is too large here.",
            "mentions a test `overflow` that this exercise does not have",
        ),
    ],
)
def test_malformed_replies_are_rejected(text: str, reason: str) -> None:
    verdict = check_malformed(text, test_names=["basics", "empty_list"])
    assert not verdict.ok and not verdict.leak
    assert verdict.reason == reason


def test_a_reply_loops_by_the_rule_of_every_answer_or_by_the_rule_of_prose() -> None:
    # Five times in a row (eduproject.models.checks.find_repetition, which the router applies
    # to the finished answer): the tutor applies it to every part it releases too.
    ruler = "Your loop adds every number to the total; look at the condition.\n" + "-=*" * 40
    assert check_malformed(ruler).reason == "repeats itself in a loop"
    # Prose's own rule: the same line three times, anywhere.
    code = "Look at this:\n```python\n" + "for i in range(3):\n    total += i\n" * 3 + "```"
    assert check_malformed(code).reason == "repeats itself in a loop"


@pytest.mark.parametrize(
    "token",
    [
        # Code Llama's infilling tokens (the family "codellama").
        "<PRE>",
        "<SUF>",
        "<MID>",
        "<EOT>",
        # DeepSeek-Coder's, with U+FF5C and U+2581 (the family "deepseek-coder").
        "<\uff5cend\u2581of\u2581sentence\uff5c>",
        "<\uff5cfim\u2581begin\uff5c>",
        "<\uff5cfim\u2581hole\uff5c>",
        "<\uff5cfim\u2581end\uff5c>",
        "<|EOT|>",
        # StarCoder2's rarer special tokens.
        "<jupyter_script>",
        "<empty_output>",
        "<gh_stars>",
    ],
)
def test_a_reply_holding_any_registered_familys_token_is_rejected(token: str) -> None:
    # The tutor does not know which family wrote a reply: every family's tokens count, the
    # same ones the router's StopFilter cuts at for that family.
    reply = f"Your loop adds every number; check the condition on each one.{token} first"
    assert check_malformed(reply).reason == "contains prompt-template tokens"


PLUGIN = Path(__file__).resolve().parents[1] / "support" / "plugin_provider"


def test_a_plugin_familys_token_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    # The plugin of tests/support/plugin_provider, loaded through its entry point: its
    # family's token counts for the tutor given that registry's families.
    monkeypatch.syspath_prepend(str(PLUGIN))
    hook = EntryPoint("echo", "eduproject_echo_provider:register", ENTRY_POINT_GROUP)
    registry = Registry.builtin().load_plugins([hook])
    assert registry.plugin_errors == [] and "echo-plain" in registry.families
    reply = "Your loop adds every number; check the condition on each one. [[/ECHO]]"
    families = registry.families.values()
    verdict = check_malformed(reply, families=families)
    assert verdict.reason == "contains prompt-template tokens"
    assert check_reply(reply, None, families=families).reason == verdict.reason
    # Without the plugin's family (it is not installed here) the reply is well-formed.
    assert check_malformed(reply, families=Registry.builtin().families.values()).ok


def test_well_formed_replies_pass() -> None:
    assert check_malformed(GOOD, test_names=["basics"]).ok
    code_ok = "Compare:\n```python\nfor n in numbers:\n    print(n)\n```\nWhat does it print?"
    assert check_malformed(code_ok).ok
    # A learner's own function named like a test is not an invented test.
    own = "Your helper `test_value` is never called from the main function, so nothing happens."
    assert check_malformed(own, known_names=["test_value"]).ok


def test_echoed_instructions_are_rejected() -> None:
    rules = "Never write the solution or any code that solves the exercise, and never write the exercise's function."
    reply = (
        "Sure. Never write the solution or any code that solves the exercise, and never write it."
    )
    assert (
        check_malformed(reply, instructions=rules).reason
        == "repeats the tutor's instructions instead of answering"
    )


def test_check_reply_runs_malformed_first_then_leak() -> None:
    assert check_reply("", SUM_EVENS).reason == "empty or too short"
    leak = check_reply(
        "Inside the loop, write `if n % 2 == 0:` and then add the number.", SUM_EVENS
    )
    assert leak.leak
    assert check_reply(GOOD, SUM_EVENS).ok
    # No exercise: only the malformed checks apply, and no test name is known.
    assert check_reply("A list keeps its items in order; an index reads one of them.", None).ok
    assert not check_reply(GOOD, None).ok


def test_rewriting_the_learners_function_is_refused_even_without_an_exercise() -> None:
    code = "def mean(xs):\n    return sum(xs) / len(xs)\n"
    rewrite = "Here is the corrected code:\n```python\ndef mean(xs):\n    if not xs:\n        return 0\n    return sum(xs) / len(xs)\n```"
    verdict = check_reply(rewrite, None, task="explain", code=code)
    assert verdict.leak and verdict.reason == "rewrites your function `mean` in full"
    explained = "Your function divides by `len(xs)`, which is 0 for an empty list. Check for that case first."
    assert check_reply(explained, None, task="explain", code=code).ok
