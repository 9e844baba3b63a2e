"""otter-assign solution cells -> our solution regions.

otter's jAssign-style markers become our ``### BEGIN SOLUTION`` regions:

- ``x = 4  # SOLUTION`` -> a one-line region (consecutive marked lines at one indentation
  share a region), preceded by the comment ``# x = ...`` because otter's learner stub
  ``x = ...`` showed the name to assign and our stub does not;
- ``# BEGIN SOLUTION`` / ``# END SOLUTION`` (also ``NO PROMPT``) -> a region;
- ``\"\"\" # BEGIN PROMPT`` ... ``\"\"\" # END PROMPT`` -> its lines as comments (we have no
  custom learner text);
- ``# SEED`` lines are kept as ordinary code; ``# IGNORE`` lines and blocks are dropped, as
  otter drops them from both of its notebooks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_ASSIGNMENT = re.compile(r"(\s*(?:[\w.]+(?:\[['\"].*['\"]\])*(?:,\s*)?)+\s*=).*?#\s?SOLUTION\s*$")
_SOLUTION_LINE = re.compile(r"#\s?SOLUTION(?: NO PROMPT)?\s*$")
_BEGIN_SOLUTION = re.compile(r"(\s*)# BEGIN SOLUTION( NO PROMPT)?\s*$")
_END_SOLUTION = re.compile(r"#\s*END SOLUTION\s*$")
_BEGIN_IGNORE = re.compile(r"\s*#\s*BEGIN\s*IGNORE\s*$", re.IGNORECASE)


class CodeError(Exception):
    """A cell otter itself would reject; the caller adds file and cell to the message."""

    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.fix = fix


@dataclass
class Converted:
    """Converted code and what it lost on the way (each note: what and why)."""

    code: str
    regions: int = 0
    notes: list[str] = field(default_factory=list)


def drop_ignored(text: str) -> str:
    """Remove ``# IGNORE`` lines and ``# BEGIN IGNORE`` / ``# END IGNORE`` blocks."""
    out: list[str] = []
    inside = False
    for number, line in enumerate(text.split("\n"), start=1):
        stripped = line.rstrip()
        if stripped.endswith("# END IGNORE"):
            if not inside:
                raise CodeError(
                    f"`# END IGNORE` on line {number} without `# BEGIN IGNORE`", "pair the markers"
                )
            inside = False
        elif _BEGIN_IGNORE.match(line):
            if inside:
                raise CodeError(
                    f"nested `# BEGIN IGNORE` on line {number}", "close the first block first"
                )
            inside = True
        elif not inside and not stripped.endswith("# IGNORE"):
            out.append(line)
    if inside:
        raise CodeError("a `# BEGIN IGNORE` block is never closed", "add `# END IGNORE`")
    return "\n".join(out)


