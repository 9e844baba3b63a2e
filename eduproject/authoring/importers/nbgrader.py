"""Import nbgrader source notebooks (cell metadata schema v1-v3) into the eduproject format.

nbgrader marks cells with ``metadata.nbgrader = {schema_version, grade, solution, locked,
task, points, grade_id}``:

==========================  =====================================================
nbgrader cell               eduproject cell
==========================  =====================================================
autograded answer           ``solution`` (``### BEGIN SOLUTION`` region kept) or
(solution, code)            ``solution-cell`` (no region: nbgrader replaces it all)
autograder tests            ``tests`` + ``points=N`` (hidden-test regions kept)
(grade, code)
read-only (locked)          ``setup`` (code) or context (markdown)
manually graded answer      ``answer`` cell of a ``manual`` exercise worth its points;
(grade + solution)          the instructor's answer stays in the grader bundle
task (markdown)             the prompt of a ``manual`` exercise worth its points
==========================  =====================================================

nbgrader has no exercises: an exercise starts at a solution cell and takes the test cells
after it; a further solution cell before any test joins the same exercise. The exercise id
is the first solution cell's ``grade_id``; its prompt is the nearest markdown cell above the
solution (only code cells in between), else an inserted heading cell. A manually graded
answer starts a manual exercise of its own (its prompt is found the same way), a task is one;
answers with no test after them and no exercise to join become a manual exercise worth 0
points (nbgrader gives them none), so the instructor copy keeps their code and learners get
the stub. Each converted
solution, test and read-only cell keeps its ``grade_id`` in ``metadata.eduproject.origin``.
With a source notebook on disk:

    >>> report = import_nbgrader(Path("source/ps1/problem1.ipynb"), Path("exercises/ps1"))  # doctest: +SKIP
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eduproject.authoring.importers.base import (
    Conversion,
    ImportReport,
    Source,
    cell_source,
    foreign_tags,
    new_cell,
    points_text,
    run_import,
    sanitize_id,
)

# nbgrader's defaults (ClearSolutions / ClearHiddenTests): a line *containing* the delimiter.
BEGIN_SOLUTION, END_SOLUTION = "BEGIN SOLUTION", "END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"
TEXT_PLACEHOLDER = "YOUR ANSWER HERE"
_INDENT = re.compile(r"\s*")
_AUTOTEST = re.compile(r"^\s*### (HASHED )?AUTOTEST\b", re.MULTILINE)


def import_nbgrader(
    src: Path, out_dir: Path, *, overwrite: bool = False, files: bool = True
) -> ImportReport:
    """Convert the nbgrader source notebook ``src`` into the lesson folder ``out_dir``.

    The notebook is named after the lesson, whose id is the output folder's name (with
    ``src`` on disk):

    >>> report = import_nbgrader(Path("source/ps1/problem1.ipynb"), Path("exercises/ps1"))  # doctest: +SKIP
    >>> report.notebook_path  # doctest: +SKIP
    PosixPath('exercises/ps1/ps1.ipynb')
    """
    return run_import(NbgraderImporter(), src, out_dir, overwrite=overwrite, files=files)


@dataclass(frozen=True)
class _Cell:
    """One source cell, classified by its nbgrader metadata."""

    index: int
    kind: str  # code | markdown | raw
    role: str  # solution | tests | manual | task | locked | plain
    grade_id: str | None
    points: float | None
    source: str
    raw: dict[str, Any]


class NbgraderImporter:
    tool = "nbgrader"

    def convert(self, source: Source) -> Conversion:
        cells = [_classify(source, i, c) for i, c in enumerate(source.cells)]
        _check_unique_ids(source, cells)
        plan = _Plan.make(cells)
        out = Conversion()
        _note_old_schema(source, out)
        for cell in cells:
            text, regions = _checked_markers(source, cell)
            self._emit(cell, text, regions, plan, out)
        out.exercises = [plan.exercise_ids[s] for s in plan.starts]
        return out

    def _emit(self, cell: _Cell, text: str, regions: int, plan: _Plan, out: Conversion) -> None:
        tags = foreign_tags(cell.raw, cell.index, out)
        attachments = cell.raw.get("attachments")
        exercise = plan.exercise_ids.get(cell.index)
        if exercise is not None and cell.index in plan.inserted_prompts:
            out.add(
                new_cell(
                    "markdown",
                    f"## {exercise}",
                    tags=plan.prompt_tags(exercise),
                    origin=cell.grade_id,
                ),
                f"{exercise}-prompt",
            )
            what = "manually graded answer" if cell.role == "manual" else "solution cell"
            out.problem(
                cell.index,
                f"no markdown prompt just above {what} {cell.grade_id!r}: inserted a "
                f"heading cell as the prompt of exercise {exercise!r}; write the task there",
            )
        if cell.index in plan.prompts:
            ex_id, origin = plan.prompts[cell.index]
            out.add(
                new_cell(
                    cell.kind,
                    text,
                    tags=[*plan.prompt_tags(ex_id), *tags],
                    origin=origin,
                    attachments=attachments,
                ),
                cell.grade_id or cell.raw.get("id"),
            )
            if cell.role == "task":
                out.problem(
                    cell.index,
                    f"task {cell.grade_id!r} ({_pts(cell.points)}) becomes the manual exercise "
                    f"{ex_id!r}: learners answer in cells they add below it; grade the answers "
                    "with `eduproject manual`",
                )
        elif cell.role == "solution" and cell.index in plan.orphan_solutions:
            out.add(
                new_cell("code", text, tags=["answer", *tags], origin=cell.grade_id),
                cell.grade_id,
            )
            out.problem(
                cell.index,
                f"solution cell {cell.grade_id!r} has no test cell after it and no exercise to "
                "join: it is an answer of a manual exercise worth 0 points (nbgrader gives it "
                "none); the instructor copy keeps the code, learners get the stub",
            )
        elif cell.role == "solution":
            role_tag = "solution" if regions else "solution-cell"
            out.add(
                new_cell("code", text, tags=[role_tag, *tags], origin=cell.grade_id), cell.grade_id
            )
            if cell.index in plan.joined_back:
                out.problem(
                    cell.index,
                    f"solution cell {cell.grade_id!r} has no test cell after it: it joins "
                    f"exercise {plan.joined_back[cell.index]!r} as one more solution cell",
                )
        elif cell.role == "codeless_tests":
            out.problem(
                cell.index, f"test cell {cell.grade_id!r} ({_pts(cell.points)}) {_codeless(text)}"
            )
        elif cell.role == "tests" and cell.index in plan.tests_after_manual:
            out.problem(
                cell.index,
                f"test cell {cell.grade_id!r} ({_pts(cell.points)}) follows a manually graded "
                "answer with no autograded answer between: it tests nothing learners write "
                "here, so it is left out; put it after the autograded answer it checks",
            )
        elif cell.role == "tests" and cell.index in plan.orphan_tests:
            out.problem(
                cell.index,
                f"test cell {cell.grade_id!r} ({_pts(cell.points)}) comes before any solution "
                "cell, so it belongs to no exercise: left out of the imported lesson; move it "
                "below the solution it tests and import again",
            )
        elif cell.role == "tests":
            assert cell.points is not None
            if _AUTOTEST.search(text):
                out.problem(
                    cell.index,
                    f"test cell {cell.grade_id!r}: its `### AUTOTEST` lines are kept as comments "
                    "and not run (nbgrader expands them by running the solution against its "
                    "autotests.yml templates); write them out as asserts",
                )
            out.add(
                new_cell(
                    "code",
                    text,
                    tags=["tests", f"points={points_text(cell.points)}", *tags],
                    origin=cell.grade_id,
                ),
                cell.grade_id,
            )
        elif cell.role == "manual" and cell.kind == "code":
            out.add(
                new_cell("code", text, tags=["answer", *tags], origin=cell.grade_id), cell.grade_id
            )
            out.problem(cell.index, _manual_note(cell, exercise or ""))
        elif cell.role == "manual":
            out.problem(cell.index, _manual_note(cell, exercise or ""))
            around, answer = _split_written(cell.source)
            if around.strip():
                out.add(new_cell("markdown", around, attachments=attachments), None)
                out.problem(
                    cell.index,
                    f"written answer {cell.grade_id!r}: the text around its solution region is "
                    "now a context cell above the answer cell (learners get "
                    f"{TEXT_PLACEHOLDER!r} in place of the region)",
                )
            out.add(
                new_cell(
                    "markdown",
                    answer,
                    tags=["answer", *tags],
                    origin=cell.grade_id,
                    attachments=attachments,
                ),
                cell.grade_id,
            )
        elif cell.role == "locked" and cell.kind == "code":
            out.add(
                new_cell("code", text, tags=["setup", *tags], origin=cell.grade_id), cell.grade_id
            )
        else:
            hint = cell.grade_id or cell.raw.get("id")
            out.add(new_cell(cell.kind, text, tags=tags, attachments=attachments), hint)


@dataclass
class _Plan:
    """Which cells start exercises, which markdown cells are prompts, what is left over."""

    starts: list[int]  # solution cells that start an exercise
    exercise_ids: dict[int, str]  # start cell -> exercise id
    prompts: dict[int, tuple[str, str | None]]  # markdown cell -> (exercise id, origin)
    inserted_prompts: set[int]  # start cells that need an inserted prompt
    joined_back: dict[int, str]  # trailing solution cells without tests -> exercise joined
    orphan_solutions: set[int]  # answers without tests: a manual exercise worth 0 points
    orphan_tests: set[int]
    manual: dict[int, float] = field(default_factory=dict)  # start -> points, manual exercises
    manual_ids: dict[str, float] = field(default_factory=dict)  # the same by exercise id
    tests_after_manual: set[int] = field(default_factory=set)  # no answer of theirs to test

    @classmethod
    def make(cls, cells: list[_Cell]) -> _Plan:
        plan = cls([], {}, {}, set(), {}, set(), set())
        groups: list[_Group] = []
        for cell in cells:
            last = groups[-1] if groups else None
            if cell.role == "solution":
                if last is None or last.closed:
                    groups.append(_Group(cell.index, [cell.index]))
                else:
                    last.members.append(cell.index)
            elif cell.role == "tests":
                if last is None:
                    plan.orphan_tests.add(cell.index)
                elif last.manual:
                    plan.tests_after_manual.add(cell.index)
                else:
                    last.tested = True
            elif cell.role in ("manual", "task"):
                groups.append(_Group(cell.index, [cell.index], manual=True, points=cell.points))
        kept: list[_Group] = []
        joined: dict[int, int] = {}  # answer cell -> start of the exercise it joins
        for position, group in enumerate(groups):
            previous = groups[position - 1] if position else None
            if group.manual or group.tested:
                kept.append(group)
            elif previous is not None and previous.tested:
                # Answers after an exercise's last test: one more solution cell of it.
                joined.update(dict.fromkeys(group.members, previous.start))
            else:
                # No test, no exercise to join: graded by nobody in nbgrader either.
                plan.orphan_solutions.update(group.members)
                group.manual, group.points = True, 0.0
                kept.append(group)
        used: set[str] = set()
        by_index = {c.index: c for c in cells}
        for group in kept:
            start = group.start
            if group.manual:
                plan.manual[start] = group.points or 0.0
            plan.starts.append(start)
            plan.exercise_ids[start] = _unique(
                sanitize_id(by_index[start].grade_id or "exercise"), used
            )
            origin = by_index[start].grade_id
            if by_index[start].role == "task":
                plan.prompts[start] = (plan.exercise_ids[start], origin)  # the task is its prompt
                continue
            prompt = _prompt_for(cells, start)
            if prompt is None:
                plan.inserted_prompts.add(start)
            else:
                plan.prompts[prompt] = (plan.exercise_ids[start], origin)
        plan.joined_back = {i: plan.exercise_ids[start] for i, start in joined.items()}
        plan.manual_ids = {plan.exercise_ids[start]: pts for start, pts in plan.manual.items()}
        return plan

    def prompt_tags(self, exercise: str) -> list[str]:
        """The tags of an exercise's prompt cell."""
        tags = [f"exercise={exercise}"]
        if exercise in self.manual_ids:
            tags += ["manual", f"points={points_text(self.manual_ids[exercise])}"]
        return tags


