"""A lesson of everyday Python idioms in tests: what real course notebooks do.

Classes with ``__eq__``, dataclasses, in-place mutation, identity, helpers shared between test
cells, lambdas passed to learner code, exceptions (also the learner's own classes, with
``pytest.raises``), generators, a learner function that shadows a builtin, ``vars()``,
``type()`` comparisons, a global a test sets that learner code reads, a file learner code
writes, seeded randomness -- and a first exercise whose solution loops forever in a broken
submission. Every test passes when the instructor notebook runs top to bottom.
"""

from __future__ import annotations

CellSpec = tuple[str, str]

IDIOMS: list[CellSpec] = [
    ("md", "# Everyday idioms"),
    ("code setup", "import math\nimport random\nfrom collections import Counter"),
    # 1: a loop (the broken submission loops forever here)
    ("md exercise=countdown", "# Countdown\nWrite `countdown(n)`: the list n, n-1, ..., 1."),
    (
        "code solution",
        "def countdown(n):\n    ### BEGIN SOLUTION\n    out = []\n    while n > 0:\n"
        "        out.append(n)\n        n -= 1\n    return out\n    ### END SOLUTION",
    ),
    (
        "code tests",
        "def check_list(got, expected):\n    assert got == expected, f'got {got!r}, expected {expected!r}'\n"
        "### TEST basic points=1\ncheck_list(countdown(3), [3, 2, 1])\n"
        "### TEST empty points=1\ncheck_list(countdown(0), [])",
    ),
    # 2: a class with __eq__ and a dataclass
    ("md exercise=point", "# Points\nWrite a class `Point` and `origin()`."),
    (
        "code solution",
        "from dataclasses import dataclass\n\n"
        "class Point:\n    def __init__(self, x, y):\n        self.x, self.y = x, y\n"
        "    ### BEGIN SOLUTION\n    def __eq__(self, other):\n"
        "        return isinstance(other, Point) and (self.x, self.y) == (other.x, other.y)\n\n"
        "    def __hash__(self):\n        return hash((self.x, self.y))\n\n"
        "    def __repr__(self):\n        return f'Point({self.x}, {self.y})'\n"
        "    ### END SOLUTION\n\n"
        "def origin():\n    ### BEGIN SOLUTION\n    return Point(0, 0)\n    ### END SOLUTION\n\n"
        "@dataclass\nclass Pair:\n    left: int\n    right: int\n\n"
        "def swap(p):\n    ### BEGIN SOLUTION\n    return Pair(p.right, p.left)\n    ### END SOLUTION",
    ),
    (
        "code tests",
        "### TEST equality points=1\nassert origin() == Point(0, 0)\nassert origin() != Point(1, 0)\n"
        "assert Point(1, 2) in [Point(3, 4), Point(1, 2)]\nassert len({Point(1, 2), Point(1, 2)}) == 1\n"
        "check_list([origin()], [Point(0, 0)])\n"
        "### TEST dataclass points=1\nassert swap(Pair(1, 2)) == Pair(2, 1)\n"
        "assert type(origin()) == Point and isinstance(origin(), Point)\n"
        "assert type(origin()).__name__ == 'Point'\n"
        "### BEGIN HIDDEN TESTS\n### TEST hidden-dataclass points=1\nassert swap(Pair(5, 7)) == Pair(7, 5)\n"
        "### END HIDDEN TESTS",
    ),
    # 3: in-place mutation and identity
    ("md exercise=stack", "# Stack\nWrite `reverse_in_place(nums)` and a class `Stack`."),
    (
        "code solution",
        "def reverse_in_place(nums):\n    ### BEGIN SOLUTION\n    nums.reverse()\n    ### END SOLUTION\n\n"
        "class Stack:\n    def __init__(self):\n        self.items = []\n\n"
        "    def push(self, item):\n        ### BEGIN SOLUTION\n        self.items.append(item)\n"
        "        ### END SOLUTION\n\n"
        "    def pop(self):\n        ### BEGIN SOLUTION\n        return self.items.pop()\n"
        "        ### END SOLUTION\n\n"
        "    def __len__(self):\n        return len(self.items)",
    ),
    (
        "code tests",
        "### TEST mutation points=1\nnums = [1, 2, 3]\nresult = reverse_in_place(nums)\n"
        "assert result is None\nassert nums == [3, 2, 1]\n"
        "### TEST identity points=1\ns = Stack()\np = Point(1, 2)\nbox = [1]\ns.push(p)\ns.push(box)\n"
        "assert s.pop() is box\nassert s.pop() is p\nassert len(s) == 0\n"
        "### BEGIN HIDDEN TESTS\n### TEST hidden-mutation points=1\n"
        "data = [[1, 2], [3]]\nreverse_in_place(data)\nassert data == [[3], [1, 2]]\n"
        # objects a visible test made are the same objects in the hidden test's checkpoint
        "assert isinstance(s, Stack) and p == Point(1, 2) and p is not box\n### END HIDDEN TESTS",
    ),
    # 4: functions passed in, generators, exceptions
    ("md exercise=newton", "# Newton\nWrite `newton(f, df, x0)`, `squares(n)` and `safe_sqrt(x)`."),
    (
        "code solution",
        "class NegativeInput(ValueError):\n    pass\n\n"
        "def newton(f, df, x0, steps=30):\n    ### BEGIN SOLUTION\n    x = x0\n    for _ in range(steps):\n"
        "        x = x - f(x) / df(x)\n    return x\n    ### END SOLUTION\n\n"
        "def squares(n):\n    ### BEGIN SOLUTION\n    for i in range(n):\n        yield i * i\n"
        "    ### END SOLUTION\n\n"
        "def safe_sqrt(x):\n    ### BEGIN SOLUTION\n    if x < 0:\n"
        "        raise NegativeInput(f'negative input: {x}')\n    return math.sqrt(x)\n    ### END SOLUTION",
    ),
    (
        "code tests",
        "import pytest\n"
        "### TEST newton points=1\nroot = newton(lambda x: x**2 - 2, lambda x: 2 * x, 1.0)\n"
        "assert math.isclose(root, math.sqrt(2))\n"
        "### TEST generator points=1\ng = squares(4)\nassert next(g) == 0\nassert list(g) == [1, 4, 9]\n"
        "### TEST errors points=1\nwith pytest.raises(NegativeInput, match='negative'):\n    safe_sqrt(-1)\n"
        "with pytest.raises(ValueError):\n    safe_sqrt(-4)\n"
        "try:\n    safe_sqrt(-2)\nexcept NegativeInput as exc:\n    assert 'negative input' in str(exc)\n"
        "assert safe_sqrt(9) == 3",
    ),
    # 5: a learner `sum`, vars(), globals a test sets, files, seeded randomness
    ("md exercise=misc", "# Odds and ends"),
    (
        "code solution",
        "def sum(values):\n    ### BEGIN SOLUTION\n    total = 0\n    for v in values:\n        total += v\n"
        "    return total\n    ### END SOLUTION\n\n"
        "def count_above(values):\n    ### BEGIN SOLUTION\n    return len([v for v in values if v > THRESHOLD])\n"
        "    ### END SOLUTION\n\n"
        "def save(name, text):\n    ### BEGIN SOLUTION\n    with open(name, 'w') as fh:\n        fh.write(text)\n"
        "    ### END SOLUTION\n\n"
        "def roll():\n    ### BEGIN SOLUTION\n    return random.randint(1, 6)\n    ### END SOLUTION\n\n"
        "def tally(words):\n    ### BEGIN SOLUTION\n    return Counter(words)\n    ### END SOLUTION",
    ),
    (
        "code tests",
        "### TEST shadow points=1\nassert sum([1, 2, 3]) == 6\nassert 'sum' in vars() and callable(sum)\n"
        "### TEST global points=1\nTHRESHOLD = 5\nassert count_above([1, 6, 7]) == 2\n"
        "### TEST files points=1\nsave('out.txt', 'hello')\nassert open('out.txt').read() == 'hello'\n"
        "### TEST seeded points=1\nrandom.seed(3)\nfirst = [roll() for _ in range(5)]\n"
        "random.seed(3)\nassert [roll() for _ in range(5)] == first\n"
        "### TEST counter points=1\nassert tally(['a', 'b', 'a']) == Counter({'a': 2, 'b': 1})",
    ),
]

