"""The offline tutor: real help with no model at all.

It explains the failing visible test (expected vs got), Python errors in plain words,
beginner bugs found by reading the code (:mod:`static_checks`), and gives the instructor's
hints in order. Every function returns markdown for any input and never raises on
learner input::

    >>> text = offline_hint(info, code, results, level=1)     # doctest: +SKIP
"""

from __future__ import annotations

import ast
import builtins
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from eduproject.tutor.error_help import explain_error, explain_syntax, parse_error
from eduproject.tutor.static_checks import Finding, static_findings, syntax_problem

if TYPE_CHECKING:
    from eduproject.core.pack import ExerciseInfo, VisibleTest
    from eduproject.core.results import TestResult

OFFLINE_LABEL = "Offline tutor (no model)"
HINT_LEVELS = 3
_GAVE = re.compile(
    r"(?P<what>[^:]*?)\s+gave\s+(?P<got>.+?),\s+expected\s+(?P<expected>.+)$", re.DOTALL
)
_SHOULD = re.compile(
    r"(?P<call>.+?)\s+should\s+(?:be|return|give|have)\s+(?P<expected>.+?),\s+got\s+(?P<got>.+?)(?::|$)",
    re.DOTALL,
)


def instructor_hint(info: ExerciseInfo | None, level: int) -> str | None:
    """The instructor's hint for ``level`` (1-based), the last one past the end, or None."""
    if info is None or not info.hints:
        return None
    return info.hints[min(max(level, 1), len(info.hints)) - 1]


def offline_hint(
    info: ExerciseInfo | None,
    code: str,
    test_results: Sequence[TestResult],
    level: int,
) -> str:
    """A next-step hint from the tests, the code and the instructor's hints.

    Each level adds something the one before did not say: level 1 the concept (which test
    fails, the idea behind the exercise, the instructor's first hint), level 2 what the
    failing test shows (what it called, expected and got), level 3 the next step (what the
    code reading found, and a way to see the problem for yourself).
    """
    parts: list[str] = []
    problem = syntax_problem(code) if code.strip() else None
    if problem is not None:
        parts.append(explain_syntax(problem, code))
    findings = static_findings(code) if problem is None else []
    stub = [f for f in findings if f.kind == "stub"]
    failing = [r for r in test_results if not r.passed]
    level = min(max(level, 1), HINT_LEVELS)
    if stub:
        parts.append(stub[0].message)
    elif failing and problem is None:
        test = _test_named(info, failing[0].name)
        if level == 1:
            parts.append(_which_fail(failing, len(test_results)))
            concept = _concept(info, code)
            if concept:
                parts.append(concept)
        elif level == 2:
            parts.append(explain_test(failing[0], test, code))
        else:
            parts.append(_try_it(failing[0], test))
    elif test_results and not failing and problem is None:
        parts.append(
            "All the visible tests pass. When your work is graded, hidden tests try more "
            "cases: think about unusual inputs (an empty list or text, zero, negative numbers, "
            "ties) and check your code handles them too."
        )
    others = [f for f in findings if f.kind != "stub"]
    if others and (level == HINT_LEVELS or not failing or problem is not None):
        parts.append(_findings_text(others[:3]))
    elif others and level == 2:
        parts.append(_findings_text(others[:1]))
    if not parts:  # nothing specific to say about this code: a way to start
        if not code.strip():
            parts.append(
                "I cannot see any code for this exercise yet: run its cell first, then ask again."
            )
        parts.append(general_nudge(info))
    hint = instructor_hint(info, level)
    if hint:
        count = len(info.hints) if info else 0
        shown = min(max(level, 1), count)
        parts.append(f"**Your instructor's hint ({shown} of {count}):** {hint}")
    return "\n\n".join(parts)


def offline_explain_code(code: str, info: ExerciseInfo | None = None) -> str:
    """What the code does, in outline, and the beginner bugs it may have."""
    if not code.strip():
        return "There is no code to explain yet: write some code in the exercise cell and run it."
    problem = syntax_problem(code)
    if problem is not None:
        return explain_syntax(problem, code)
    parts = [_outline(code)]
    findings = static_findings(code)
    if findings:
        parts.append(_findings_text(findings[:4]))
    else:
        parts.append(
            "I found none of the common beginner mistakes (missing `return`, loops that never "
            "end, off-by-one ranges, unused parameters). Run the tests with **Check** to see "
            "whether it gives the right answers."
        )
    return "\n\n".join(parts)