@dataclass
class _Group:
    """Cells that become one exercise: answers, and whether tests follow them."""

    start: int
    members: list[int]
    manual: bool = False
    points: float | None = None
    tested: bool = False

    @property
    def closed(self) -> bool:
        """A further answer starts an exercise of its own."""
        return self.manual or self.tested


def _prompt_for(cells: list[_Cell], start: int) -> int | None:
    """The nearest markdown cell above ``start`` with only ungraded code cells between."""
    for j in range(start - 1, -1, -1):
        cell = cells[j]
        if cell.role not in ("plain", "locked"):
            return None
        if cell.kind == "markdown":
            return j
        if cell.kind != "code":
            return None
    return None


def _unique(candidate: str, used: set[str]) -> str:
    result, n = candidate, 2
    while result in used:
        suffix = f"_{n}"
        result, n = candidate[: 48 - len(suffix)] + suffix, n + 1
    used.add(result)
    return result


def _classify(source: Source, index: int, cell: dict[str, Any]) -> _Cell:
    kind = cell["cell_type"]
    text = cell_source(cell)
    meta = cell["metadata"].get("nbgrader")
    if meta is None:
        return _Cell(index, kind, "plain", None, None, text, cell)
    if not isinstance(meta, dict):
        raise source.error(
            "metadata 'nbgrader' is not an object",
            cell=index,
            fix="re-create the cell's nbgrader settings with the Create Assignment toolbar",
        )
    version = meta.get("schema_version", 0)
    if version == 0:
        upgraded = _upgrade_v0(meta)
        if upgraded is None:
            return _Cell(index, kind, "plain", None, None, text, cell)
        meta = upgraded
    elif not isinstance(version, int) or isinstance(version, bool):
        raise source.error(
            f"nbgrader metadata schema version {version!r} is not understood",
            cell=index,
            fix=f"upgrade the notebook first: `nbgrader update {source.path}`",
        )
    if version > 3:
        raise source.error(
            f"nbgrader metadata schema version {version} is newer than this importer (reads 1-3)",
            cell=index,
            fix="export the notebook from an nbgrader release with schema version 3",
        )
    flags = {}
    for key in ("grade", "solution", "locked", "task"):
        value = meta.get(key, False)
        if not isinstance(value, bool):
            raise source.error(
                f"nbgrader field {key!r} is {value!r}, not true or false",
                cell=index,
                fix="reset the cell type in nbgrader's Create Assignment toolbar",
            )
        flags[key] = value
    grade, solution, locked, task = (
        flags["grade"],
        flags["solution"],
        flags["locked"],
        flags["task"],
    )
    role = (
        "task"
        if task
        else "manual"
        if grade and solution
        else "solution"
        if solution
        else "tests"
        if grade
        else "locked"
        if locked
        else "plain"
    )
    grade_id = meta.get("grade_id")
    if role != "plain" and (not isinstance(grade_id, str) or not grade_id):
        raise source.error(
            "nbgrader cell without a grade_id",
            cell=index,
            fix="give the cell an ID in nbgrader's Create Assignment toolbar",
        )
    points: float | None = None
    if grade or task:
        raw_points = meta.get("points")
        if (
            isinstance(raw_points, bool)
            or not isinstance(raw_points, int | float)
            or raw_points < 0
        ):
            raise source.error(
                f"nbgrader cell {grade_id!r} has points {raw_points!r}, not a number >= 0",
                cell=index,
                fix="set the cell's points in nbgrader's Create Assignment toolbar",
            )
        points = float(raw_points)
    if kind == "markdown" and role in ("tests", "solution"):
        # nbgrader itself rejects these; manual answers are grade + solution.
        raise source.error(
            f"markdown cell {grade_id!r} is marked {'grade' if grade else 'solution'} only",
            cell=index,
            fix="in nbgrader a written answer is a 'Manually graded answer' (grade and solution)",
        )
    if kind != "markdown" and role == "task":
        raise source.error(
            f"task cell {grade_id!r} is a {kind} cell",
            cell=index,
            fix="nbgrader tasks are markdown cells",
        )
    if kind == "raw" and role not in ("plain", "locked"):
        raise source.error(
            f"raw cell {grade_id!r} is marked as an nbgrader {role} cell",
            cell=index,
            fix="make it a code cell (answers and tests) or a markdown cell",
        )
    if role == "tests" and not any(_is_code(line) for line in text.split("\n")):
        role = "codeless_tests"  # e.g. only `### AUTOTEST` lines: nothing our format can run
    return _Cell(index, kind, role, grade_id if role != "plain" else None, points, text, cell)


