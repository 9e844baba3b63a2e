"""The benchmark's tasks: the request each one sends and what makes an answer accepted.

* **completion** -- the model writes the item's solution region. Families with FIM get
  prefix and suffix (``ModelRequest(task="completion", prefix=..., suffix=...)``); the
  others get their instruct template with a ``<CURSOR>`` (the family decides). Accepted
  when the completed cell passes every test of the exercise in the grading sandbox.
* **hint** -- the model writes a hint for a known-wrong attempt (a mutant of the solution),
  using the tutor's own prompt. Accepted when the tutor's guards pass it: well-formed and
  no leak (the leak guard may run code blocks of the hint against the tests, in the
  sandbox). With validation, it must also help a simulated student (:func:`phung_accepts`).
* **explain** -- the model explains the reference solution. Accepted when well-formed and
  it names the code's own identifiers and invents none (:mod:`eduproject.bench.identifiers`).
* **repair** -- used only by hint validation: the simulated student's fix of the attempt.

    >>> phung_accepts(n=10, without_hint=2, with_hint=5)
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from eduproject.bench.grade import Grade, SandboxGrader
from eduproject.bench.identifiers import check_identifiers, vocabulary
from eduproject.bench.mutate import WrongAttempt
from eduproject.bench.suites import BenchItem
from eduproject.core.lesson import Role
from eduproject.core.pack import ExerciseInfo
from eduproject.core.results import TestResult
from eduproject.models.families import extract_code_block
from eduproject.models.types import ModelRequest
from eduproject.tutor.guards import check_malformed, check_reply
from eduproject.tutor.prompts import hint_request

TASKS = ("completion", "hint", "explain")
HINT_LEVEL = 2  # "what the failing test shows": the hint most tied to the wrong attempt
COMPLETION_TOKENS = 512
REPAIR_TOKENS = 512
EXPLAIN_TOKENS = 400
# Left-to-right code models (no suffix to stop at) run on past the function: end at the
# next top-level statement, as HumanEval's own harness does.
_CODE_STOPS = ("\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\nassert ", "\n#")
_WHOLE_CELL_STOPS = ("\nif __name__", "\nprint(", "\nassert ")

EXPLAIN_SYSTEM = (
    "You are a patient programming teacher. Explain Python code to a beginner in plain "
    "English. Refer to the code's own functions and variables by name in backticks."
)
EXPLAIN_INSTRUCTION = (
    "Explain step by step what this Python code does and why it solves the exercise. "
    "Name the variables and functions it uses in backticks."
)
REPAIR_INSTRUCTION = (
    "My Python code below fails its tests. Write the corrected code, the whole function, "
    "in one Python code block."
)


@dataclass(frozen=True)
class Verdict:
    """Whether an answer is accepted; ``well_formed`` False counts it as malformed."""

    accepted: bool
    well_formed: bool
    reason: str
    program: str = ""  # completion/repair: the cell that was graded
    detail: Mapping[str, object] = field(default_factory=dict)  # e.g. validation counts


# -- completion -----------------------------------------------------------------------------


def completion_request(
    item: BenchItem, *, code_shaped: bool, sample: int = 0, samples: int = 1
) -> ModelRequest:
    """The completion request of ``item``; ``code_shaped`` when the route renders FIM/plain code."""
    stops: tuple[str, ...] = ()
    if code_shaped and not item.suffix.strip():
        stops = _WHOLE_CELL_STOPS if item.whole_cell else _CODE_STOPS
    return ModelRequest(
        task="completion",
        instruction=_completion_instruction(item),
        prefix=item.fim_prefix(),
        suffix=item.suffix,
        max_tokens=COMPLETION_TOKENS,
        # pass@1 from one sample wants the model's best guess; pass@k wants variety.
        temperature=0.2 if samples == 1 else 0.8,
        stop=stops,
        seed=sample,
        use_cache=False,
    )


def _completion_instruction(item: BenchItem) -> str:
    return (
        "Complete the Python code of this exercise.\n\n"
        + item.exercise.prompt.strip()
        + "\n\nWrite only the missing code."
    )


def judge_completion(item: BenchItem, text: str, *, grader: SandboxGrader) -> Verdict:
    """Grade the completed cell in the sandbox: accepted when every test passes."""
    program = item.program(text)
    grade = grader.grade(item, program)
    return Verdict(grade.passed, True, _grade_reason(grade), program)


def _grade_reason(grade: Grade) -> str:
    if grade.passed:
        return f"all {len(grade.tests)} tests pass"
    failing = grade.failing()
    if grade.status != "graded":
        return f"{grade.status}: {grade.detail}"[:300]
    names = ", ".join(t.name for t in failing[:4])
    return f"{len(failing)} of {len(grade.tests)} tests fail ({names})"


# -- hint -----------------------------------------------------------------------------------


def exercise_info(item: BenchItem) -> ExerciseInfo:
    """The learner-side view the tutor would have (guard data salted like a release)."""
    return ExerciseInfo.from_exercise(item.exercise, salt=item.lesson.version)


def visible_results(grade: Grade) -> list[TestResult]:
    """The visible test outcomes a learner would see for the attempt."""
    return [TestResult(t.name, t.passed, t.message) for t in grade.tests if not t.hidden]


def hint_task_request(attempt: WrongAttempt, info: ExerciseInfo) -> ModelRequest:
    """The tutor's own level-2 hint request for the wrong attempt (seeded, never from cache)."""
    request = hint_request(info, attempt.program, visible_results(attempt.grade), HINT_LEVEL)
    return replace(request, use_cache=False, seed=0)