def convert_solution(text: str) -> Converted:
    """Rewrite otter's solution markers in one code cell as our regions."""
    result = Converted("")
    out: list[str] = []
    pending: tuple[str, list[str], list[str]] | None = None  # indent, lines, name hints
    block_indent: str | None = None  # inside # BEGIN SOLUTION
    block_lines = 0
    prompt_indent: str | None = None  # inside a BEGIN PROMPT string

    def flush() -> None:
        nonlocal pending
        if pending is not None:
            indent, lines, hints = pending
            out.extend(f"{indent}# {hint} ..." for hint in hints)
            out.extend([f"{indent}### BEGIN SOLUTION", *lines, f"{indent}### END SOLUTION"])
            result.regions += 1
            pending = None

    for number, line in enumerate(drop_ignored(text).split("\n"), start=1):
        stripped = line.rstrip()
        indent = line[: len(line) - len(line.lstrip())]
        if prompt_indent is not None:
            if stripped.endswith("# END PROMPT"):
                prompt_indent = None
            else:
                out.append(_as_comment(line, prompt_indent))
            continue
        if block_indent is not None:
            if _END_SOLUTION.search(stripped):
                if block_lines == 0:
                    out.append(f"{block_indent}pass")  # our format needs something to stub
                out.append(f"{block_indent}### END SOLUTION")
                block_indent = None
            elif _BEGIN_SOLUTION.match(line):
                raise CodeError(
                    f"nested `# BEGIN SOLUTION` on line {number}", "close the first block first"
                )
            else:
                block_lines += bool(line.strip())
                out.append(
                    _SOLUTION_LINE.sub("", stripped).rstrip()
                    if _SOLUTION_LINE.search(stripped)
                    else line
                )
            continue
        if stripped.endswith("# BEGIN PROMPT"):
            flush()
            prompt_indent = indent
            result.notes.append(
                f"line {number}: the `# BEGIN PROMPT` text is kept as comments (eduproject "
                "shows its own stub, not custom learner code)"
            )
            continue
        begin = _BEGIN_SOLUTION.match(line)
        if begin:
            flush()
            block_indent, block_lines = begin.group(1), 0
            out.append(f"{block_indent}### BEGIN SOLUTION")
            if begin.group(2):
                result.notes.append(
                    f"line {number}: `# BEGIN SOLUTION NO PROMPT`: learners see eduproject's "
                    "stub here, where otter showed nothing"
                )
            result.regions += 1
            continue
        if _END_SOLUTION.search(stripped):
            raise CodeError(
                f"`# END SOLUTION` on line {number} without `# BEGIN SOLUTION`", "pair the markers"
            )
        if stripped.endswith("# SEED"):
            flush()
            out.append(stripped.removesuffix("# SEED").rstrip())
            result.notes.append(
                f"line {number}: `# SEED` line kept as ordinary code, visible to learners "
                "(eduproject does not reseed between cells)"
            )
            continue
        if _SOLUTION_LINE.search(stripped):
            assignment = _ASSIGNMENT.match(stripped)
            code = _SOLUTION_LINE.sub("", stripped).rstrip()
            if pending is not None and pending[0] != indent:
                flush()
            if pending is None:
                pending = (indent, [], [])
            pending[1].append(code)
            if assignment and "NO PROMPT" not in stripped:
                pending[2].append(assignment.group(1).strip())
            continue
        flush()
        out.append(line)
    flush()
    if block_indent is not None:
        raise CodeError(
            "a `# BEGIN SOLUTION` block is never closed", "add `# END SOLUTION` after it"
        )
    if prompt_indent is not None:
        raise CodeError("a `# BEGIN PROMPT` block is never closed", "add the `# END PROMPT` line")
    result.code = "\n".join(out)
    return result


def learner_version(text: str) -> str:
    """otter's own learner version of a solution cell (``...`` stubs), for cells we keep as
    context because eduproject cannot grade them (manually graded questions)."""
    out: list[str] = []
    inside = False
    for line in drop_ignored(text).split("\n"):
        stripped = line.rstrip()
        if any(
            stripped.endswith(s)
            for s in ("# SOLUTION NO PROMPT", "# BEGIN PROMPT", "# END PROMPT", "# SEED")
        ):
            continue
        if inside:
            inside = not stripped.endswith("# END SOLUTION")
            continue
        begin = _BEGIN_SOLUTION.match(line)
        if begin:
            inside = True
            if not begin.group(2):
                out.append(f"{begin.group(1)}...")
            continue
        assignment = _ASSIGNMENT.match(stripped)
        if assignment:
            out.append(f"{assignment.group(1)} ...")
        elif _SOLUTION_LINE.search(stripped):
            out.append(f"{line[: len(line) - len(line.lstrip())]}...")
        else:
            out.append(line)
    return "\n".join(out)


def _as_comment(line: str, indent: str) -> str:
    if not line.strip() or line.strip().startswith("#"):
        return line.rstrip()
    body = line[len(indent) :] if line.startswith(indent) else line.lstrip()
    return f"{indent}# {body.rstrip()}"
