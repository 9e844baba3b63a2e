"""Code that can never run, and loops that count away from their end: more of the offline
tutor's eyes (see :mod:`static_checks`, which merges these findings with its own).

- a line after ``return``/``raise``/``break``/``continue`` in the same block;
- a branch whose condition is always false (``if False:``), repeats an earlier one, or is
  already caught by an earlier branch of the same ``if``/``elif`` chain
  (``if score >= 70: ... elif score >= 80:``);
- a ``while i < n`` loop whose counter only goes down (or ``i > n`` only up), and a ``for``
  loop that appends to the list it walks through: neither ends.

    >>> [f.kind for f in unreachable_findings("def f(x):\\n    return x\\n    print(x)\\n")]
    ['never-runs']
"""

from __future__ import annotations

import ast
import itertools
import operator
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from eduproject.tutor.static_checks import Finding

_ENDS = (ast.Return, ast.Raise, ast.Break, ast.Continue)
_WORD = {ast.Return: "return", ast.Raise: "raise", ast.Break: "break", ast.Continue: "continue"}


def unreachable_findings(tree: ast.AST | str) -> list[Finding]:
    """Findings of kinds ``never-runs`` and ``endless-loop`` (see the module docstring)."""
    if isinstance(tree, str):
        tree = ast.parse(tree)
    return [*_after_exit(tree), *_dead_branches(tree), *_runaway_loops(tree)]


def _finding(kind: str, line: int, message: str) -> Finding:
    from eduproject.tutor.static_checks import Finding

    return Finding(kind, line, message)


def _blocks(tree: ast.AST) -> Iterator[list[ast.stmt]]:
    for node in ast.walk(tree):
        for name in ("body", "orelse", "finalbody"):
            block = getattr(node, name, None)
            if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                yield block
        for handler in getattr(node, "handlers", ()):
            yield handler.body


def _after_exit(tree: ast.AST) -> list[Finding]:
    found = []
    for block in _blocks(tree):
        for first, second in itertools.pairwise(block):
            if isinstance(first, _ENDS):
                word = _WORD[type(first)]
                found.append(
                    _finding(
                        "never-runs",
                        second.lineno,
                        f"Line {second.lineno} can never run: the `{word}` on line "
                        f"{first.lineno} always leaves this block first. Move the line above "
                        f"the `{word}`, or indent the `{word}` under a condition.",
                    )
                )
                break
    return found


def _dead_branches(tree: ast.AST) -> list[Finding]:
    found = []
    chains = [n for n in ast.walk(tree) if isinstance(n, ast.If)]
    inner = {
        id(n.orelse[0]) for n in chains if len(n.orelse) == 1 and isinstance(n.orelse[0], ast.If)
    }
    for head in chains:
        if id(head) in inner:
            continue  # an `elif`: judged as part of the chain its `if` starts
        earlier: list[ast.expr] = []
        node: ast.If | None = head
        while node is not None:
            message = _dead_because(node.test, earlier)
            if message:
                found.append(_finding("never-runs", node.lineno, message))
            earlier.append(node.test)
            nxt = node.orelse
            node = nxt[0] if len(nxt) == 1 and isinstance(nxt[0], ast.If) else None
    for loop in (n for n in ast.walk(tree) if isinstance(n, ast.While)):
        if _always_false(loop.test):
            found.append(
                _finding(
                    "never-runs",
                    loop.lineno,
                    f"The loop on line {loop.lineno} never runs: its condition "
                    f"`{ast.unparse(loop.test)}` is false from the start.",
                )
            )
    return found


def _dead_because(test: ast.expr, earlier: list[ast.expr]) -> str | None:
    shown = f"`{ast.unparse(test)}` (line {test.lineno})"
    if _always_false(test):
        return f"The branch {shown} never runs: that condition is always false."
    for before in earlier:
        if ast.dump(before) == ast.dump(test):
            return (
                f"The branch {shown} never runs: the same condition is already tested above "
                "it, and Python takes only the first branch that matches."
            )
        if _implies(test, before):
            return (
                f"The branch {shown} never runs: every value it catches is already caught by "
                f"`{ast.unparse(before)}` above it, and Python takes only the first branch "
                "that matches. Test the narrower condition first."
            )
    return None


def _always_false(test: ast.expr) -> bool:
    return isinstance(test, ast.Constant) and not test.value


_FLIP = {ast.Gt: ast.Lt, ast.GtE: ast.LtE, ast.Lt: ast.Gt, ast.LtE: ast.GtE, ast.Eq: ast.Eq}


