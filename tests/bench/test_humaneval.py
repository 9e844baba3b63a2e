"""HumanEval in our exercise format, graded through the same sandboxed path as the bench."""

from __future__ import annotations

import pytest

from eduproject.bench.grade import SandboxGrader
from eduproject.bench.humaneval import PROBLEM_COUNT, read_problems
from eduproject.bench.suites import humaneval_items, load_suite


def test_conversion_keeps_prompt_solution_and_tests() -> None:
    problems = read_problems()
    items = humaneval_items(limit=3)
    assert len(problems) == PROBLEM_COUNT
    first, problem = items[0], problems[0]
    assert (first.id, first.suite, first.function) == (
        "humaneval/HumanEval_0",
        "humaneval",
        problem["entry_point"],
    )
    assert first.prefix == problem["prompt"].rstrip("\n") + "\n"
    assert first.target.strip() == problem["canonical_solution"].strip()
    (test,) = first.exercise.tests
    assert (test.name, test.hidden) == ("check", True)
    assert test.source.rstrip().endswith("check(has_close_elements)")
    assert "def check(candidate):" in test.source
    # The learner's view holds the stub, not the solution.
    assert "raise NotImplementedError()" in first.exercise.stub
    assert "for idx, elem in enumerate(numbers)" not in first.exercise.stub


def test_load_suite_by_name() -> None:
    assert [i.id for i in load_suite("humaneval", limit=2)] == [
        "humaneval/HumanEval_0",
        "humaneval/HumanEval_1",
    ]


@pytest.mark.slow
def test_all_canonical_solutions_pass(grader: SandboxGrader) -> None:
    """164/164 through the grading engine, one sandboxed fork per problem."""
    items = humaneval_items()
    assert len(items) == PROBLEM_COUNT
    grades = grader.grade_many([(item, item.reference) for item in items])
    failed = {
        item.id: (g.status, g.detail) for item, g in zip(items, grades, strict=True) if not g.passed
    }
    assert failed == {}
    assert sum(g.passed for g in grades) == PROBLEM_COUNT


@pytest.mark.slow
def test_wrong_solutions_fail(grader: SandboxGrader) -> None:
    items = humaneval_items(limit=40)
    for item in (items[0], items[32], items[38]):  # plain, helper-using (poly), encode helper
        assert not grader.grade(item, item.program("return None")).passed
        assert grader.grade(item, item.reference).passed
