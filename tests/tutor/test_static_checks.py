"""Beginner bugs found by reading the code."""

from __future__ import annotations

import pytest

from eduproject.tutor.static_checks import static_findings, syntax_problem


def kinds(code: str) -> list[str]:
    return [f.kind for f in static_findings(code)]


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()\n", ["stub"]),
        ("def f(x):\n    print(x * 2)\n", ["print-not-return"]),
        ("def f(x):\n    y = x * 2\n", ["no-return"]),
        ("def f(x):\n    if x > 0:\n        return 1\n", ["missing-return"]),
        ("def f(x):\n    if x > 0:\n        return 1\n    else:\n        return 2\n", []),
        ("def f(x):\n    while True:\n        return x\n", []),
        ("def f(a, b):\n    return a * 2\n", ["unused-parameter"]),
        ("list = [1, 2]\ntotal = 0\n", ["shadowed-builtin"]),
        ("def f(sum):\n    return sum\n", ["shadowed-builtin"]),
        ("while True:\n    x = 1\n", ["endless-loop"]),
        ("while True:\n    if input():\n        break\n", []),
        ("i = 0\nwhile i < 3:\n    print(i)\n", ["loop-never-changes"]),
        ("i = 0\nwhile i < 3:\n    i += 1\n", []),
        ("items = [1]\nwhile items:\n    items.pop()\n", []),
        (
            "def f(xs):\n    for i in range(len(xs) + 1):\n        print(xs[i])\n    return 0\n",
            ["off-by-one"],
        ),
        (
            "def f(xs):\n    for i in range(1, len(xs)):\n        print(xs[i])\n    return 0\n",
            ["off-by-one"],
        ),
        (
            "def f(xs):\n    for i in range(len(xs) - 1):\n        print(xs[i])\n    return 0\n",
            ["off-by-one"],
        ),
        ("def f(xs):\n    return xs[len(xs)]\n", ["off-by-one"]),
        ("def f(xs):\n    for i in range(len(xs)):\n        print(xs[i])\n    return 0\n", []),
        (
            "def f(xs):\n    t = 0\n    for x in xs:\n        t += x\n        return t\n",
            ["return-in-loop"],
        ),
        (
            "def f(xs):\n    for x in xs:\n        if x:\n            return x\n    return None\n",
            [],
        ),
        ("total = 0\ntotal == total + 1\n", ["compare-not-assign"]),
        # Branches that can never run, and loops that count away from their end.
        ("def f(x):\n    return x\n    x += 1\n", ["never-runs"]),
        ("if False:\n    x = 1\n", ["never-runs"]),
        ("while 0:\n    x = 1\n", ["never-runs"]),
        ("x = 1\nif x > 5:\n    y = 1\nelif x > 9:\n    y = 2\n", ["never-runs"]),
        ("x = 1\nif x < 5:\n    y = 1\nelif x == 2:\n    y = 2\n", ["never-runs"]),
        ("x = 1\nif x == 1:\n    y = 1\nelif x == 1:\n    y = 2\n", ["never-runs"]),
        ("x = 1\nif x > 9:\n    y = 1\nelif x > 5:\n    y = 2\n", []),  # narrowest first
        ("x = 1\nif x >= 5:\n    y = 1\nif x >= 9:\n    y = 2\n", []),  # two separate ifs
        ("i = 0\nwhile i < 9:\n    i -= 1\n", ["endless-loop"]),
        ("i = 9\nwhile i > 0:\n    i += 2\n", ["endless-loop"]),
        ("i = 9\nwhile i > 0:\n    i -= 2\n", []),
        ("x = -3\nwhile x < 0:\n    x = x - 1\n", ["endless-loop"]),
        ("x = -3\nwhile x < 0:\n    x = x + 1\n", []),
        ("xs = [1]\nfor x in xs:\n    xs.append(x)\n", ["endless-loop"]),
    ],
)
def test_findings(code: str, expected: list[str]) -> None:
    assert kinds(code) == expected


def test_findings_are_ordered_by_importance_and_say_where() -> None:
    code = "def f(list, unused):\n    i = 0\n    while i < len(list):\n        print(list[i])\n"
    found = static_findings(code)
    assert [f.kind for f in found] == [
        "loop-never-changes",
        "print-not-return",
        "shadowed-builtin",
        "unused-parameter",
    ]
    assert "nothing inside it changes `i`" in found[0].message  # not `len` or `list`
    assert found[0].line == 3


def test_unparsable_code_has_no_findings_but_a_syntax_problem() -> None:
    assert static_findings("def f(:\n") == []
    problem = syntax_problem("if x > 1\n    pass\n")
    assert problem is not None and problem.lineno == 1
    assert syntax_problem("x = 1\n") is None
    assert syntax_problem("x = '\x00'") is None or True  # null bytes never raise out of it