def _bound(test: ast.expr) -> tuple[str, type[ast.cmpop], float] | None:
    """``(name, op, number)`` for ``x > 3`` or ``3 < x`` (numbers only), else None."""
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1):
        return None
    left, op, right = test.left, type(test.ops[0]), test.comparators[0]
    if op not in _FLIP:
        return None
    if isinstance(right, ast.Name) and _number(left) is not None:
        left, right, op = right, left, _FLIP[op]
    value = _number(right)
    if isinstance(left, ast.Name) and value is not None:
        return left.id, op, value
    return None


def _number(node: ast.expr) -> float | None:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _number(node.operand)
        return -inner if inner is not None else None
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return None if isinstance(node.value, bool) else float(node.value)
    return None


# later implies earlier: (earlier op, later op) -> how the later bound must relate to the earlier
_IMPLIED: dict[tuple[type[ast.cmpop], type[ast.cmpop]], Callable[[float, float], bool]] = {
    (ast.Gt, ast.Gt): operator.ge,
    (ast.Gt, ast.GtE): operator.gt,
    (ast.Gt, ast.Eq): operator.gt,
    (ast.GtE, ast.Gt): operator.ge,
    (ast.GtE, ast.GtE): operator.ge,
    (ast.GtE, ast.Eq): operator.ge,
    (ast.Lt, ast.Lt): operator.le,
    (ast.Lt, ast.LtE): operator.lt,
    (ast.Lt, ast.Eq): operator.lt,
    (ast.LtE, ast.Lt): operator.le,
    (ast.LtE, ast.LtE): operator.le,
    (ast.LtE, ast.Eq): operator.le,
}


def _implies(later: ast.expr, earlier: ast.expr) -> bool:
    """Whether every value making ``later`` true also makes ``earlier`` true."""
    a, b = _bound(earlier), _bound(later)
    if a is None or b is None or a[0] != b[0]:
        return False
    check = _IMPLIED.get((a[1], b[1]))
    return check is not None and check(b[2], a[2])


def _runaway_loops(tree: ast.AST) -> list[Finding]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.While):
            message = _counts_away(node)
            if message:
                found.append(_finding("endless-loop", node.lineno, message))
        elif (
            isinstance(node, ast.For)
            and isinstance(node.iter, ast.Name)
            and any(_grows(n, node.iter.id) for n in ast.walk(node))
        ):
            found.append(
                _finding(
                    "endless-loop",
                    node.lineno,
                    f"The `for` loop on line {node.lineno} adds to `{node.iter.id}` while it "
                    f"walks through `{node.iter.id}`: the list grows as fast as the loop moves, "
                    "so it never ends. Build a new list instead.",
                )
            )
    return found


def _grows(node: ast.AST, name: str) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("append", "extend", "insert")
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == name
    )


def _counts_away(loop: ast.While) -> str | None:
    test = loop.test
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1):
        return None
    if not isinstance(test.left, ast.Name):
        return None
    name, op = test.left.id, type(test.ops[0])
    if op not in (ast.Lt, ast.LtE, ast.Gt, ast.GtE):
        return None
    steps = [step for n in ast.walk(loop) if (step := _step_of(n, name)) is not None]
    others = [
        n
        for n in ast.walk(loop)
        if isinstance(n, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == name for t in n.targets)
        and _step_of(n, name) is None
    ]
    if not steps or others:
        return None
    rising = {_direction(s) for s in steps}
    upward = op in (ast.Lt, ast.LtE)  # the loop ends once `name` grows past the bound
    if rising == {not upward}:
        way = "down" if upward else "up"
        return (
            f"The loop on line {loop.lineno} runs while `{ast.unparse(test)}`, but `{name}` only "
            f"goes {way}, away from the end: the condition stays true and the loop never ends."
        )
    return None


def _step_of(node: ast.AST, name: str) -> ast.AugAssign | None:
    """``i += 1`` as it is, and ``i = i - 1`` read as ``i -= 1``; None for anything else."""
    if (
        isinstance(node, ast.AugAssign)
        and isinstance(node.target, ast.Name)
        and node.target.id == name
        and _number(node.value) is not None
    ):
        return node
    if (
        isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Name)
        and node.targets[0].id == name
        and isinstance(node.value, ast.BinOp)
        and isinstance(node.value.left, ast.Name)
        and node.value.left.id == name
        and _number(node.value.right) is not None
    ):
        return ast.AugAssign(target=node.targets[0], op=node.value.op, value=node.value.right)
    return None


def _direction(step: ast.AugAssign) -> bool:
    """True when the step makes the name bigger (``+= 1``, ``-= -1``)."""
    value = _number(step.value) or 0.0
    if isinstance(step.op, ast.Add):
        return value > 0
    if isinstance(step.op, ast.Sub):
        return value < 0
    if isinstance(step.op, ast.Mult):
        return value > 1
    return False
