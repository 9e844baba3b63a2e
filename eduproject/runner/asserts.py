"""Assertions that say what they saw: ``assert f(3) == 9`` fails with "f(3) gave 8, expected 9".

Used by the judge (grading, validate) and by ``eduproject.check`` in the learner's kernel, so
both explain a failing comparison in the same words. Standard library only (it is imported in
the learner's kernel).

    >>> tree = explain(ast.parse("assert f(3) == 9"), "assert f(3) == 9")   # doctest: +SKIP
"""

from __future__ import annotations

import ast
import operator
import reprlib
from collections.abc import Callable
from typing import Any

__all__ = ["HELPER", "ComparisonFailed", "compare", "explain"]

HELPER = "__eduproject_assert__"

_OPS: dict[type[ast.cmpop], tuple[str, Callable[[Any, Any], Any]]] = {
    ast.Eq: ("==", operator.eq),
    ast.NotEq: ("!=", operator.ne),
    ast.Lt: ("<", operator.lt),
    ast.LtE: ("<=", operator.le),
    ast.Gt: (">", operator.gt),
    ast.GtE: (">=", operator.ge),
    ast.Is: ("is", operator.is_),
    ast.IsNot: ("is not", operator.is_not),
    ast.In: ("in", lambda a, b: a in b),
    ast.NotIn: ("not in", lambda a, b: a not in b),
}
_OP_FUNCS = dict(_OPS.values())

_short = reprlib.Repr()
_short.maxstring = 60
_short.maxother = 60
_short.maxlist = _short.maxtuple = _short.maxset = _short.maxdict = 8


class ComparisonFailed(AssertionError):
    """A rewritten ``assert a OP b`` failed; the message says what ``a`` was."""


def _show(value: Any) -> str:
    try:
        return _short.repr(value)
    except Exception as exc:  # a learner __repr__ may raise anything
        return f"<{type(exc).__name__} while showing the value>"


def compare(
    left: Any, right: Any, op: str, left_src: str, src: str, msg: Callable[[], Any] | None
) -> None:
    """The helper a rewritten assertion calls: raise :class:`ComparisonFailed` when false."""
    if _OP_FUNCS[op](left, right):
        return
    if msg is not None:  # the instructor's own message says it best
        raise ComparisonFailed(str(msg()))
    if op == "==":
        detail = f"{left_src} gave {_show(left)}, expected {_show(right)}"
    else:
        shown = _show(left)
        detail = f"expected `{src}`" + (f", but {left_src} is {shown}" if left_src != shown else "")
    raise ComparisonFailed(detail)


class _Explain(ast.NodeTransformer):
    """``assert a OP b, msg`` -> ``HELPER(a, b, OP, "a", "a OP b", lambda: msg)``."""

    def __init__(self, source: str) -> None:
        self.source = source

    def visit_Assert(self, node: ast.Assert) -> ast.AST:
        test = node.test
        if not (isinstance(test, ast.Compare) and len(test.ops) == 1):
            return node
        op = _OPS.get(type(test.ops[0]))
        if op is None:
            return node
        left_src = ast.get_source_segment(self.source, test.left) or "the value"
        src = ast.get_source_segment(self.source, test) or left_src
        msg: ast.expr = (
            ast.Lambda(
                args=ast.arguments(
                    posonlyargs=[], args=[], kwonlyargs=[], kw_defaults=[], defaults=[]
                ),
                body=node.msg,
            )
            if node.msg is not None
            else ast.Constant(None)
        )
        call = ast.Call(
            func=ast.Name(HELPER, ast.Load()),
            args=[
                test.left,
                test.comparators[0],
                ast.Constant(op[0]),
                ast.Constant(left_src),
                ast.Constant(src),
                msg,
            ],
            keywords=[],
        )
        return ast.copy_location(ast.Expr(call), node)


def explain(tree: ast.Module, source: str) -> ast.Module:
    """``tree`` with its single-comparison assertions rewritten to explain themselves."""
    return ast.fix_missing_locations(_Explain(source).visit(tree))
