"""Beginner slips: one line of the answer rewritten, everything else as the learner wrote it."""

from __future__ import annotations

from eduproject.runner.mutants import slips

LINES = [
    "def count_positive(numbers):",
    "    # count the numbers above zero",
    "    count = 0",
    "    for n in numbers:",
    "        if n > 0:",
    "            count += 1",
    "    return count",
]


def test_slips_change_one_line_of_the_answer_and_keep_the_rest() -> None:
    found = list(slips(LINES, [(2, 7)]))
    assert {m.kind for m in found} == {"slip"}
    labels = {m.description for m in found}
    assert {"boundary wrong (> became >=)", "starts counting at 1 instead of 0"} <= labels
    assert "prints the answer instead of returning it" in labels
    for mutant in found:
        lines = mutant.code.split("\n")
        changed = [i for i, (a, b) in enumerate(zip(lines, LINES, strict=True)) if a != b]
        assert len(changed) == 1 and 2 <= changed[0] < 7, mutant
        assert lines[1] == "    # count the numbers above zero"  # comments stay
        compile(mutant.code, "<slip>", "exec")


def test_lines_outside_the_regions_are_never_slipped() -> None:
    assert list(slips(LINES, [(0, 2)])) == []