def offline_explain_error(error: str, code: str, info: ExerciseInfo | None = None) -> str:
    """The error in plain words, plus any code finding that may have caused it."""
    text = explain_error(error, code)
    parsed = parse_error(error)
    related = {
        "TypeError": ("no-return", "print-not-return", "missing-return", "shadowed-builtin"),
        "AttributeError": ("no-return", "print-not-return", "missing-return"),
        "IndexError": (),  # explain_error already cites the off-by-one range
        "KeyboardInterrupt": ("endless-loop", "loop-never-changes"),
        "RecursionError": (),
    }.get(parsed.kind, ())
    extra = [f for f in static_findings(code) if f.kind in related] if code.strip() else []
    if extra:
        text += "\n\n" + extra[0].message
    if error.startswith("In a test of exercise") and info is not None:
        text += "\n\n" + _where_to_change(info, code)
    return text


def _where_to_change(info: ExerciseInfo, code: str) -> str:
    """For a failed test cell: the test is fine, the learner's function is what to change."""
    from eduproject.tutor.learner_code import stub_names

    names = sorted(stub_names(info.stub))
    lines = code.splitlines()
    defs = [
        (number, line.strip())
        for number, line in enumerate(lines, start=1)
        if any(line.lstrip().startswith((f"def {n}(", f"class {n}", f"{n} =")) for n in names)
    ]
    shown = ", ".join(f"`{n}`" for n in names) or "your code"
    where = f" (line {defs[0][0]} of your code: `{defs[0][1]}`)" if defs and len(lines) > 1 else ""
    return (
        f"**Where to look:** the test cell is right as it is; it checks {shown}. Change "
        f"{shown}{where}, run its cell again, then run the test cell."
    )


# Short answers for questions the offline tutor cannot otherwise read.
_GLOSSARY = {
    "return": "`return value` ends a function and hands `value` back to whoever called it. Without it the call gives `None`; `print` only shows a value, it does not hand it back.",
    "loop": "A `for x in items:` loop runs its indented lines once per item, with `x` set to that item. A `while condition:` loop repeats as long as the condition is true, so something inside must change it.",
    "if": "`if condition:` runs its indented lines only when the condition is true; `elif` tries another condition; `else` catches everything left. Python checks them top to bottom and stops at the first true one.",
    "list": "A list holds items in order: `[3, 1, 2]`. `items[0]` is the first, `len(items)` counts them, `items.append(x)` adds at the end.",
    "dict": 'A dictionary maps keys to values: `{"a": 1}`. `d[key]` reads a value (a KeyError if the key is missing), `d[key] = value` stores one, `key in d` checks.',
    "string": "A string is text in quotes. `len(s)` counts characters, `s[0]` is the first one, `s.lower()` makes a lower-case copy; strings cannot be changed in place.",
    "function": "`def name(parameters):` defines a function; the indented lines run each time you call `name(...)`, with the parameters set to the values you pass.",
    "range": "`range(a, b)` counts from `a` up to but **not including** `b`; `range(n)` gives 0 to n-1.",
    "variable": "A variable is a name for a value: `total = 0` stores 0 under the name `total`; `total = total + 1` reads it, adds one, and stores the result.",
    "dataframe": 'A pandas DataFrame is a table. `df["col"]` is one column (a Series); `df[condition]` keeps the rows where the condition is true.',
    "none": '`None` means "no value". A function without `return` gives `None`, and so do methods like `list.sort()` that change the list in place.',
    "error": "Read an error from the bottom: the last line names the problem (like `NameError: ...`), the lines above show where it happened.",
    "==": "`a == b` asks whether two values are equal and gives `True` or `False`; it changes nothing. A single `=` stores a value under a name: `x = 3`. `!=` asks whether they differ.",
    "%": "`a % b` is the remainder left after dividing `a` by `b`: `7 % 3` is `1`, `8 % 4` is `0`. A remainder of 0 means `b` divides `a` exactly, which is how you test whether a number is a multiple of another.",
    "and/or/not": "`a and b` is true only when both are true; `a or b` is true when at least one is; `not a` turns true into false and false into true. Python checks them left to right and stops as soon as the answer is known.",
    "True/False": '`True` and `False` are Python\'s two truth values (the type `bool`). A comparison such as `x > 3` gives one of them, and `if` runs its block when its condition is `True`. Write them with a capital letter and without quotes: `"True"` is text, not a truth value.',
}
_GLOSSARY_WORDS = {
    "return": ("return", "returns", "returning"),
    "loop": ("loop", "loops", "for", "while", "iterate", "repeat"),
    "if": ("if", "elif", "else", "condition", "conditions"),
    "list": ("list", "lists", "append", "index"),
    "dict": ("dict", "dictionary", "dictionaries", "key", "keys"),
    "string": ("string", "strings", "str", "text", "character", "characters"),
    "function": ("function", "functions", "def", "parameter", "argument", "arguments"),
    "range": ("range",),
    "variable": ("variable", "variables", "assign", "assignment"),
    "dataframe": ("dataframe", "pandas", "column", "columns", "df", "series"),
    "none": ("none", "null"),
    "error": ("error", "traceback", "exception"),
}
# Symbols and keywords a learner asks about ("what does % do?"), found in the raw question.
_GLOSSARY_SYMBOLS = {
    "==": re.compile(r"==|!=|\bequals? (?:sign|operator)|\bdouble equals?\b"),
    "%": re.compile(r"%|\bmodulo\b|\bmod\b|\bremainder\b"),
    "and/or/not": re.compile(
        r"`(?:and|or|not)`|\b(?:and|or|not) (?:operator|keyword)s?\b|\band/or\b|\bboolean logic\b"
        r"|\bwhat (?:does|do|is|are) (?:and|or|not)\b"
    ),
    "True/False": re.compile(r"\bTrue\b|\bFalse\b|\bbool(?:ean)?s?\b"),
}


