"""Small slips made on purpose: the one place that writes known-wrong code.

A mutant changes one thing, the kind of slip beginners make: an off-by-one bound, ``<`` for
``<=``, ``and`` for ``or``, a dropped statement, a forgotten ``return`` value. Used where a
known-wrong attempt is needed, in two forms:

- :func:`mutants`: every single change of a solution region's syntax tree, subtle kinds
  first (``validate --mutants``: do a lesson's tests catch these slips?; the benchmark's
  hint task);
- :func:`slips`: one line of an answer rewritten as a beginner writes it, the rest of the
  learner's text untouched, comments and layout included (the simulated class's
  ``partial`` learners, whose notebooks people read).

    >>> [m.kind for m in mutants("if x < 0:\\n    return -x\\nreturn x")][:2]
    ['compare', 'negate']
    >>> [m.description for m in slips(["def f(n):", "    return n > 0"], [(1, 2)])][-1]
    'boundary wrong (> became >=)'
"""

from __future__ import annotations

import ast
import copy
import re
import textwrap
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

__all__ = ["Mutant", "mutants", "slips"]

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


# -- beginner slips, line by line ---------------------------------------------------------

# Each rewrites one line of an answer the way beginners get it wrong; None when it does not apply.
_LineBug = tuple[str, Callable[[str], str | None]]


def _sub(pattern: str, repl: str) -> Callable[[str], str | None]:
    def apply(line: str) -> str | None:
        new = re.sub(pattern, repl, line, count=1)
        return new if new != line else None

    return apply


def _range_off_by_one(line: str) -> str | None:
    match = re.search(r"range\(([^()]*(?:\([^()]*\)[^()]*)*)\)", line)
    if match is None:
        return None
    inner = match.group(1)
    fixed = inner[: -len(" + 1")] if inner.endswith(" + 1") else inner + " - 1"
    return line[: match.start(1)] + fixed + line[match.end(1) :]


_BUGS: tuple[_LineBug, ...] = (
    ("off-by-one in range()", _range_off_by_one),
    ("prints the answer instead of returning it", _sub(r"^(\s*)return (.+)$", r"\1print(\2)")),
    ("forgot the return keyword", _sub(r"^(\s*)return (.+)$", r"\1\2")),
    ("boundary left out (>= became >)", _sub(r" >= ", " > ")),
    ("boundary wrong (> became >=)", _sub(r" > ", " >= ")),
    ("boundary left out (<= became <)", _sub(r" <= ", " < ")),
    ("flipped comparison (== became !=)", _sub(r" == ", " != ")),
    ("flipped comparison (!= became ==)", _sub(r" != ", " == ")),
    ("'and' where 'or' was needed", _sub(r" and ", " or ")),
    ("'or' where 'and' was needed", _sub(r" or ", " and ")),
    ("forgot to round", _sub(r"\bround\((.+), 1\)", r"\1")),
    ("forgot to round", _sub(r"\.round\(1\)", "")),
    ("starts counting at 1 instead of 0", _sub(r"^(\s*\w+) = 0$", r"\1 = 1")),
    ("starts the product at 0 instead of 1", _sub(r"^(\s*\w+) = 1$", r"\1 = 0")),
)


def slips(lines: Sequence[str], regions: Sequence[tuple[int, int]]) -> Iterator[Mutant]:
    """Every compiling variant of ``lines`` with one line inside ``regions`` (half-open line
    ranges: the learner's answer) rewritten by a beginner slip; ``code`` is all the lines,
    ``description`` names the slip."""
    for start, end in regions:
        for number in range(start, end):
            for label, bug in _BUGS:
                new = bug(lines[number])
                if new is None:
                    continue
                changed = list(lines)
                changed[number] = new
                source = "\n".join(changed)
                if _compiles(source):
                    yield Mutant("slip", label, source)


def _compiles(source: str) -> bool:
    try:
        compile(source, "<submission>", "exec")
    except SyntaxError:
        return False
    return True
