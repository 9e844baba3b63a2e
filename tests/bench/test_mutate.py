"""Wrong attempts by mutation: plausible slips that really fail the tests."""

from __future__ import annotations

import pytest

from eduproject.bench.grade import SandboxGrader
from eduproject.bench.mutate import mutants, wrong_attempts
from eduproject.bench.suites import BenchItem


def test_mutants_change_one_thing() -> None:
    found = list(mutants("if x < 0:\n    return -x\nreturn x"))
    assert [m.kind for m in found] == ["compare", "negate", "constant", "return", "return", "drop"]
    assert found[0].code == "if x <= 0:\n    return -x\nreturn x"
    assert found[1].code == "if not x < 0:\n    return -x\nreturn x"
    assert found[2].code == "if x < 1:\n    return -x\nreturn x"
    assert found[-1].code == "return x"
    assert len({m.code for m in found}) == len(found)


def test_unparsable_code_has_no_mutants() -> None:
    assert list(mutants("def broken(:\n")) == []


@pytest.mark.slow
def test_every_course_exercise_gets_a_failing_attempt(
    course_items: list[BenchItem], grader: SandboxGrader
) -> None:
    for item in course_items:
        (attempt,) = wrong_attempts(item, grader)
        assert not attempt.grade.passed, item.id
        assert attempt.program != item.reference
        # Graded again from scratch: still failing (the verdict is the sandbox's, not cached).
        assert not grader.grade(item, attempt.program).passed
