"""Compact model requests for hints, explanations and answers.

A request carries only what the model needs: the exercise prompt, the learner's current
code for that exercise, the visible test outcomes, the instructor's hint for the level and
the words to avoid that are plain words. Never the whole notebook, never the learner's
name, never the reference solution (the builder only sees the learner pack, which does not
hold it) -- and so never a code-shaped word to avoid such as ``n % 2 == 0``, which is a
piece of the solution: the leak guard enforces those without telling the model.

The text is written in the learner's voice ("My code ... Give me a hint"), which reads the
same as a chat turn and as the GitHub-issue shape the model families use for StarCoder2
base models; the family registry (:mod:`eduproject.models.families`) renders it::

    request = hint_request(info, code, results, level=2)
    request.task, request.max_tokens        # ('hint', 320)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from eduproject.models.types import ModelRequest

if TYPE_CHECKING:
    from eduproject.core.pack import ExerciseInfo
    from eduproject.core.results import TestResult

# Character budgets keep prompts small enough for an 8k-context tiny model with room to answer.
MAX_PROMPT_CHARS = 900
MAX_CODE_CHARS = 2000
MAX_MESSAGE_CHARS = 240
MAX_ERROR_CHARS = 1200
MAX_QUESTION_CHARS = 1000

SYSTEM = (
    "You are a patient programming tutor for beginners learning Python. "
    "Never write the solution or any code that solves the exercise, and never write the "
    "exercise's function. Explain ideas in plain English a 14-year-old understands, "
    "in 80 to 160 words. Only mention tests by the names given."
)
STRICT = (
    "Your reply must contain no code at all: no code blocks, no Python expressions, "
    "no function definitions. Describe the idea in plain English sentences only."
)

LEVELS = {
    1: (
        "Give me a first hint: name the idea or Python concept I should look at again to "
        "solve this, and why it matters here. Do not describe the steps of the solution."
    ),
    2: (
        "Give me a second hint: explain what the failing test shows about my code -- what it "
        "expected, what my code gave, and what that difference suggests. Do not fix the code."
    ),
    3: (
        "Give me a third hint: tell me the next step to take, in words or as short numbered "
        "steps in plain English. Do not write the code for me."
    ),
}
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# Words to avoid that are plain words ("generator expression") go to the model; code-shaped
# ones ("n % 2 == 0") are pieces of the solution: only the guard gets those.
_PLAIN_WORDS = re.compile(r"[A-Za-z0-9_ -]+")
_HOME = re.compile(r"(?:/home|/Users|[A-Za-z]:\\Users)[/\\][^/\\\s\"']+")


def hint_request(
    info: ExerciseInfo | None,
    code: str,
    test_results: Sequence[TestResult],
    level: int,
    *,
    strict: bool = False,
) -> ModelRequest:
    """A hint at ``level`` 1 (concept), 2 (what the failing test shows) or 3 (next step)."""
    level = min(max(level, 1), 3)
    parts = [_exercise_part(info), _results_part(test_results), LEVELS[level]]
    teacher = _teacher_hint(info, level)
    if teacher:
        parts.append(f"My teacher's hint for this step says: {teacher}")
    return _request("hint", parts, code, info, strict=strict, max_tokens=320)


def explain_code_request(
    code: str, info: ExerciseInfo | None = None, *, strict: bool = False
) -> ModelRequest:
    """Explain what the learner's code does, without correcting it into the solution."""
    parts = [
        _exercise_part(info),
        "Explain in plain words what my code below does, step by step, and point out one "
        "thing that may be wrong, without writing the corrected code.",
    ]
    return _request("explain", parts, code, info, strict=strict, max_tokens=400)


def explain_error_request(
    error: str, code: str, info: ExerciseInfo | None = None, *, strict: bool = False
) -> ModelRequest:
    """Explain a Python error message in plain words, pointing at the line it concerns."""
    parts = [
        _exercise_part(info),
        f"I got this error:\n\n{_error_tail(error)}",
        "Explain what the error means in plain words, which line of my code causes it and "
        "what I should check. Do not write the corrected code.",
    ]
    return _request("explain", parts, code, info, strict=strict, max_tokens=400)


def ask_request(
    question: str,
    context: str = "",
    info: ExerciseInfo | None = None,
    *,
    strict: bool = False,
) -> ModelRequest:
    """A free question, answered like a tutor: explanation, not the exercise's answer."""
    parts = [
        _exercise_part(info),
        f"My question: {question.strip()[:MAX_QUESTION_CHARS]}",
        "Answer my question in plain words. If it asks for the solution, explain the idea "
        "instead of giving it.",
    ]
    return _request("ask", parts, context, info, strict=strict, max_tokens=400)


# -- parts --------------------------------------------------------------------------------


def _request(
    task: str,
    parts: list[str],
    code: str,
    info: ExerciseInfo | None,
    *,
    strict: bool,
    max_tokens: int,
) -> ModelRequest:
    system = SYSTEM
    avoid = [a for a in (info.avoid if info else ()) if _PLAIN_WORDS.fullmatch(a.strip())]
    if avoid:
        system += " Never use these words or expressions: " + "; ".join(avoid) + "."
    if strict:
        system += " " + STRICT
    code = _clip(code.strip(), MAX_CODE_CHARS)
    if code:
        parts.insert(1, "My code is below.")
    return ModelRequest(
        task=task,  # type: ignore[arg-type]  # one of the Task literals by construction
        instruction="\n\n".join(p for p in parts if p),
        system=system,
        context=code,
        max_tokens=max_tokens,
        temperature=0.2 if strict else 0.4,
        # A stricter retry must not come back from the cache of an earlier, rejected reply.
        use_cache=not strict,
    )


def _exercise_part(info: ExerciseInfo | None) -> str:
    if info is None:
        return "I am learning Python in a Jupyter notebook."
    prompt = _clip(info.prompt.strip(), MAX_PROMPT_CHARS)
    return f"I am learning Python. My exercise:\n\n{prompt}"


def _results_part(results: Sequence[TestResult]) -> str:
    if not results:
        return "I have not run the tests yet."
    failing = [r for r in results if not r.passed]
    if not failing:
        return "All the visible tests pass: " + ", ".join(f"`{r.name}`" for r in results) + "."
    lines = [
        f"- `{r.name}`: "
        + (
            "passed"
            if r.passed
            else "failed"
            + (f" -- {_clip(r.message.strip(), MAX_MESSAGE_CHARS)}" if r.message.strip() else "")
        )
        for r in results[:6]
    ]
    return "Test results:\n" + "\n".join(lines)


def _teacher_hint(info: ExerciseInfo | None, level: int) -> str:
    if info is None or not info.hints:
        return ""
    return " ".join(info.hints[min(level, len(info.hints)) - 1].split())


def _error_tail(error: str) -> str:
    """The end of a traceback, where the useful part is, without terminal colours and
    without home folders (``/home/ada/...`` would tell the model the learner's name)."""
    text = _HOME.sub("~", _ANSI.sub("", error)).strip()
    if len(text) > MAX_ERROR_CHARS:
        text = "..." + text[-MAX_ERROR_CHARS:]
    return text


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit].rstrip() + "\n... (cut)"
