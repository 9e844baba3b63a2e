"""The block structure of an otter-assign v1 master notebook.

Boundary cells are raw cells whose first line is ``# BEGIN <BLOCK>`` / ``# END <BLOCK>``
(QUESTION, PROMPT, SOLUTION, TESTS; case-insensitive, as otter matches them) and whose other
lines are YAML. Questions hold the other blocks; blocks do not nest further. Every broken
structure stops the import naming the cell, as otter itself would stop.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from eduproject.authoring.importers.base import Conversion, Source, cell_source

_BOUNDARY = re.compile(r"#\s+(begin|end)\s+(question|prompt|solution|tests)\b", re.IGNORECASE)
_CONFIG = re.compile(r"#\s+(assignment\s+config|begin\s+assignment)\b", re.IGNORECASE)
_END_CONFIG = re.compile(r"#\s+end\s+assignment\b", re.IGNORECASE)
_IGNORE_CELL = re.compile(r"##\s*ignore\s*##", re.IGNORECASE)
QUESTION_KEYS = {"name", "points", "manual", "check_cell", "export", "all_or_nothing"}
# What the importer does with the files an otter config lists.
_BESIDE = "the files beside the master come with the lesson, for learners and grading"
CONFIG_REASONS = {
    "name": "eduproject names the lesson after its folder",
    "requirements": "install packages in the course environment instead",
    "overwrite_requirements": "install packages in the course environment instead",
    "environment": "install packages in the course environment instead",
    "init_cell": "release adds eduproject's own cells",
    "check_all_cell": "release adds eduproject's own cells",
    "export_cell": "release adds eduproject's own cells; learners submit the notebook",
    "run_tests": "run `eduproject validate` instead",
    "solutions_pdf": "eduproject makes no PDFs",
    "template_pdf": "eduproject makes no PDFs",
    "seed": "eduproject does not reseed between cells",
    "generate": "Gradescope autograder settings do not apply; `eduproject grade` grades here",
    "save_environment": "eduproject grades by re-running submissions, never from saved environments",
    "variables": "eduproject grades by re-running submissions, never from saved environments",
    "ignore_modules": "eduproject grades by re-running submissions, never from saved environments",
    "files": _BESIDE,
    "autograder_files": _BESIDE,
    "plugins": "otter plugins have no eduproject counterpart",
    "tests": "tests live in the notebook; exception-based tests are recognised by their shape",
    "runs_on": "eduproject notebooks run in Jupyter",
    "python_version": "the course environment sets the Python version",
    "student_files": _BESIDE,
    "show_question_points": "learners see points in eduproject's own panel",
    "config_file": "put the settings in this cell; eduproject reads no otter config files",
}


@dataclass
class Question:
    index: int  # the `# BEGIN QUESTION` cell
    name: str
    config: dict[str, Any]
    # (block, source cell index) for each cell inside the question; block "" = description
    members: list[tuple[str, int]] = field(default_factory=list)

    @property
    def manual(self) -> bool:
        return bool(self.config.get("manual", False))

    def cells_in(self, block: str) -> list[int]:
        return [i for b, i in self.members if b == block]


def read_structure(source: Source, out: Conversion) -> list[Question | int]:
    """Walk the boundary cells; return top-level cell indices and questions in order."""
    items: list[Question | int] = []
    stack: list[tuple[str, int]] = []  # open blocks: (block, cell index)
    question: Question | None = None
    names: dict[str, int] = {}
    for index, cell in enumerate(source.cells):
        text = cell_source(cell)
        first = text.split("\n", 1)[0].strip()
        if _IGNORE_CELL.match(first):
            continue  # otter leaves `## Ignore ##` cells out of both notebooks
        if cell["cell_type"] == "raw" and _CONFIG.match(first):
            _assignment_config(source, index, text, out)
            continue
        if cell["cell_type"] == "raw" and _END_CONFIG.match(first):
            continue
        boundary = _BOUNDARY.match(first) if cell["cell_type"] == "raw" else None
        if boundary is None:
            if question is None:
                items.append(index)
            else:
                question.members.append((stack[-1][0] if len(stack) > 1 else "", index))
            continue
        action, block = boundary.group(1).lower(), boundary.group(2).lower()
        if action == "begin":
            _check_begin(source, index, block, stack, question)
            if block == "question":
                question = _read_question(source, index, text, names)
                items.append(question)
            stack.append((block, index))
            continue
        if not stack:
            raise source.error(
                f"`# END {block.upper()}` without a `# BEGIN {block.upper()}` before it",
                cell=index,
                fix=f"add a raw cell `# BEGIN {block.upper()}` where the block starts, or delete this one",
            )
        open_block, opened_at = stack[-1]
        if open_block != block:
            raise source.error(
                f"`# END {block.upper()}` while the `# BEGIN {open_block.upper()}` block of cell "
                f"{opened_at} is still open",
                cell=index,
                fix=f"add a raw cell `# END {open_block.upper()}` before this one",
            )
        stack.pop()
        if block == "question":
            question = None
    if stack:
        block, opened_at = stack[0]
        name = f" (question {question.name!r})" if question is not None else ""
        raise source.error(
            f"`# BEGIN {block.upper()}`{name} is never closed: the notebook ends inside it",
            cell=opened_at,
            fix="add a raw cell `# END QUESTION` after the question's last cell"
            + (
                f" (and `# END {stack[-1][0].upper()}` for the open {stack[-1][0]} block)"
                if len(stack) > 1
                else ""
            ),
        )
    return items


def _check_begin(
    source: Source, index: int, block: str, stack: list[tuple[str, int]], question: Question | None
) -> None:
    if block == "question" and stack:
        assert question is not None
        raise source.error(
            f"`# BEGIN QUESTION` inside question {question.name!r} (begun in cell "
            f"{question.index}), which has no `# END QUESTION` yet",
            cell=index,
            fix="add a raw cell `# END QUESTION` after the last cell of the previous question",
        )
    if block != "question" and not stack:
        raise source.error(
            f"`# BEGIN {block.upper()}` outside a question",
            cell=index,
            fix="put it between `# BEGIN QUESTION` and `# END QUESTION` raw cells",
        )
    if block != "question" and len(stack) > 1:
        raise source.error(
            f"`# BEGIN {block.upper()}` inside the {stack[-1][0]} block of cell {stack[-1][1]}",
            cell=index,
            fix=f"close that block with a raw cell `# END {stack[-1][0].upper()}` first",
        )


def _yaml(source: Source, index: int, text: str, what: str) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise source.error(
            f"the {what} is not valid YAML: {' '.join(str(exc).split())}",
            cell=index,
            fix="fix the YAML (one `key: value` per line)",
        ) from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise source.error(
            f"the {what} is not a YAML mapping", cell=index, fix="write `key: value` lines"
        )
    return loaded


def _read_question(source: Source, index: int, text: str, names: dict[str, int]) -> Question:
    config = _yaml(source, index, text, "question config")
    raw_name = config.get("name")
    if raw_name is None or str(raw_name).strip() == "":
        raise source.error(
            "`# BEGIN QUESTION` without a name",
            cell=index,
            fix="add a line `name: q1` (the question's name) to the raw cell",
        )
    name = str(raw_name)
    if name in names:
        raise source.error(
            f"duplicate question name {name!r} (also used in cell {names[name]})",
            cell=index,
            fix="give every question its own name",
        )
    names[name] = index
    return Question(index, name, config)


# Assignment config keys the importer applies.
APPLIED_KEYS = frozenset({"strip_solutions_from_all_cells"})
FILE_KEYS = ("files", "autograder_files", "student_files")


def assignment_config(source: Source) -> dict[str, Any]:
    """The assignment config of the master (``# ASSIGNMENT CONFIG`` raw cell), or {}."""
    for index, cell in enumerate(source.cells):
        text = cell_source(cell)
        if cell["cell_type"] == "raw" and _CONFIG.match(text.split("\n", 1)[0].strip()):
            return _yaml(source, index, text, "assignment config")
    return {}


def _assignment_config(source: Source, index: int, text: str, out: Conversion) -> None:
    from eduproject.authoring.importers.files import check_listed

    config = _yaml(source, index, text, "assignment config")
    for key in config:
        if key in APPLIED_KEYS:
            continue
        if key in FILE_KEYS:
            for rel in check_listed(source.path, config[key], key):
                out.problem(index, f"assignment config {key} lists {rel!r}, which is not there")
        reason = CONFIG_REASONS.get(key, "not an otter key this importer knows")
        out.problem(
            index,
            f"assignment config key {key!r} ignored: {reason}",
            group="assignment config keys ignored",
            item=f"{key!r} ({reason})",
        )
