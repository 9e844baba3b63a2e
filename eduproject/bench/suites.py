"""Benchmark suites: the exercises a benchmark asks models about, as :class:`BenchItem` s.

An item is one exercise seen as a fill-in-the-middle problem: the first solution region of
its first solution cell is the completion *target*; the cell's code before the region is the
*prefix*, after it the *suffix*. Other solution regions keep the reference code, so only
the target is written by the model. A whole-cell solution (``solution-cell``) has an empty
prefix and suffix; its prompt travels in the request's instruction (and, for FIM models,
as a comment block before the cursor).

Two kinds of suite exist:

* a course folder (``exercises/`` or one lesson in it), read with ``load_lesson``;
* ``humaneval``: the 164 HumanEval problems (see :mod:`eduproject.bench.humaneval`).

In the sample course:

    >>> items = load_suite("exercises/")
    >>> items[0].id, items[0].function
    ('01-functions/greet', 'greet')
    >>> items[0].program(items[0].target) == items[0].reference
    True
"""

from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass, replace
from pathlib import Path

from eduproject.authoring.markers import CellRef, Marker, regions, scan, without_markers
from eduproject.authoring.parse import find_lessons, load_lesson
from eduproject.core.lesson import Cell, Exercise, Lesson, Role
from eduproject.errors import ConfigError, LessonError

HUMANEVAL = "humaneval"
_DEF = re.compile(r"^[ \t]*(?:async[ \t]+)?def[ \t]+([A-Za-z_]\w*)", re.MULTILINE)


@dataclass(frozen=True)
class BenchItem:
    """One exercise as a completion problem (see the module docstring)."""

    suite: str
    lesson: Lesson
    exercise: Exercise
    cell: Cell  # the solution cell holding the target region
    prefix: str  # the cell's code before the region (ends with a newline, or is "")
    target: str  # the reference region, indented as in the cell
    suffix: str  # the cell's code after the region, from the line after END SOLUTION
    indent: str  # the indentation of the region's BEGIN marker

    @property
    def id(self) -> str:
        return f"{self.lesson.id}/{self.exercise.id}"

    @property
    def function(self) -> str:
        """The function the learner writes: the last ``def`` before the cursor, else the first in it."""
        before = _DEF.findall(self.prefix)
        if before:
            return str(before[-1])
        inside = _DEF.findall(self.target)
        return str(inside[0]) if inside else ""

    @property
    def reference(self) -> str:
        """The solution cell as the grader runs the instructor's version (no markers)."""
        return self.program(self.target)

    @property
    def whole_cell(self) -> bool:
        return not self.prefix.strip() and not self.suffix.strip()

    def fim_prefix(self) -> str:
        """The prefix a completion request sends: a whole-cell exercise gets its prompt as comments."""
        if self.prefix.strip():
            return self.prefix
        lines = [f"# {line}".rstrip() for line in self.exercise.prompt.strip().splitlines()]
        return "\n".join(lines) + "\n"

    def program(self, completion: str) -> str:
        """The solution cell with ``completion`` in place of the target region.

        A completion that (re)defines the exercise's function at top level replaces the
        function: it goes after the prefix (whose definition it overrides) at column 0.
        Otherwise it is a body: re-indented to the region's indentation.
        """
        text = completion.strip("\n")
        if self.function and self.indent and _defines(text, self.function):
            head = self.prefix
            if not _parses(head):  # a bare `def f(x):` line needs a body before the new one
                head += f"{self.indent}pass\n"
            body = textwrap.dedent(text)
            return f"{head}{body}\n{_dedent_suffix(self.suffix)}".rstrip("\n") + "\n"
        program = _joined(self.prefix, _reindent(text, self.indent), self.suffix)
        if self.indent and not _parses(program):
            # A FIM model may write its first line at the cursor (no indentation) and the
            # rest indented relative to the function: keep whichever reading parses.
            other = _joined(self.prefix, _continued(text, self.indent), self.suffix)
            if _parses(other):
                return other
        return program


def _joined(prefix: str, body: str, suffix: str) -> str:
    return f"{prefix}{body}{suffix}".rstrip("\n") + "\n"


def _defines(code: str, name: str) -> bool:
    """Whether ``code`` (dedented) defines function ``name`` at its top level."""
    try:
        tree = ast.parse(textwrap.dedent(code))
    except SyntaxError:
        return bool(re.search(rf"^def[ \t]+{re.escape(name)}\b", textwrap.dedent(code), re.M))
    return any(
        isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name
        for node in tree.body
    )


def _reindent(code: str, indent: str) -> str:
    """``code`` moved so that its least-indented line sits at ``indent``."""
    if not code.strip():
        return f"{indent}pass\n" if indent else ""
    return textwrap.indent(textwrap.dedent(code), indent) + "\n"


