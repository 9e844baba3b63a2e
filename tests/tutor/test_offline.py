"""The offline tutor: useful answers with no model, for every input."""

from __future__ import annotations

from dataclasses import replace

import pytest

from eduproject.core.pack import ExerciseInfo, VisibleTest
from eduproject.core.results import TestResult
from eduproject.tutor.offline import (
    explain_test,
    instructor_hint,
    offline_answer,
    offline_explain_code,
    offline_explain_error,
    offline_hint,
)
from eduproject.tutor.tutor import Tutor

from .tutor_support import sample_lesson, sample_pack

PACK = sample_pack("03-lists-dicts")
SUM_EVENS = PACK.exercise("sum_evens")
STUB = SUM_EVENS.stub
ADDS_ALL = "def sum_evens(numbers):\n    total = 0\n    for n in numbers:\n        total += n\n    return total\n"


def test_hint_on_the_stub_says_to_replace_it_then_gives_the_first_hint() -> None:
    results = [
        TestResult("basics", False, "not written yet: your code still raises NotImplementedError")
    ]
    text = offline_hint(SUM_EVENS, STUB, results, 1)
    assert "you haven't replaced the stub yet" in text
    assert f"**Your instructor's hint (1 of 3):** {SUM_EVENS.hints[0]}" in text


def test_hint_explains_the_failing_test_expected_vs_got() -> None:
    results = [
        TestResult(
            "basics", False, "sum_evens([1, 2, 3, 4]) should be 6, got 10: got gave 10, expected 6"
        ),
        TestResult("empty_list", True),
    ]
    text = offline_hint(SUM_EVENS, ADDS_ALL, results, 2)
    assert text.startswith(
        "**The test `basics` fails.** It calls `sum_evens([1, 2, 3, 4])` and expects `6`, but your code gave `10`."
    )
    assert SUM_EVENS.hints[1] in text


@pytest.mark.parametrize(
    ("message", "needle"),
    [
        (
            'greet("Ada") should return "Hello, Ada!", got None: got gave None, expected \'Hello, Ada!\'',
            "`None` means your function ended",
        ),
        ("f(2) should be 5, got '5': got gave '5', expected 5", "its type differs"),
        ("factorial(5) should be 120, got 100: got gave 100, expected 120", "close but not equal"),
        ("interrupted (does your code loop forever?)", "kept running"),
        (
            "your code raised ZeroDivisionError: division by zero (in `f`, line 2)",
            "**ZeroDivisionError**",
        ),
        ("`sum_evens` is not defined: run the cell that defines it first", "**NameError**"),
        ("expected `len(got) == 8`, but len(got) is 18", "It says: *expected `len(got) == 8`"),
    ],
)
def test_explain_test_reads_the_checks_messages(message: str, needle: str) -> None:
    text = explain_test(TestResult("t", False, message), None, "def f(x):\n    return x\n")
    assert needle in text


def test_explain_test_falls_back_to_the_visible_test_source() -> None:
    test = VisibleTest("basics", 1.0, False, "got = sum_evens([2])\nassert got == 2")
    text = explain_test(TestResult("basics", False, ""), test, ADDS_ALL)
    assert "It runs:" in text and "assert got == 2" in text


def test_all_visible_tests_passing_points_to_hidden_cases() -> None:
    text = offline_hint(
        SUM_EVENS, ADDS_ALL, [TestResult("basics", True), TestResult("empty_list", True)], 1
    )
    assert "hidden tests try more cases" in text


def test_syntax_errors_come_first() -> None:
    text = offline_hint(SUM_EVENS, "def sum_evens(numbers)\n    return 0\n", [], 1)
    assert text.startswith("**SyntaxError**")
    assert "must end with a colon" in text


def test_static_findings_are_part_of_the_hint() -> None:
    code = "def sum_evens(numbers):\n    total = 0\n    for n in numbers:\n        total += n\n        return total\n"
    text = offline_hint(SUM_EVENS, code, [TestResult("basics", False, "")], 3)
    assert "inside the `for` loop" in text


def test_no_code_no_exercise_still_helps() -> None:
    text = offline_hint(None, "", [], 1)
    assert "cannot see any code" in text
    assert "write down, in words, the steps" in text
    assert instructor_hint(None, 1) is None
    assert instructor_hint(SUM_EVENS, 7) == SUM_EVENS.hints[-1]


def test_explain_code_outlines_and_checks() -> None:
    text = offline_explain_code(ADDS_ALL, SUM_EVENS)
    assert text.startswith(
        "Your code defines the function `sum_evens(numbers)` (line 1); loops over `numbers`"
    )
    assert "returns `total` (line 5)" in text
    assert "I found none of the common beginner mistakes" in text
    assert "There is no code to explain yet" in offline_explain_code("  ")
    assert offline_explain_code("x = (").startswith("**SyntaxError**")


def test_explain_error_adds_the_likely_cause_from_the_code() -> None:
    code = "def double(x):\n    print(x * 2)\n\ny = double(2) + 1\n"
    text = offline_explain_error(
        "TypeError: unsupported operand type(s) for +: 'NoneType' and 'int'", code
    )
    assert "`None`" in text and "prints its answer but never returns it" in text


