"""Comment markers inside code cells (see docs/format.md, "Markers inside code cells").

Three kinds of line carry meaning:

- ``### BEGIN SOLUTION`` / ``### END SOLUTION`` around the answer in a ``solution`` cell;
- ``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS`` around hidden lines of a test cell;
- ``### TEST name`` or ``### TEST name points=N`` starting a named test in a test cell.

A line that *looks* like a marker but is not written exactly (``## BEGIN SOLUTION``,
``### BEGIN SOLUTION  # answer``, ``###TEST x``) is an error rather than ordinary code:
a misspelt marker must never let a solution or a hidden test reach learners.

    >>> stub_solutions("x = 1\\n### BEGIN SOLUTION\\nx = 2\\n### END SOLUTION", CellRef("nb.ipynb", 0))
    'x = 1\\n# YOUR CODE HERE\\nraise NotImplementedError()'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from eduproject.errors import LessonFormatError

STUB_LINES = ("# YOUR CODE HERE", "raise NotImplementedError()")
POINTS_RE = re.compile(r"\d+(\.\d+)?")
TEST_NAME_RE = re.compile(r"[A-Za-z0-9_.-]+")


class Marker(StrEnum):
    BEGIN_SOLUTION = "### BEGIN SOLUTION"
    END_SOLUTION = "### END SOLUTION"
    BEGIN_HIDDEN = "### BEGIN HIDDEN TESTS"
    END_HIDDEN = "### END HIDDEN TESTS"
    TEST = "### TEST"


# Anything resembling a BEGIN/END marker, in any case and with any number of '#'.
_BEGIN_END_LIKE = re.compile(r"^\s*#+\s*(BEGIN|END)\s+(SOLUTION|HIDDEN)", re.IGNORECASE)
# '### TEST' is specific enough; plain '# Test the function' comments must stay code.
_TEST_LIKE = re.compile(r"^\s*###\s*TEST\b")
_TEST_LINE = re.compile(r"^### TEST(?: +(?P<name>\S+)(?: +points=(?P<points>\S*))?)? *$")


@dataclass(frozen=True)
class CellRef:
    """Where a cell sits, for error messages: the notebook file and the 0-based cell index."""

    path: Path | str
    index: int
    label: str = ""  # the cell's first line (or its id): JupyterLab shows no cell numbers

    def error(self, problem: str, fix: str) -> LessonFormatError:
        return LessonFormatError(
            self.path, problem, cell=self.index, fix=fix, cell_label=self.label
        )


def cell_label(source: str, cell_id: object = None) -> str:
    """How an error names a cell besides its index: its first line, else its id.

    >>> cell_label("\\ndef greet(name):\\n    pass")
    'starts `def greet(name):`'
    """
    first = next((line.strip() for line in source.split("\n") if line.strip()), "")
    if first:
        shown = first if len(first) <= 48 else first[:45] + "..."
        return f"starts `{shown}`"
    return f"id {cell_id}" if isinstance(cell_id, str) and cell_id else "empty"


@dataclass(frozen=True)
class MarkerLine:
    number: int  # 1-based line number inside the cell
    marker: Marker
    indent: str = ""
    test_name: str = ""
    test_points: float | None = None


@dataclass(frozen=True)
class TestSpec:
    """One test found in a test cell, before it is tied to an exercise."""

    name: str
    points: float
    source: str  # everything the grader runs: shared setup + the test's lines, markers removed
    visible_source: str  # what learners see; "" when the test is wholly hidden
    hidden: bool
    shared: int = 0  # the first `shared` lines of `source` are the cell's shared code
    shared_hidden: bool = False  # that shared code has a hidden region
    visible_shared: int = 0  # the first lines of `visible_source` that are the shared code
    open_lines: int = 0  # the test's own first lines before its first hidden line


def parse_points(text: str, where: CellRef, context: str) -> float:
    """Parse the ``N`` of ``points=N`` (a non-negative decimal)."""
    if not POINTS_RE.fullmatch(text):
        try:
            value: float | None = float(text)
        except ValueError:
            value = None
        problem = (
            f"points={text} is negative: points are zero or more"
            if value is not None and value < 0
            else f"points={text!r} is not a number"
        )
        raise where.error(
            f"{context}: {problem}",
            "write points as a number of zero or more, e.g. points=2 or points=0.5",
        )
    return float(text)


def scan(source: str, where: CellRef) -> list[MarkerLine]:
    """Return the marker lines of ``source`` in order; reject near-miss spellings."""
    found: list[MarkerLine] = []
    for number, line in enumerate(source.split("\n"), start=1):
        stripped = line.strip()
        exact = next((m for m in Marker if m is not Marker.TEST and stripped == m.value), None)
        if exact is not None:
            indent = line[: len(line) - len(line.lstrip())]
            found.append(MarkerLine(number, exact, indent))
        elif _BEGIN_END_LIKE.match(line):
            raise where.error(
                f"line {number} looks like a marker but is not one: {stripped!r}",
                "write the marker exactly as `### BEGIN SOLUTION`, `### END SOLUTION`, "
                "`### BEGIN HIDDEN TESTS` or `### END HIDDEN TESTS`, alone on its line",
            )
        elif _TEST_LIKE.match(line):
            found.append(_test_line(line, number, where))
    return found


def _test_line(line: str, number: int, where: CellRef) -> MarkerLine:
    if line[:1].isspace():
        raise where.error(
            f"line {number} is an indented test line: {line.rstrip()!r}",
            "`### TEST` lines start at the first column (they split the cell into tests, "
            "so they cannot sit inside a block): remove the indentation",
        )
    match = _TEST_LINE.match(line.rstrip())
    if match is None or not match["name"] or not TEST_NAME_RE.fullmatch(match["name"]):
        raise where.error(
            f"line {number} is not a valid test line: {line.strip()!r}",
            "write `### TEST name` or `### TEST name points=N` at the start of the line "
            "(name: letters, digits, '_', '-', '.')",
        )
    points = match["points"]
    value = None if points is None else parse_points(points, where, f"line {number}")
    return MarkerLine(number, Marker.TEST, "", match["name"], value)


def check_allowed(
    markers: list[MarkerLine], allowed: set[Marker], where: CellRef, role: str
) -> None:
    """Reject markers that make no sense in a cell of this role."""
    cell = f"{'an' if role[0] in 'aeiou' else 'a'} {role} cell"
    for m in markers:
        if m.marker in allowed:
            continue
        if m.marker in (Marker.BEGIN_HIDDEN, Marker.END_HIDDEN):
            raise where.error(
                f"hidden tests outside a test cell (line {m.number}, in {cell})",
                "move the hidden tests into a cell tagged `tests`, or tag this cell `tests`",
            )
        if m.marker is Marker.TEST:
            raise where.error(
                f"`### TEST` line outside a test cell (line {m.number}, in {cell})",
                "move it into a cell tagged `tests` or `hidden-tests`",
            )
        if role == "solution-cell":
            raise where.error(
                f"solution markers in a `solution-cell` cell (line {m.number})",
                "a `solution-cell` is replaced as a whole: remove the markers, "
                "or tag the cell `solution` to replace only the marked region",
            )
        raise where.error(
            f"solution markers outside a solution cell (line {m.number}, in {cell})",
            "tag the cell `solution`, or remove the markers",
        )


def regions(
    markers: list[MarkerLine], begin: Marker, end: Marker, where: CellRef
) -> list[tuple[MarkerLine, MarkerLine]]:
    """Pair ``begin``/``end`` markers into regions; reject nesting, stray and unclosed ones."""
    pairs: list[tuple[MarkerLine, MarkerLine]] = []
    open_: MarkerLine | None = None
    for m in markers:
        if m.marker is begin:
            if open_ is not None:
                raise where.error(
                    f"nested `{begin}` on line {m.number} (the one on line {open_.number} "
                    "is still open)",
                    f"close the first region with `{end}` before opening another",
                )
            open_ = m
        elif m.marker is end:
            if open_ is None:
                raise where.error(
                    f"`{end}` on line {m.number} without a `{begin}` before it",
                    f"add `{begin}` above the region, or delete the stray `{end}`",
                )
            pairs.append((open_, m))
            open_ = None
    if open_ is not None:
        raise where.error(
            f"`{begin}` on line {open_.number} is never closed",
            f"add `{end}` after the last line of the region",
        )
    return pairs


def stub_solutions(source: str, where: CellRef) -> str:
    """Replace every solution region by the stub, indented like the region's first line.

    That is the BEGIN line's indentation in the usual layout; where a course put the marker
    less indented than the code it wraps (``if ok:`` / ``### BEGIN SOLUTION`` / ``    x = 1``),
    the first line's indentation keeps the learner copy valid Python (nbgrader's would not be).
    """
    markers = scan(source, where)
    pairs = regions(markers, Marker.BEGIN_SOLUTION, Marker.END_SOLUTION, where)
    if not pairs:
        raise where.error(
            "a `solution` cell without `### BEGIN SOLUTION` / `### END SOLUTION` markers",
            "put the markers around the answer, or tag the cell `solution-cell` "
            "to replace the whole cell by the stub",
        )
    lines = source.split("\n")
    out: list[str] = []
    position = 0
    for begin, end in pairs:
        body = lines[begin.number : end.number - 1]
        if not any(line.strip() for line in body):
            raise where.error(
                f"empty solution region (lines {begin.number}-{end.number})",
                "put the answer between the markers, or delete them",
            )
        out.extend(lines[position : begin.number - 1])
        first = next(line for line in body if line.strip())
        indent = first[: len(first) - len(first.lstrip())]
        out.extend(indent + stub for stub in STUB_LINES)
        position = end.number
    out.extend(lines[position:])
    return "\n".join(out)


def whole_cell_stub() -> str:
    """The learner source of a ``solution-cell``."""
    return "\n".join(STUB_LINES)


def without_markers(source: str, where: CellRef) -> str:
    """``source`` with marker lines dropped (the instructor code as the grader runs it)."""
    numbers = {m.number for m in scan(source, where)}
    return "\n".join(line for n, line in enumerate(source.split("\n"), start=1) if n not in numbers)


def split_tests(
    source: str,
    where: CellRef,
    *,
    default_name: str,
    cell_points: float | None,
    cell_hidden: bool,
) -> tuple[list[TestSpec], str]:
    """Split a test cell into tests; return them and the cell's learner source.

    ``cell_hidden`` is True for a ``hidden-tests`` cell (every test hidden, learner source "").
    """
    markers = scan(source, where)
    check_allowed(markers, {Marker.BEGIN_HIDDEN, Marker.END_HIDDEN, Marker.TEST}, where, "tests")
    regions(markers, Marker.BEGIN_HIDDEN, Marker.END_HIDDEN, where)  # validates the pairing
    tests_lines = [m for m in markers if m.marker is Marker.TEST]
    if tests_lines and cell_points is not None:
        raise where.error(
            "a `points=` tag on a cell that has `### TEST` lines",
            "give points on each `### TEST name points=N` line and remove the `points=` tag",
        )
    by_line = {m.number: m for m in markers}

    # Each segment: [header or None, header_hidden, [(line, hidden), ...]]; segment 0 is setup.
    segments: list[tuple[MarkerLine | None, bool, list[tuple[str, bool]]]] = [(None, False, [])]
    learner: list[str] = []
    header_at: dict[str, int] = {}  # test name -> its `### TEST` line's index in ``learner``
    hidden = False
    for number, line in enumerate(source.split("\n"), start=1):
        marker = by_line.get(number)
        if marker is not None and marker.marker is Marker.BEGIN_HIDDEN:
            hidden = True
        elif marker is not None and marker.marker is Marker.END_HIDDEN:
            hidden = False
        elif marker is not None:  # a ### TEST line
            segments.append((marker, hidden, []))
            if not hidden:
                header_at[marker.test_name] = len(learner)
                learner.append(line)
        else:
            segments[-1][2].append((line, hidden))
            if not hidden:
                learner.append(line)

    setup = segments[0][2]
    if not tests_lines:
        specs = [_spec(default_name, cell_points, [], setup, False, cell_hidden, where)]
    else:
        specs = []
        for header, header_hidden, body in segments[1:]:
            assert header is not None
            points = header.test_points
            specs.append(
                _spec(header.test_name, points, setup, body, header_hidden, cell_hidden, where)
            )
    seen: set[str] = set()
    for spec in specs:
        if spec.name in seen:
            raise where.error(
                f"two tests named {spec.name!r} in this cell", "give every test its own name"
            )
        seen.add(spec.name)
        if spec.name in header_at and not spec.visible_source:
            # A visible `### TEST` line over hidden lines only would dangle in the learner copy.
            learner[header_at[spec.name]] = hidden_test_comment(spec.name)
    return specs, "" if cell_hidden else "\n".join(learner)


def hidden_test_comment(name: str) -> str:
    """What learners see in place of the ``### TEST`` line of a wholly hidden test."""
    return f"# Test {name!r} is hidden: it is checked when your work is graded."


