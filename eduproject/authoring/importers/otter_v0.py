"""otter-assign v0 masters (markdown-based), read as the v1 layout.

In the v0 format a question is a markdown cell holding a fenced block::

    ```
    BEGIN QUESTION
    name: q1
    points: 2
    ```

followed by its solution (the next cell: code, or for a manual question a markdown cell
starting with ``**SOLUTION**``; a manual question may put a markdown prompt first) and its
test cells (code cells whose first line is ``# TEST`` / ``# HIDDEN TEST`` / ``## Test ##`` or a
test config). The question ends at the first cell after that which is not a test. The
assignment config is a fenced ``BEGIN ASSIGNMENT`` block in a markdown cell.

:func:`upgrade_v0` rewrites such cells into v1 boundary cells (raw ``# BEGIN QUESTION`` ...),
which the v1 importer then reads: the same layout otter's own v0-to-v1 converter produces.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from eduproject.authoring.importers.base import Conversion, Source, cell_source

_TEST_HEADER = re.compile(
    r"(##\s*(hidden\s*)?test\s*##|#\s*(hidden\s*)?test\b|\"\"?\"?\s*#\s*BEGIN\s*TEST\s*CONFIG)",
    re.IGNORECASE,
)
_TEST_CONFIG = re.compile(r"\"\"?\"?\s*#\s*BEGIN\s*TEST\s*CONFIG", re.IGNORECASE)
_MD_SOLUTION = re.compile(r"(<strong>|\*{2})solution:?(</strong>|\*{2})", re.IGNORECASE)


def upgrade_v0(source: Source, out: Conversion) -> Source:
    """``source`` unchanged when it is a v1 master; else its cells in the v1 layout (noted)."""
    if not any(_fenced(c, "question") or _fenced(c, "assignment") for c in source.cells):
        return source
    cells: list[dict[str, Any]] = []
    config: dict[str, Any] | None = None  # the open question's config
    answered = tests = False
    for cell in source.cells:
        if config is not None and not answered and _fenced(cell, "question") is None:
            answered = True
            manual = bool(config.get("manual"))
            if manual and _is_markdown(cell) and not _MD_SOLUTION.search(cell_source(cell)):
                cells += [_raw("# BEGIN PROMPT"), cell, _raw("# END PROMPT")]
                answered = False  # the solution comes next
            elif _is_test(cell):
                cells += [_raw("# BEGIN TESTS"), _test_cell(cell)]
                tests = True
            else:
                cells += [_raw("# BEGIN SOLUTION"), cell, _raw("# END SOLUTION")]
            continue
        if config is not None and _is_test(cell):
            if not tests:
                cells.append(_raw("# BEGIN TESTS"))
                tests = True
            cells.append(_test_cell(cell))
            continue
        if config is not None:
            cells += [_raw("# END TESTS")] if tests else []
            cells.append(_raw("# END QUESTION"))
            config = None
        if (spec := _fenced(cell, "assignment")) is not None:
            cells.append(_raw("\n".join(["# ASSIGNMENT CONFIG", *spec[1]])))
        elif (spec := _fenced(cell, "question")) is not None:
            rest, lines = spec
            cells.append(_raw("\n".join(["# BEGIN QUESTION", *lines])))
            cells.append({**cell, "source": "\n".join(rest)})
            loaded = _load(lines)
            config, answered, tests = loaded, False, False
        else:
            cells.append(cell)
    if config is not None:
        cells += [_raw("# END TESTS")] if tests else []
        cells.append(_raw("# END QUESTION"))
    out.problem(
        None,
        "otter v0 master (questions in markdown code blocks): read in the v1 layout, as "
        "`otter assign` converts it; cell numbers in these notes count the v1 layout's cells",
    )
    return Source(source.path, {**source.notebook, "cells": cells})


def _fenced(cell: dict[str, Any], kind: str) -> tuple[list[str], list[str]] | None:
    """For a markdown cell with a fenced ``BEGIN <KIND>`` block: (the other lines, the YAML
    lines of the block); else None."""
    if cell.get("cell_type") != "markdown":
        return None
    lines = cell_source(cell).split("\n")
    for i in range(1, len(lines)):
        if lines[i].strip().upper() == f"BEGIN {kind.upper()}" and lines[i - 1].strip().startswith(
            "```"
        ):
            end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == "```"), None)
            if end is None:
                return None
            return lines[: i - 1] + lines[end + 1 :], lines[i + 1 : end]
    return None


def _load(lines: list[str]) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load("\n".join(lines))
    except yaml.YAMLError:
        return {}  # the v1 reader reports the broken YAML with its cell
    return loaded if isinstance(loaded, dict) else {}


def _is_markdown(cell: dict[str, Any]) -> bool:
    return cell.get("cell_type") == "markdown"


def _is_test(cell: dict[str, Any]) -> bool:
    if cell.get("cell_type") != "code":
        return False
    first = cell_source(cell).lstrip("\n").split("\n", 1)[0]
    return bool(_TEST_HEADER.match(first.strip()))


def _test_cell(cell: dict[str, Any]) -> dict[str, Any]:
    """A v0 test cell in v1 form: the header line dropped (``# HIDDEN`` for a hidden test)."""
    lines = cell_source(cell).lstrip("\n").split("\n")
    if _TEST_CONFIG.match(lines[0].strip()):
        return cell
    body = lines[1:]
    if "hidden" in lines[0].lower():
        body = ["# HIDDEN", *body]
    return {**cell, "source": "\n".join(body)}


def _raw(text: str) -> dict[str, Any]:
    return {"cell_type": "raw", "metadata": {}, "source": text}
