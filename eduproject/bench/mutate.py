"""Known-wrong learner attempts for the hint task: mutants (``runner/mutants.py``) of a
reference solution that really fail the exercise's tests in the sandbox."""

from __future__ import annotations

from dataclasses import dataclass

from eduproject.bench.grade import Grade, SandboxGrader
from eduproject.bench.suites import BenchItem
from eduproject.runner.mutants import Mutant, mutants

__all__ = ["MAX_TRIES", "Mutant", "WrongAttempt", "mutants", "wrong_attempts"]

# How many mutants of one item may be graded before giving up on finding enough failing ones.
MAX_TRIES = 16


@dataclass(frozen=True)
class WrongAttempt:
    """A mutant that fails the tests: ``program`` is the whole solution cell, ``grade`` its verdict."""

    item: BenchItem
    mutant: Mutant
    program: str
    grade: Grade


def wrong_attempts(
    item: BenchItem, grader: SandboxGrader, *, count: int = 1, max_tries: int = MAX_TRIES
) -> list[WrongAttempt]:
    """Up to ``count`` mutants of ``item`` that fail its tests (graded in the sandbox).

    Mutants that time out are skipped: a hint benchmark needs wrong answers, not hangs.
    """
    found: list[WrongAttempt] = []
    for tries, mutant in enumerate(mutants(item.target)):
        if tries >= max_tries or len(found) >= count:
            break
        program = item.program(mutant.code)
        grade = grader.grade(item, program)
        if not grade.passed and grade.status in ("graded", "error"):
            found.append(WrongAttempt(item, mutant, program, grade))
    return found