def _continued(code: str, indent: str) -> str:
    """A FIM answer whose first line continues the cursor's line: only that line gets ``indent``."""
    first, _, rest = code.partition("\n")
    return f"{indent}{first.strip()}\n{rest}\n" if rest else f"{indent}{first.strip()}\n"


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
    except SyntaxError:
        return False
    return True


def _dedent_suffix(suffix: str) -> str:
    """Code after a region whose function was replaced: only top-level lines still make sense."""
    kept = [line for line in suffix.split("\n") if line and not line.startswith((" ", "\t"))]
    return "\n".join(kept) + ("\n" if kept else "")


# -- building items -------------------------------------------------------------------------


def item_for(exercise: Exercise, lesson: Lesson, suite: str) -> BenchItem | None:
    """The bench item of ``exercise``, or None when it has no solution cell."""
    for cell in lesson.cells:
        if cell.role != Role.SOLUTION or cell.exercise != exercise.id or cell.kind != "code":
            continue
        where = CellRef(lesson.notebook_path, cell.index)
        pairs = regions(scan(cell.source, where), Marker.BEGIN_SOLUTION, Marker.END_SOLUTION, where)
        if not pairs:  # a whole-cell solution
            return BenchItem(suite, lesson, exercise, cell, "", cell.source.strip("\n"), "", "")
        begin, end = pairs[0]
        lines = cell.source.split("\n")
        before = "\n".join(lines[: begin.number - 1])
        after = "\n".join(lines[end.number :])
        return BenchItem(
            suite=suite,
            lesson=lesson,
            exercise=exercise,
            cell=cell,
            prefix=_clean(before, where) + "\n" if before else "",
            target="\n".join(lines[begin.number : end.number - 1]),
            suffix=_clean(after, where) if after.strip() else "",
            indent=begin.indent,
        )
    return None


def _clean(code: str, where: CellRef) -> str:
    """Code outside the target with any further markers dropped (reference kept)."""
    return without_markers(code, where) if "###" in code else code


def course_items(path: Path, suite: str | None = None) -> list[BenchItem]:
    """Every exercise with a solution cell in the lesson(s) at ``path`` (a lesson or a course)."""
    name = suite or path.name or str(path)
    items: list[BenchItem] = []
    for folder in find_lessons([path]):
        lesson = load_lesson(folder)
        for exercise in lesson.exercises:
            item = item_for(exercise, lesson, name)
            if item is not None:
                items.append(item)
    return items


def humaneval_items(*, limit: int | None = None) -> list[BenchItem]:
    """The HumanEval problems as bench items, parsed by the lesson reader itself."""
    from eduproject.bench.humaneval import humaneval_lesson

    lesson = humaneval_lesson(limit=limit)
    items = [item_for(exercise, lesson, HUMANEVAL) for exercise in lesson.exercises]
    return [item for item in items if item is not None]


def load_suite(spec: str, *, limit: int | None = None) -> list[BenchItem]:
    """The items of suite ``spec`` (``humaneval`` or a folder), the first ``limit`` of them."""
    if limit is not None and limit < 1:
        raise ConfigError(f"--limit must be at least 1, not {limit}", hint="e.g. --limit 20")
    if spec.strip().lower() == HUMANEVAL:
        items = humaneval_items(limit=limit)
    else:
        path = Path(spec).expanduser()
        if not path.exists():
            raise ConfigError(
                f"suite {spec!r} is neither `humaneval` nor an existing folder",
                hint="give a course folder such as exercises/ or a lesson folder, or `humaneval`",
            )
        items = course_items(path, suite=_suite_name(path))
        if not items:
            raise LessonError(
                f"suite {spec!r} has no exercise with a solution cell",
                hint="tag the answer cells `solution` (with markers) or `solution-cell`",
            )
    return items[:limit] if limit is not None else items


def _suite_name(path: Path) -> str:
    resolved = path.resolve()
    return resolved.name or str(resolved)


def sub_lesson(item: BenchItem) -> Lesson:
    """The item's lesson cut down to its own exercise (plus setup and earlier context cells).

    Grading one completion then runs only what that exercise needs, in a fresh process.
    """
    lesson = item.lesson
    first = min(c.index for c in lesson.cells if c.exercise == item.exercise.id)
    keep = tuple(
        c
        for c in lesson.cells
        if c.exercise == item.exercise.id
        or c.role == Role.SETUP
        or (c.role == Role.CONTEXT and c.exercise is None and c.index < first)
    )
    return replace(lesson, cells=keep, exercises=(item.exercise,))
