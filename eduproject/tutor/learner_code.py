"""Find the learner's latest executed code for an exercise in the kernel's input history.

The rule (documented in docs/learner.md): an exercise's **names** are the top-level functions,
classes and variables its stub defines (``def sum_evens`` -> ``sum_evens``). An executed cell
**belongs** to the exercise when it defines one of those names at top level. For each name the
latest executed cell that defines it wins; the exercise's code is those cells, oldest first,
without repeats. Cells that do not parse (a syntax error is exactly what a learner wants
explained) are matched line by line instead. The panel's own cell, test cells and cells that
only *call* the function define none of the names, so they never count.

    names = stub_names("def sum_evens(numbers):\\n    raise NotImplementedError()\\n")
    latest_code(["x = 1", "def sum_evens(numbers):\\n    return 0"], names)
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Sequence

__all__ = ["defined_names", "latest_code", "stub_names"]


def stub_names(stub: str) -> frozenset[str]:
    """Top-level names a stub defines (its functions, classes, and assigned variables)."""
    return defined_names(stub)


def defined_names(source: str) -> frozenset[str]:
    """Top-level names ``source`` defines; falls back to a line scan when it does not parse."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return _scan_lines(source)
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                names.update(_target_names(target))
        elif isinstance(node, ast.AnnAssign | ast.AugAssign):
            names.update(_target_names(node.target))
    return frozenset(names)


def _target_names(target: ast.expr) -> Iterable[str]:
    if isinstance(target, ast.Name):
        yield target.id
    elif isinstance(target, ast.Tuple | ast.List):
        for element in target.elts:
            yield from _target_names(element)
    elif isinstance(target, ast.Starred):
        yield from _target_names(target.value)


_DEF_LINE = re.compile(r"^(?:async\s+def|def|class)\s+([A-Za-z_]\w*)")
_ASSIGN_LINE = re.compile(r"^([A-Za-z_]\w*)\s*(?::[^=]*)?(?:[-+*/%&|^@]|//|\*\*|<<|>>)?=(?!=)")


def _scan_lines(source: str) -> frozenset[str]:
    names: set[str] = set()
    for line in source.splitlines():
        match = _DEF_LINE.match(line) or _ASSIGN_LINE.match(line)
        if match:
            names.add(match.group(1))
    return frozenset(names)


def latest_code(history: Sequence[str], names: Iterable[str]) -> str | None:
    """The exercise's code from executed cells ``history`` (oldest first), or None if not run."""
    wanted = set(names)
    if not wanted:
        return None
    latest: dict[str, int] = {}
    for index, source in enumerate(history):
        for name in defined_names(source) & wanted:
            latest[name] = index
    if not latest:
        return None
    cells = sorted(set(latest.values()))
    return "\n\n".join(history[i].strip("\n") for i in cells)
