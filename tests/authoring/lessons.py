"""Source cells of the fixture lessons used across the authoring tests."""

from __future__ import annotations

from typing import Any

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


def secret_lines(notebook: dict[str, Any]) -> set[str]:
    """Non-trivial stripped lines of the solution regions and hidden tests of a source notebook,
    leaving out those the author also wrote somewhere learners see (a prompt, a visible test).

    Deliberately independent of eduproject's own marker code: it is the yardstick for the
    no-leak tests, so it reads the tags and markers the simplest way.
    """
    secrets: list[str] = []
    public: list[str] = []
    for cell in notebook["cells"]:
        tags = cell.get("metadata", {}).get("tags", [])
        lines = "".join(cell["source"]).split("\n")
        if "solution-cell" in tags or "hidden-tests" in tags:
            secrets.extend(lines)
            continue
        begin, end = (
            ("### BEGIN SOLUTION", "### END SOLUTION")
            if "solution" in tags
            else ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
        )
        inside = False
        for line in lines:
            if line.strip() in (begin, end):
                inside = line.strip() == begin
            elif inside:
                secrets.append(line)
            elif not line.strip().startswith("Avoid:"):  # words to avoid are not published
                public.append(line)
    published = "\n".join(public)
    stripped = {s.strip() for s in secrets}
    return {s for s in stripped if len(s) >= 8 and not s.startswith("#") and s not in published}


def all_text(document: Any) -> list[str]:
    """Every string in a JSON document; a list of strings (a cell source) counts as one."""
    if isinstance(document, str):
        return [document]
    if isinstance(document, list) and all(isinstance(x, str) for x in document):
        return ["".join(document), *document]
    if isinstance(document, list):
        return [t for item in document for t in all_text(item)]
    if isinstance(document, dict):
        return [t for k, v in document.items() for t in [k, *all_text(v)]]
    return []