def _spec(
    name: str,
    points: float | None,
    setup: list[tuple[str, bool]],
    body: list[tuple[str, bool]],
    header_hidden: bool,
    cell_hidden: bool,
    where: CellRef,
) -> TestSpec:
    if not any(_is_code(line) for line, _ in body):
        raise where.error(
            f"test {name!r} has no code",
            "write at least one assertion after the `### TEST` line (or delete the empty test)",
        )
    lines = setup + body
    hidden = cell_hidden or header_hidden or any(h for _, h in lines)
    wholly_hidden = cell_hidden or header_hidden or not any(_is_code(t) for t, h in body if not h)
    visible = "" if wholly_hidden else "\n".join(t for t, h in lines if not h)
    return TestSpec(
        name=name,
        points=1.0 if points is None else points,
        source="\n".join(t for t, _ in lines),
        visible_source=visible,
        hidden=hidden,
        shared=len(setup),
        shared_hidden=cell_hidden or any(h for _, h in setup),
        visible_shared=0 if wholly_hidden else sum(1 for _, h in setup if not h),
        open_lines=0 if cell_hidden or header_hidden else _leading_open(body),
    )


def _leading_open(body: list[tuple[str, bool]]) -> int:
    """How many of a test's first lines come before its first hidden line."""
    for count, (_, hidden) in enumerate(body):
        if hidden:
            return count
    return len(body)


def _is_code(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")