def _upgrade_v0(meta: dict[str, Any]) -> dict[str, Any] | None:
    """Schema v0 metadata as ``nbgrader update`` upgrades it: missing flags are false (no flag:
    not an nbgrader cell), ``points`` become a number >= 0 on graded cells only."""
    meta = {"grade": False, "solution": False, "locked": False, **meta}
    if not any(meta.get(key) is True for key in ("grade", "solution", "locked", "task")):
        return None
    if not meta["grade"]:
        meta.pop("points", None)
    else:
        raw = meta.get("points", 0.0)
        try:
            points = 0.0 if raw == "" else float(raw)
        except (TypeError, ValueError):
            return meta  # _classify reports the points
        meta["points"] = max(points, 0.0)
    return meta


def _note_old_schema(source: Source, out: Conversion) -> None:
    """nbgrader metadata schema v0-v2 reads as v3: later versions only added fields with
    defaults (v0 cells are upgraded as ``nbgrader update`` does, see :func:`_upgrade_v0`)."""
    for index, cell in enumerate(source.cells):
        meta = cell["metadata"].get("nbgrader")
        if not isinstance(meta, dict):
            continue
        version = meta.get("schema_version", 0)
        if version in (0, 1, 2):
            out.problem(
                index,
                f"nbgrader metadata schema v{version} read as v3 (the fields v3 added take "
                f"their defaults; `nbgrader update {source.path}` would write the same)",
                group="cells with nbgrader metadata of an older schema, read as v3 (the fields "
                f"v3 added take their defaults; `nbgrader update {source.path}` writes the same)",
                item=f"v{version}",
            )