IDIOMS_MAX = 16.0

# A broken submission: countdown loops forever; every other exercise is right.
IDIOMS_LOOP = {
    "countdown": "def countdown(n):\n    out = []\n    while n > 0:\n        out.append(n)\n    return out\n"
    "countdown(3)",
}


# A partly wrong submission: swap keeps the order, pop takes from the bottom.
def partial(solution: dict[str, str]) -> dict[str, str]:
    answers = dict(solution)
    answers["point"] = solution["point"].replace(
        "return Pair(p.right, p.left)", "return Pair(p.left, p.right)"
    )
    answers["stack"] = solution["stack"].replace(
        "return self.items.pop()", "return self.items.pop(0)"
    )
    assert answers != solution
    return answers


IDIOMS_PARTIAL_SCORES = {"countdown": 2.0, "point": 1.0, "stack": 2.0, "newton": 3.0, "misc": 5.0}


# What real courses do with hidden tests (found by the parity run on public course notebooks):
# a hidden test binds an input the instructor's own function reads as a global (HSE numerical
# methods); a name bound in a hidden part is read by a later hidden test (Michigan Physics 260
# pf5); a test's visible first part binds names a later learner cell uses (Physics 260 ps1).
HIDDEN_FLOWS: list[CellSpec] = [
    ("md", "# Hidden tests as real courses write them"),
    ("code setup", "import numpy as np"),
    ("md exercise=power", "# Power iteration"),
    (
        "code solution",
        "def scale_all(v):\n    ### BEGIN SOLUTION\n    return A @ v\n    ### END SOLUTION",
    ),
    (
        "code hidden-tests points=2",
        "A = np.asarray([[2, 0], [0, 3]])\nassert list(scale_all(np.array([1, 1]))) == [2, 3]\n"
        "first_scaled = [int(x) for x in scale_all(np.array([1, 0]))]",
    ),
    ("md exercise=charges", "# Charges"),
    (
        "code solution",
        "def field(a, b):\n    ### BEGIN SOLUTION\n    return b - a\n    ### END SOLUTION",
    ),
    (
        "code tests",
        "pos_1 = 1.5\npos_2 = 4.0\nassert field(pos_1, pos_2) == 2.5\n"
        "### BEGIN HIDDEN TESTS\nassert field(0, 0) == 0\n### END HIDDEN TESTS",
    ),
    ("md", "Now use the positions from the test above."),
    (
        "code solution",
        "### BEGIN SOLUTION\nboth = field(pos_1, pos_2) * 2\n### END SOLUTION",
    ),
    ("code tests", "assert both == 5.0"),
    ("code hidden-tests", "assert first_scaled == [2, 0]"),
]
HIDDEN_FLOWS_MAX = 5.0
