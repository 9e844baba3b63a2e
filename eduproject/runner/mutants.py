"""Small slips made on purpose: single-change mutants of a solution region.

A mutant changes one thing, the kind of slip beginners make: an off-by-one bound, ``<`` for
``<=``, ``and`` for ``or``, a dropped statement, a forgotten ``return`` value. Used where a
known-wrong attempt is needed: ``validate --mutants`` (do a lesson's tests catch these
slips?), the benchmark's hint task and the simulated class.

    >>> [m.kind for m in mutants("if x < 0:\n    return -x\nreturn x")][:2]
    ['compare', 'negate']
"""

from __future__ import annotations

import ast
import copy
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass

__all__ = ["Mutant", "mutants"]

_COMPARE_SWAP: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}
_ARITH_SWAP: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Add,
    ast.FloorDiv: ast.Div,
    ast.Div: ast.FloorDiv,
    ast.Mod: ast.FloorDiv,
}
_METHOD_SWAP = {"lower": "upper", "upper": "lower", "append": "insert", "strip": "lstrip"}


@dataclass(frozen=True)
class Mutant:
    """One mutated solution region; ``kind`` names the slip, ``code`` is the region's code."""

    kind: str
    description: str
    code: str


Edit = Callable[[ast.AST], str | None]


def _compare(node: ast.AST) -> str | None:
    if isinstance(node, ast.Compare) and type(node.ops[0]) in _COMPARE_SWAP:
        old = node.ops[0]
        node.ops[0] = _COMPARE_SWAP[type(old)]()
        return f"`{type(old).__name__}` comparison changed"
    return None


def _negate(node: ast.AST) -> str | None:
    if isinstance(node, ast.If | ast.While):
        node.test = ast.UnaryOp(op=ast.Not(), operand=node.test)
        return "a condition negated"
    return None


def _constant(node: ast.AST) -> str | None:
    if (
        isinstance(node, ast.Constant)
        and type(node.value) is int
        and not isinstance(node.value, bool)
    ):
        node.value = node.value + 1
        return "an integer constant off by one"
    return None


def _boolop(node: ast.AST) -> str | None:
    if isinstance(node, ast.BoolOp):
        node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        return "`and`/`or` swapped"
    return None


def _arith(node: ast.AST) -> str | None:
    if isinstance(node, ast.BinOp | ast.AugAssign) and type(node.op) in _ARITH_SWAP:
        node.op = _ARITH_SWAP[type(node.op)]()
        return "an arithmetic operator changed"
    return None


def _method(node: ast.AST) -> str | None:
    if isinstance(node, ast.Attribute) and node.attr in _METHOD_SWAP:
        if node.attr == "append":
            return None  # insert() needs two arguments: that is a crash, not a slip
        node.attr = _METHOD_SWAP[node.attr]
        return "a string method swapped"
    return None


def _return_value(node: ast.AST) -> str | None:
    if isinstance(node, ast.Return) and node.value is not None and not _is_none(node.value):
        node.value = None
        return "a `return` without its value"
    return None


def _is_none(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


_EDITS: tuple[tuple[str, Edit], ...] = (
    ("compare", _compare),
    ("negate", _negate),
    ("constant", _constant),
    ("boolop", _boolop),
    ("arith", _arith),
    ("method", _method),
    ("return", _return_value),
)


def mutants(region: str) -> Iterator[Mutant]:
    """Single-change mutants of ``region`` (dedented code), subtle kinds first."""
    code = textwrap.dedent(region)
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return
    seen = {ast.unparse(tree)}
    count = sum(1 for _ in ast.walk(tree))
    for kind, edit in _EDITS:
        for index in range(count):
            variant = copy.deepcopy(tree)
            node = next(n for i, n in enumerate(ast.walk(variant)) if i == index)
            description = edit(node)
            if description is None:
                continue
            text = ast.unparse(ast.fix_missing_locations(variant))
            if text not in seen:
                seen.add(text)
                yield Mutant(kind, description, text)
    yield from _dropped_statements(tree, seen)


def _dropped_statements(tree: ast.Module, seen: set[str]) -> Iterator[Mutant]:
    """Each statement of a block left out (a missed step), where the block keeps one."""
    bodies = [
        (node, field)
        for node in ast.walk(tree)
        for field in ("body", "orelse")
        if isinstance(getattr(node, field, None), list) and len(getattr(node, field)) > 1
    ]
    for index, (_, field) in enumerate(bodies):
        for position in range(len(getattr(bodies[index][0], field))):
            variant = copy.deepcopy(tree)
            holder = [
                (n, f)
                for n in ast.walk(variant)
                for f in ("body", "orelse")
                if isinstance(getattr(n, f, None), list) and len(getattr(n, f)) > 1
            ][index][0]
            statements = getattr(holder, field)
            if isinstance(statements[position], ast.Return):
                continue  # a missing final return is the `return` kind already
            del statements[position]
            text = ast.unparse(variant)
            if text not in seen:
                seen.add(text)
                yield Mutant("drop", "a statement left out", text)
