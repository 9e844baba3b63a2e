"""The tests' fixture lessons, and notebook files from ``(type-and-tags, source)`` cell specs
(see tests/conftest.py's ``write_lesson``).

``SUM_EVENS`` is the one small exercise every area uses (a solution region, visible and
hidden tests, hints with words to avoid); ``GOOD`` is a lesson with every feature of the
format around it, for the authoring tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

CellSpec = tuple[str, str]
KINDS = {"md": "markdown", "code": "code", "raw": "raw"}


def notebook_json(cells: Sequence[CellSpec], *, minor: int = 5) -> dict[str, Any]:
    """An nbformat 4 notebook dict; cells get ids ``c0``, ``c1``... when ``minor >= 5``."""
    nb_cells = []
    for index, (head, source) in enumerate(cells):
        kind, *tags = head.split()
        cell: dict[str, Any] = {
            "cell_type": KINDS[kind],
            "metadata": {"tags": tags} if tags else {},
            "source": source.splitlines(keepends=True),
        }
        if kind == "code":
            cell["execution_count"] = None
            cell["outputs"] = []
        if minor >= 5:
            cell["id"] = f"c{index}"
        nb_cells.append(cell)
    return {
        "cells": nb_cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": minor,
    }


SOLUTION = '''def sum_evens(numbers):
    """Return the sum of the even numbers in `numbers`."""
    ### BEGIN SOLUTION
    total = 0
    for n in numbers:
        if n % 2 == 0:
            total += n
    return total
    ### END SOLUTION'''

TESTS = """### TEST basics points=1
assert sum_evens([1, 2, 3, 4]) == 6
assert sum_evens([]) == 0
### TEST negatives points=2
assert sum_evens([-2, -3]) == -2
### BEGIN HIDDEN TESTS
assert sum_evens(list(range(101))) == 2550
### END HIDDEN TESTS"""

HINTS = """1. Which numbers are even? Think about the remainder operator `%`.
2. Start a running total at 0
   and add to it inside a loop.
3. Loop over `numbers`; when `n % 2 == 0`, add `n` to the total.

Avoid: sum(, generator expression, total += n"""

# The exercise alone: its heading, solution, tests and hints.
SUM_EVENS: list[CellSpec] = [
    ("md exercise=sum_evens", "# Sum of evens\nWrite `sum_evens(numbers)`."),
    ("code solution", SOLUTION),
    ("code tests", TESTS),
    ("md hints", HINTS),
]

# A small lesson using every feature of the format.
GOOD = [
    ("md", "# Functions\nA first lesson about functions."),
    (
        "code setup",
        "import math\nNUMBERS = [int(x) for x in open('data/numbers.txt').read().split()]",
    ),
    ("md exercise=sum_evens", "# Sum of evens\nWrite `sum_evens(numbers)`."),
    ("code solution", SOLUTION),
    ("code tests", TESTS),
    (
        "code hidden-tests points=0.5",
        "assert sum_evens(NUMBERS) == 6\nassert sum_evens([10, 11]) == 10",
    ),
    ("md hints", HINTS),
    ("md", "Some context after the tests."),
    ("md exercise=area all-or-nothing", "## Circle area\nWrite `area(r)`."),
    ("code solution-cell", "def area(r):\n    return math.pi * r ** 2"),
    ("code tests points=2 raises-exception", "assert abs(area(1) - math.pi) < 1e-9"),
    ("code", "print('demo code, kept as is')"),
]
GOOD_DATA = {"numbers.txt": b"1 2 3 4\n"}