def test_answer_recognises_topics_errors_and_code() -> None:
    text = offline_answer(
        "how does a while loop work?", "i = 0\nwhile i < 3:\n    print(i)\n", SUM_EVENS
    )
    assert text.startswith("The offline tutor cannot answer free-form questions")
    assert "`while condition:`" in text
    assert "nothing inside it changes `i`" in text
    assert SUM_EVENS.hints[0] in text
    assert "**KeyError**" in offline_answer("I get KeyError: 'cat' here", "", None)
    assert "Try **Hint**" in offline_answer("blorp?", "", None)


WEIRD_INPUTS = ["", "\x00", "😀" * 50, "def", "(" * 200, "x" * 5000, "\n\n\n", "Traceback:\n" * 30]


@pytest.mark.parametrize("junk", WEIRD_INPUTS)
def test_every_entry_point_answers_any_input(junk: str) -> None:
    tutor = Tutor(PACK)
    results = [TestResult(junk[:20] or "t", False, junk)]
    for reply in (
        tutor.hint("sum_evens", junk, results, 2),
        tutor.explain_code(junk, "sum_evens"),
        tutor.explain_error(junk, junk, "sum_evens"),
        tutor.explain_error(junk, junk),
    ):
        assert reply.source == "offline" and reply.text.strip()
        assert reply.label == "Offline tutor (no model)"
    if junk.strip():
        assert tutor.ask(junk[:900], junk, "sum_evens").text.strip()


def test_offline_text_never_says_a_word_to_avoid() -> None:
    lesson = sample_lesson("02-loops-strings")
    exercise = replace(lesson.exercise("factorial"), avoid=("base case",))
    pack = replace(
        sample_pack("02-loops-strings"), exercises=(ExerciseInfo.from_exercise(exercise),)
    )
    code = "def factorial(n):\n    return n * factorial(n - 1)\n"
    plain = Tutor(sample_pack("02-loops-strings")).explain_error(
        "RecursionError: maximum recursion depth exceeded", code, "factorial"
    )
    assert "base case" in plain.text
    screened = Tutor(pack).explain_error(
        "RecursionError: maximum recursion depth exceeded", code, "factorial"
    )
    assert "base case" not in screened.text and screened.text.strip()


def test_offline_screen_keeps_the_learners_own_lines() -> None:
    # Line 4 holds "total += n", one of sum_evens' words to avoid: quoting it back is fine.
    code = "def sum_evens(numbers):\n    total = 0\n    for n in numbers:\n        total += n\n    return total\n"
    error = "Cell In[5], line 4\nTypeError: unsupported operand type(s) for +=: 'int' and 'str'"
    reply = Tutor(PACK).explain_error(error, code, "sum_evens")
    assert "Line 4 of your code:\n\n```python\n        total += n\n```" in reply.text


def test_each_hint_level_adds_something_new() -> None:
    results = [
        TestResult("basics", False, "sum_evens([1, 2, 3, 4]) gave 10, expected 6"),
        TestResult("empty_list", True),
    ]
    levels = [offline_hint(SUM_EVENS, ADDS_ALL, results, level) for level in (1, 2, 3)]
    seen: set[str] = set()
    for level, text in enumerate(levels, start=1):
        paragraphs = {p for p in text.split("\n\n") if not p.startswith("**Your instructor")}
        assert paragraphs - seen, f"level {level} says nothing new"
        seen |= paragraphs
    assert "1 of 2 visible tests fail" in levels[0]  # level 1: which test, and the idea
    assert "expects `6`, but your code gave `10`" in levels[1]  # level 2: what it shows
    assert "print(sum_evens([1, 2, 3, 4]))" in levels[2]  # level 3: the next step


@pytest.mark.parametrize(
    ("question", "needle"),
    [
        ("What does == mean?", "`a == b` asks whether two values are equal"),
        ("what does % do", "`a % b` is the remainder"),
        ("What does `and` do?", "`a and b` is true only when both are true"),
        ("When is something True?", "`True` and `False` are Python's two truth values"),
    ],
)
def test_the_glossary_knows_operators_and_truth_values(question: str, needle: str) -> None:
    assert needle in offline_answer(question)


def test_explain_my_code_finds_dead_branches_and_endless_loops() -> None:
    code = (
        "def grade(score):\n"
        "    if score >= 70:\n"
        "        return 'C'\n"
        "    elif score >= 80:\n"
        "        return 'B'\n"
        "    i = 0\n"
        "    while i < 10:\n"
        "        i -= 1\n"
        "    return 'F'\n"
        "    print('done')\n"
    )
    text = offline_explain_code(code)
    assert "The branch `score >= 80` (line 4) never runs" in text
    assert "`i` only goes down, away from the end" in text
    assert "Line 10 can never run" in text


def test_no_ai_model_is_claimed_only_when_none_is_set_up() -> None:
    assert "(no AI model is set up)" in offline_answer("help")
    assert "no AI model" not in offline_answer("help", model_set_up=True)