def offline_answer(
    question: str,
    context: str = "",
    info: ExerciseInfo | None = None,
    *,
    model_set_up: bool = False,
) -> str:
    """The offline tutor cannot read free questions; it answers what it can recognise.

    ``model_set_up``: an AI model exists but did not answer this time (the notice says why),
    so the text must not claim that none is set up.
    """
    parts = []
    parsed = parse_error(question)
    if parsed.kind:
        parts.append(explain_error(question, context))
    words = set(re.findall(r"[a-z]+", question.lower()))
    symbols = [t for t, pattern in _GLOSSARY_SYMBOLS.items() if pattern.search(question)]
    topics = symbols + [t for t, keys in _GLOSSARY_WORDS.items() if words & set(keys)]
    parts += [_GLOSSARY[t] for t in topics[:3]]
    if context.strip():
        problem = syntax_problem(context)
        if problem is not None and not parsed.kind:
            parts.append(explain_syntax(problem, context))
        findings = static_findings(context) if problem is None else []
        if findings:
            parts.append(_findings_text(findings[:2]))
    hint = instructor_hint(info, 1)
    if hint:
        parts.append(f"**Your instructor's first hint:** {hint}")
    lead = (
        "The offline tutor cannot answer free-form questions"
        + ("" if model_set_up else " (no AI model is set up)")
        + ", but here is what it can tell you."
    )
    if not parts:
        parts.append(
            "Try **Hint** for a step-by-step hint, **Explain my code** for a check of your "
            "code, or paste the last line of an error message into the question box."
        )
    return "\n\n".join([lead, *parts])


# -- helpers ------------------------------------------------------------------------------


def _which_fail(failing: Sequence[TestResult], total: int) -> str:
    names = ", ".join(f"`{r.name}`" for r in failing[:3])
    more = f" and {len(failing) - 3} more" if len(failing) > 3 else ""
    return (
        f"**{len(failing)} of {total} visible tests fail** ({names}{more}). Before changing "
        "code, say in one sentence what the exercise asks for, then compare it with what "
        "your code does step by step."
    )


def _concept(info: ExerciseInfo | None, code: str) -> str | None:
    """A glossary entry for the idea the exercise (or the code) is about."""
    text = f"{info.prompt if info else ''}\n{code}"
    words = set(re.findall(r"[a-z]+", text.lower()))
    for topic in ("return", "loop", "if", "dict", "list", "string", "range"):
        if words & set(_GLOSSARY_WORDS[topic]):
            return f"**The idea:** {_GLOSSARY[topic]}"
    return None


def _try_it(result: TestResult, test: VisibleTest | None) -> str:
    """Level 3's next step: run the failing call yourself and look at what comes back."""
    _, expected, call = _expected_got(result.message or "")
    if call is None and test is not None:
        call = _tested_call(test.visible_source)
    if call:
        want = f" (the test wants `{expected}`)" if expected else ""
        return (
            f"**Next step:** in a new cell, run `print({call})` and compare what it shows with "
            f"what the test expects{want}. Then add a `print(...)` inside your function to "
            "watch each step, and find the first step where the value goes wrong."
        )
    return (
        f"**Next step:** the test `{result.name}` still fails. Put a `print(...)` inside your "
        "function to watch each step on the test's input, and find the first step where the "
        "value goes wrong."
    )


def _test_named(info: ExerciseInfo | None, name: str) -> VisibleTest | None:
    if info is None:
        return None
    return next((t for t in info.visible_tests if t.name == name), None)