def _check_unique_ids(source: Source, cells: list[_Cell]) -> None:
    first: dict[str, int] = {}
    for cell in cells:
        if cell.grade_id is None:
            continue
        if cell.grade_id in first:
            raise source.error(
                f"duplicate nbgrader grade_id {cell.grade_id!r} (also used by cell {first[cell.grade_id]})",
                cell=cell.index,
                fix="give every graded, solution and read-only cell its own ID in nbgrader's "
                "Create Assignment toolbar (copied cells keep the ID of the original)",
            )
        first[cell.grade_id] = cell.index


def _checked_markers(source: Source, cell: _Cell) -> tuple[str, int]:
    """Rewrite nbgrader's markers to ours; return the new source and its solution regions.

    Like nbgrader, refuse regions in cells whose role has none (a solution region in an
    unmarked cell would otherwise reach learners).
    """
    if cell.kind == "raw" or (cell.kind == "markdown" and cell.role == "manual"):
        return cell.source, 0  # raw cells are never processed; written answers: see _emit
    text, solutions = _rewrite(source, cell, cell.source, BEGIN_SOLUTION, END_SOLUTION, "SOLUTION")
    if solutions and (cell.kind != "code" or cell.role not in ("solution", "manual")):
        raise source.error(
            f"solution region in a cell that is not an nbgrader solution cell ({cell.role})",
            cell=cell.index,
            fix="mark the cell 'Autograded answer' in nbgrader, or remove the BEGIN/END SOLUTION lines",
        )
    text, hidden = _rewrite(source, cell, text, BEGIN_HIDDEN, END_HIDDEN, "HIDDEN TESTS")
    if hidden and (cell.kind != "code" or cell.role not in ("tests", "codeless_tests")):
        raise source.error(
            f"hidden-test region in a cell that is not an nbgrader test cell ({cell.role})",
            cell=cell.index,
            fix="mark the cell 'Autograder tests' in nbgrader, or remove the HIDDEN TESTS lines",
        )
    return text, solutions


