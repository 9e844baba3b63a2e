"""A lesson with auto-graded and manually graded exercises, shared by the manual-grading tests."""

from __future__ import annotations

from tests.support.lessons import CellSpec

RUBRIC = "- 1 point: each item is visited once\n- 1 point: a running total (RUBRIC-SECRET)"
MODEL_ANSWER = "A `for` loop visits each item once; adding each to a total (MODEL-SECRET) sums it."

MANUAL: list[CellSpec] = [
    ("md", "# Loops, explained"),
    ("md exercise=double", "# Double\nWrite `double(x)`."),
    (
        "code solution",
        "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
    ),
    ("code tests", "assert double(2) == 4\nassert double(5) == 10"),
    (
        "md exercise=explain manual points=2",
        "# Why a loop?\nExplain in two sentences why a `for` loop suits summing a list.",
    ),
    ("md answer", MODEL_ANSWER),
    ("md rubric", RUBRIC),
    (
        "md exercise=squares manual points=3",
        "# Show the squares\nPrint (or plot) the squares of 0 to 9.",
    ),
    (
        "code answer",
        "### BEGIN SOLUTION\nprint([x * x for x in range(10)])  # CODE-SECRET\n### END SOLUTION",
    ),
]
SECRETS = ("RUBRIC-SECRET", "MODEL-SECRET", "CODE-SECRET")