def judge_hint(
    attempt: WrongAttempt,
    text: str,
    request: ModelRequest,
    info: ExerciseInfo,
    grader: SandboxGrader,
) -> Verdict:
    """The tutor's guards: well-formed first, then the leak guard (code blocks run in the sandbox)."""
    verdict = check_reply(
        text,
        info,
        task="hint",
        instructions=request.system,
        code=attempt.program,
        run_tests=grader.passes(attempt.item),
    )
    well_formed = verdict.ok or verdict.leak
    if verdict.leak:
        return Verdict(False, well_formed, f"leak: {verdict.reason}")
    return Verdict(verdict.ok, well_formed, verdict.reason)


def phung_accepts(*, n: int, without_hint: int, with_hint: int) -> bool:
    """Phung et al. (LAK 2024): the hint helps a simulated student enough.

    ``n2 >= n1`` and (``n2/n >= 0.5`` or ``(n2 - n1)/n >= 0.25``).
    """
    n1, n2 = without_hint, with_hint
    return n2 >= n1 and (n2 / n >= 0.5 or (n2 - n1) / n >= 0.25)


def repair_request(attempt: WrongAttempt, hint: str | None, *, sample: int) -> ModelRequest:
    """One simulated-student repair of the attempt, with or without the hint."""
    parts = [REPAIR_INSTRUCTION, f"The exercise:\n\n{attempt.item.exercise.prompt.strip()}"]
    failing = [t for t in visible_results(attempt.grade) if not t.passed]
    if failing:
        parts.append(
            "Failing tests:\n"
            + "\n".join(f"- {t.name}: {t.message}".rstrip(": ") for t in failing[:4])
        )
    if hint:
        parts.append(f"A hint from my tutor: {hint.strip()}")
    return ModelRequest(
        task="repair",
        instruction="\n\n".join(parts),
        context=attempt.program,
        max_tokens=REPAIR_TOKENS,
        temperature=0.8,  # n attempts must differ, like n students
        seed=sample,
        use_cache=False,
    )


def judge_repair(attempt: WrongAttempt, text: str, *, grader: SandboxGrader) -> Verdict:
    program = attempt.item.program(extract_code_block(text))
    grade = grader.grade(attempt.item, program)
    return Verdict(grade.passed, True, _grade_reason(grade), program)


# -- explain --------------------------------------------------------------------------------


def explain_request(item: BenchItem) -> ModelRequest:
    """Explain the reference solution (prompt included, so "why" can be answered)."""
    return ModelRequest(
        task="explain",
        instruction=f"The exercise:\n\n{item.exercise.prompt.strip()}\n\n{EXPLAIN_INSTRUCTION}",
        system=EXPLAIN_SYSTEM,
        context=item.reference,
        max_tokens=EXPLAIN_TOKENS,
        temperature=0.2,
        seed=0,
        use_cache=False,
    )


def setup_code(item: BenchItem) -> str:
    """The lesson's setup cells: names the solution relies on (``pd``, ``weather``)."""
    return "\n".join(c.source for c in item.lesson.cells if c.role == Role.SETUP)


def judge_explain(item: BenchItem, text: str, *, request: ModelRequest) -> Verdict:
    """Well-formed (the tutor's check), names own identifiers, invents none."""
    code = item.reference
    form = check_malformed(
        text,
        task="explain",
        test_names=[t.name for t in item.exercise.tests],
        known_names=_names(code),
        instructions=request.system,
    )
    if not form.ok:
        return Verdict(False, False, form.reason)
    check = check_identifiers(text, code, context=setup_code(item))
    return Verdict(check.ok, True, check.reason)


def _names(code: str) -> set[str]:
    vocab = vocabulary(code)
    return set(vocab.own | vocab.used)