def _rewrite(
    source: Source, cell: _Cell, text: str, begin: str, end: str, ours: str
) -> tuple[str, int]:
    out: list[str] = []
    open_line: int | None = None
    body = 0
    regions = 0
    for number, line in enumerate(text.split("\n"), start=1):
        indent = _INDENT.match(line).group(0)  # type: ignore[union-attr]
        if begin in line:
            if open_line is not None:
                raise source.error(
                    f"nested `{begin}` on line {number} (the one on line {open_line} is still open)",
                    cell=cell.index,
                    fix=f"close the first region with `### {end}` first",
                )
            open_line, body = number, 0
            out.append(f"{indent}### BEGIN {ours}")
        elif end in line:
            if open_line is None:
                raise source.error(
                    f"`{end}` on line {number} without a `{begin}` before it",
                    cell=cell.index,
                    fix=f"add `### {begin}` above the region, or delete the stray line",
                )
            if body == 0:
                # nbgrader accepts an empty region; our format needs something to stub.
                out.append(f"{indent}pass")
            open_line = None
            regions += 1
            out.append(f"{indent}### END {ours}")
        else:
            if open_line is not None and line.strip():
                body += 1
            out.append(line)
    if open_line is not None:
        raise source.error(
            f"`{begin}` on line {open_line} is never closed",
            cell=cell.index,
            fix=f"add `### {end}` after the last line of the region",
        )
    return "\n".join(out), regions


