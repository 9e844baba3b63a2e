"""otter's client code in a master notebook, recognised and removed on import.

Masters often carry what otter's learner notebooks run: ``import otter``,
``grader = otter.Notebook(...)``, ``grader.check("q1")``, ``grader.check_all()``,
``grader.export(...)``, ``%pip install otter-grader``. eduproject's release puts its own cells in
their place (a start cell, and a tutor panel with **Check** under each exercise;
``eduproject.check("q1")`` does the same in code), so these statements are removed, each
reported with its eduproject equivalent. A cell left without code is dropped.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from eduproject.authoring.importers.base import Conversion, Source, cell_source

# read_structure leaves cells starting with this line out, as otter does.
_LEFT_OUT = "## Ignore ##"

# Statements on grader objects and what replaces them in eduproject.
_GRADER_CALLS = {
    "check": 'the tutor panel\'s Check under the exercise (in code: eduproject.check("{q}"))',
    "check_all": "the Check button of each exercise's tutor panel",
    "export": "learners hand in the notebook itself (`eduproject grade` collects it)",
    "to_pdf": "eduproject makes no PDFs",
    "submit": "learners hand in the notebook itself (`eduproject grade` collects it)",
    "run_plugin": "otter plugins have no eduproject counterpart",
    "add_plugin_files": "otter plugins have no eduproject counterpart",
}
_OTTER_INSTALL = re.compile(r"^\s*[%!]\s*pip3?\s+install\b.*\botter-grader\b", re.IGNORECASE)
_MAGIC = re.compile(r"^\s*(?:%|!)")


@dataclass
class Stripped:
    """A code cell without its otter client statements; ``removed`` says what went, and why."""

    code: str
    removed: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return bool(self.removed) and not any(
            line.strip() and not line.strip().startswith("#") for line in self.code.split("\n")
        )


def strip_client_code(code: str) -> Stripped:
    """Remove otter client statements from one code cell.

    >>> strip_client_code('import otter\\ngrader = otter.Notebook()\\nx = 1').code
    'x = 1'
    """
    lines = code.split("\n")
    drop: set[int] = set()  # 0-based line numbers
    removed: list[str] = []
    for number, line in enumerate(lines):
        if _OTTER_INSTALL.match(line):
            drop.add(number)
            removed.append(f"`{line.strip()}` (eduproject needs no otter package)")
    # Magic lines do not parse: blank them (same line numbers) to read the Python statements.
    parsable = "\n".join("" if _MAGIC.match(line) else line for line in lines)
    try:
        tree = ast.parse(parsable)
    except SyntaxError:
        return Stripped("\n".join(line for n, line in enumerate(lines) if n not in drop), removed)
    graders = {"grader"}
    for node in tree.body:
        why = _client_statement(node, graders)
        if why is None:
            continue
        end = node.end_lineno or node.lineno
        drop.update(range(node.lineno - 1, end))
        text = ast.get_source_segment(parsable, node) or ast.unparse(node)
        removed.append(f"`{' '.join(text.split())}` ({why})")
    kept = [line for n, line in enumerate(lines) if n not in drop]
    while kept and not kept[-1].strip():
        kept.pop()
    while kept and not kept[0].strip():
        kept.pop(0)
    return Stripped("\n".join(kept), removed)


def _client_statement(node: ast.stmt, graders: set[str]) -> str | None:
    """Why ``node`` is otter client code to remove, or None when it is not."""
    if isinstance(node, ast.Import) and all(a.name.split(".")[0] == "otter" for a in node.names):
        return "eduproject needs no otter package"
    if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "otter":
        return "eduproject needs no otter package"
    if isinstance(node, ast.Assign) and _is_notebook_call(node.value):
        graders.update(t.id for t in node.targets if isinstance(t, ast.Name))
        return "release adds eduproject's start cell"
    value = node.value if isinstance(node, ast.Expr | ast.Assign) else None
    if not isinstance(value, ast.Call) or not isinstance(value.func, ast.Attribute):
        return None
    owner = value.func.value
    if not (isinstance(owner, ast.Name) and owner.id in graders):
        return None
    method = value.func.attr
    if method not in _GRADER_CALLS:
        return None
    question = ""
    if value.args and isinstance(value.args[0], ast.Constant):
        question = str(value.args[0].value)
    return _GRADER_CALLS[method].format(q=question)


def _is_notebook_call(value: ast.expr) -> bool:
    if not isinstance(value, ast.Call):
        return False
    func = value.func
    return (
        isinstance(func, ast.Attribute)
        and func.attr == "Notebook"
        and isinstance(func.value, ast.Name)
        and func.value.id == "otter"
    ) or (isinstance(func, ast.Name) and func.id == "Notebook")


def strip_client_cells(source: Source, out: Conversion) -> Source:
    """``source`` with otter client code removed from its code cells (reported, grouped);
    a cell left without code becomes an ``## Ignore ##`` cell, which the importer leaves out
    (cell numbers stay those of the source)."""
    cells = []
    for index, cell in enumerate(source.cells):
        if cell["cell_type"] != "code":
            cells.append(cell)
            continue
        stripped = strip_client_code(cell_source(cell))
        for what in stripped.removed:
            out.problem(
                index,
                f"otter client code removed: {what}",
                group="otter client statements removed (release adds eduproject's own cells)",
                item=what.split("` (")[0] + "`",
            )
        if not stripped.removed:
            cells.append(cell)
        else:
            text = _LEFT_OUT if stripped.empty else stripped.code
            cells.append({**cell, "source": text})
    return Source(source.path, {**source.notebook, "cells": cells})