def explain_test(result: TestResult, test: VisibleTest | None, code: str) -> str:
    """One failing visible test, explained: what it calls, what it expected, what came back."""
    message = (result.message or "").strip()
    head = f"**The test `{result.name}` fails.**"
    low = message.lower()
    if "notimplementederror" in low or low.startswith("not written yet"):
        return f"{head} " + explain_error("NotImplementedError", code)
    if low.startswith("interrupted"):
        loops = [
            f.message
            for f in static_findings(code)
            if f.kind in ("endless-loop", "loop-never-changes")
        ]
        return f"{head} It was stopped because your code kept running. " + (
            loops[0]
            if loops
            else "A loop probably never ends: check that its condition changes inside the loop."
        )
    if (
        "is not defined" in low
        or "raised" in low
        or parse_error(message).kind not in ("", "AssertionError")
    ):
        undefined = re.match(r"`([^`]+)` is not defined", message)
        error = f"NameError: name '{undefined.group(1)}' is not defined" if undefined else message
        return f"{head} Your code raised an error while the test ran.\n\n" + explain_error(
            error, code
        )
    got, expected, call = _expected_got(message)
    if call is None and test is not None:
        call = _tested_call(test.visible_source)
    lines = [head]
    if call and expected is not None:
        lines.append(
            f"It calls `{call}` and expects `{expected}`"
            + (f", but your code gave `{got}`." if got is not None else ".")
        )
    elif expected is not None:
        lines.append(
            f"It expected `{expected}`" + (f" but got `{got}`." if got is not None else ".")
        )
    elif message:
        lines.append(f"It says: *{message}*")
    elif test is not None and test.visible_source.strip():
        lines.append(f"It runs:\n\n```python\n{test.visible_source.strip()}\n```")
    tip = _compare_tip(got, expected)
    if tip:
        lines.append(tip)
    return " ".join(lines[:2]) + ("\n\n" + "\n\n".join(lines[2:]) if len(lines) > 2 else "")


def _expected_got(message: str) -> tuple[str | None, str | None, str | None]:
    """(got, expected, call) from check's messages and the usual instructor f-strings."""
    should = _SHOULD.search(message)
    gave = _GAVE.search(message)
    if gave:
        call = should.group("call").strip() if should else None
        return gave.group("got").strip(), gave.group("expected").strip(), call
    if should:
        return (
            should.group("got").strip(),
            should.group("expected").strip(),
            should.group("call").strip(),
        )
    return None, None, None


def _tested_call(source: str) -> str | None:
    """The first call of a learner-defined function in a test (``got = f(...)``/``assert f(...)``)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id not in dir(builtins)
        ):
            return ast.unparse(node)
    return None


def _compare_tip(got: str | None, expected: str | None) -> str | None:
    if got is None or expected is None:
        return None
    if got == "None":
        return "`None` means your function ended without returning a value: is there a `return` on every path, and does it return rather than `print`?"
    if got.strip("'\"") == expected.strip("'\"") and got != expected:
        return "The value looks right but its type differs: one is text (in quotes) and the other is not. Check whether you return a number or a string."
    try:
        g, e = float(got), float(expected)
    except ValueError:
        return None
    if e and abs(g - e) / abs(e) < 0.5 and g != e:
        return "Your answer is close but not equal: check where your loop starts and stops (an item too many or too few?) and your starting value."
    return None


def _outline(code: str) -> str:
    tree = ast.parse(code)
    said = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            said.append(
                f"defines the function `{node.name}({ast.unparse(node.args)})` (line {node.lineno})"
            )
        elif isinstance(node, ast.For):
            said.append(
                f"loops over `{ast.unparse(node.iter)}` with a `for` loop (line {node.lineno})"
            )
        elif isinstance(node, ast.While):
            said.append(f"repeats while `{ast.unparse(node.test)}` is true (line {node.lineno})")
        elif isinstance(node, ast.If):
            said.append(f"checks `{ast.unparse(node.test)}` (line {node.lineno})")
        elif isinstance(node, ast.Return) and node.value is not None:
            said.append(f"returns `{ast.unparse(node.value)}` (line {node.lineno})")
    said.sort(key=lambda s: int(re.findall(r"line (\d+)", s)[-1]))
    if not said:
        return "Your code runs its lines from top to bottom; it defines no function, loop or condition."
    return "Your code " + "; ".join(said[:8]) + "."


def _findings_text(findings: Sequence[Finding]) -> str:
    if len(findings) == 1:
        return f"**Something to check:** {findings[0].message}"
    return "**Things to check:**\n\n" + "\n".join(f"- {f.message}" for f in findings)


def general_nudge(info: ExerciseInfo | None) -> str:
    task = f" for **{info.title}**" if info else ""
    return (
        f"Read the exercise{task} again and write down, in words, the steps you would do by "
        "hand on the first example. Then turn each step into one line of code, and use "
        "**Check** after each change to see which tests pass."
    )