def _manual_note(cell: _Cell, exercise: str) -> str:
    return (
        f"manually graded answer {cell.grade_id!r} ({_pts(cell.points)}) becomes the manual "
        f"exercise {exercise!r} (the instructor's answer stays in the grader bundle); grade the "
        "answers with `eduproject manual`"
    )


def _split_written(text: str) -> tuple[str, str]:
    """A written answer's text outside its solution regions, and the instructor's answer
    (the regions; the whole cell when it has none: nbgrader then replaces it all)."""
    if BEGIN_SOLUTION not in text:
        return "", text
    around: list[str] = []
    answer: list[str] = []
    inside = False
    for line in text.split("\n"):
        if BEGIN_SOLUTION in line:
            inside = True
        elif END_SOLUTION in line:
            inside = False
        else:
            (answer if inside else around).append(line)
    return "\n".join(around).strip("\n"), "\n".join(answer).strip("\n")


def _is_code(line: str) -> bool:
    """The parser's rule: a test needs a line that is neither blank nor a comment."""
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def _codeless(text: str) -> str:
    if _AUTOTEST.search(text):
        return (
            "holds only `### AUTOTEST` lines, which nbgrader expands by running the solution "
            "against its autotests.yml templates: left out of the imported lesson; write the "
            "checks out as asserts and import again"
        )
    return "has no code, only comments: left out of the imported lesson"


def _pts(points: float | None) -> str:
    value = points_text(points or 0)
    return f"{value} point" if value == "1" else f"{value} points"
