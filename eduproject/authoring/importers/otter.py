"""Import otter-assign master notebooks (v1 format) into the eduproject format.

The v1 format delimits blocks with raw cells whose first line is a comment and whose
other lines are YAML::

    # ASSIGNMENT CONFIG          (assignment settings; `# BEGIN ASSIGNMENT` is read too)
    # BEGIN QUESTION             name: q1 / points: 2 (or a list, one per test) / manual
      markdown description         -> the exercise prompt (tagged exercise=q1)
      # BEGIN PROMPT ... # END PROMPT      learner-facing cells -> context
      # BEGIN SOLUTION ... # END SOLUTION  code -> `solution` (see otter_solutions)
      # BEGIN TESTS ... # END TESTS        each code cell one test -> `tests` or
                                           `hidden-tests` cell with its resolved points
    # END QUESTION

A question becomes an exercise with id = the question name (sanitised) and
``metadata.eduproject.origin`` = the question name on its prompt, solution and test
cells. Test points are resolved as otter does (question total split over the tests
without their own points). Manually graded questions stay as context and are reported.
With a master notebook on disk:

    >>> report = import_otter(Path("hw01.ipynb"), Path("exercises/hw01"))  # doctest: +SKIP
"""

from __future__ import annotations

import re
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
from eduproject.authoring.importers.otter_blocks import (
    QUESTION_KEYS,
    Question,
    assignment_config,
    read_structure,
)
from eduproject.authoring.importers.otter_client import strip_client_cells
from eduproject.authoring.importers.otter_solutions import (
    CodeError,
    Converted,
    convert_solution,
    learner_version,
)
from eduproject.authoring.importers.otter_tests import TestCell, read_test
from eduproject.authoring.importers.otter_v0 import upgrade_v0

MANUAL_PLACEHOLDER = "_Type your answer here, replacing this text._"
INCLUDE_TAG = "otter_include"  # a markdown cell in a solution block that learners keep
_TEST_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def import_otter(
    src: Path, out_dir: Path, *, overwrite: bool = False, files: bool = True
) -> ImportReport:
    """Convert the otter-assign master notebook ``src`` into the lesson folder ``out_dir``.

    With a master notebook of four auto-graded questions on disk:

    >>> report = import_otter(Path("hw01.ipynb"), Path("exercises/hw01"))  # doctest: +SKIP
    >>> report.exercises  # doctest: +SKIP
    ['q1', 'q2', 'q3', 'q4']
    """
    return run_import(OtterImporter(), src, out_dir, overwrite=overwrite, files=files)


class OtterImporter:
    tool = "otter"

    def convert(self, source: Source) -> Conversion:
        out = Conversion()
        source = strip_client_cells(upgrade_v0(source, out), out)
        strip_all = bool(assignment_config(source).get("strip_solutions_from_all_cells"))
        items = read_structure(source, out)
        used: dict[str, int] = {}
        for item in items:
            if isinstance(item, Question):
                _Emitter(source, item, out, strip_all).emit(used)
            elif strip_all and _marked(source, item):
                _stubbed_context(source, item, out)
            else:
                _context(source, item, out)
        return out


def _marked(source: Source, index: int) -> bool:
    """A code cell holding otter solution markers (outside a solution block)."""
    cell = source.cells[index]
    if cell["cell_type"] != "code":
        return False
    try:
        return convert_solution(cell_source(cell)).regions > 0
    except CodeError:
        return False


def _stubbed_context(source: Source, index: int, out: Conversion) -> None:
    """``strip_solutions_from_all_cells``: a marked cell outside any question gets otter's
    learner version; there is no exercise to keep the instructor's code in."""
    cell = source.cells[index]
    out.problem(
        index,
        "solution markers outside any question (strip_solutions_from_all_cells): learners get "
        "otter's stub (`...`); the instructor's code is not in the lesson (move the cell into "
        "a question's solution block to keep it)",
    )
    tags = foreign_tags(cell, index, out)
    out.add(new_cell("code", learner_version(cell_source(cell)), tags=tags), cell.get("id"))


def _context(source: Source, index: int, out: Conversion) -> None:
    cell = source.cells[index]
    kind = cell["cell_type"]
    tags = foreign_tags(cell, index, out)
    out.add(
        new_cell(kind, cell_source(cell), tags=tags, attachments=cell.get("attachments")),
        cell.get("id"),
    )


class _Emitter:
    """Writes the cells of one question."""

    def __init__(
        self, source: Source, question: Question, out: Conversion, strip_all: bool = False
    ) -> None:
        self.source = source
        self.q = question
        self.out = out
        self.strip_all = strip_all  # the assignment's strip_solutions_from_all_cells

    def error(self, index: int, exc: CodeError) -> Exception:
        return self.source.error(
            f"question {self.q.name!r}: {exc.problem}", cell=index, fix=exc.fix
        )

    def emit(self, used: dict[str, int]) -> None:
        q = self.q
        for key in sorted(set(q.config) - QUESTION_KEYS):
            self.out.problem(
                q.index,
                f"question {q.name!r}: config key {key!r} ignored (not an otter question key)",
            )
        solutions = [
            i for i in q.cells_in("solution") if self.source.cells[i]["cell_type"] == "code"
        ]
        tests = q.cells_in("tests")
        graded = bool(tests) and bool(solutions)
        if not graded and not (q.manual and not tests):
            self._ungraded(solutions, tests)
            return
        ex_id = self._exercise_id(used)
        if graded:
            self._graded(ex_id, solutions, tests)
        else:
            self._manual(ex_id)

    def _exercise_id(self, used: dict[str, int]) -> str:
        q = self.q
        ex_id = sanitize_id(q.name)
        if ex_id in used:
            raise self.source.error(
                f"question {q.name!r} becomes exercise id {ex_id!r}, as does the question of cell {used[ex_id]}",
                cell=q.index,
                fix="rename one of the questions (exercise ids use letters, digits, '_' and '-')",
            )
        used[ex_id] = q.index
        if ex_id != q.name:
            self.out.problem(
                q.index,
                f"question name {q.name!r} becomes exercise id {ex_id!r} (ids use [A-Za-z0-9_-])",
            )
        return ex_id

    def _graded(self, ex_id: str, solutions: list[int], tests: list[int]) -> None:
        q = self.q
        if q.manual:
            self.out.problem(
                q.index, f"question {q.name!r} is marked manual: only its tests are graded"
            )
        for key in ("check_cell", "export"):
            if key in q.config and q.config[key] != (key == "check_cell"):
                self.out.problem(
                    q.index,
                    f"question {q.name!r}: {key}={q.config[key]!r} ignored (an otter notebook feature)",
                )
        read = self._read_tests(tests)
        points = _resolve_points(self.source, q, read)
        names = self._test_names(ex_id, read, tests)
        prompt = self._prompt_index()
        if prompt is None:
            self.out.add(
                new_cell("markdown", f"## {q.name}", tags=self._prompt_tags(ex_id), origin=q.name),
                f"{ex_id}-prompt",
            )
            self.out.problem(
                q.index,
                f"question {q.name!r} has no markdown description: inserted a heading cell as its prompt",
            )
        marked = {i: self._solution(i) for i in solutions}
        whole: int | None = None
        if not any(c.regions for c in marked.values()):
            whole = solutions[-1]
            self.out.problem(
                whole,
                f"question {q.name!r}: no solution markers in its solution cells; this cell becomes "
                "a whole-cell solution (learners see eduproject's stub, otter showed the code)",
            )
        for block, index in q.members:
            cell = self.source.cells[index]
            tags = foreign_tags(cell, index, self.out, frozenset({INCLUDE_TAG}))
            if index == prompt:
                self.out.add(
                    new_cell(
                        "markdown",
                        self._cell(index),
                        tags=[*self._prompt_tags(ex_id), *tags],
                        origin=q.name,
                        attachments=cell.get("attachments"),
                    ),
                    f"{ex_id}-prompt",
                )
            elif block == "solution" and index in marked:
                converted = marked[index]
                for note in converted.notes:
                    self.out.problem(index, f"question {q.name!r}: {note}")
                if index == whole:
                    self.out.add(
                        new_cell(
                            "code", converted.code, tags=["solution-cell", *tags], origin=q.name
                        ),
                        f"{ex_id}-solution",
                    )
                elif converted.regions:
                    self.out.add(
                        new_cell("code", converted.code, tags=["solution", *tags], origin=q.name),
                        f"{ex_id}-solution",
                    )
                else:  # no markers: otter gives this code to learners as it is
                    self.out.add(new_cell("code", converted.code, tags=tags), cell.get("id"))
            elif block == "solution" and _included(cell):
                self.out.add(
                    new_cell(cell["cell_type"], self._cell(index), tags=tags), cell.get("id")
                )
            elif block == "solution":
                self.out.problem(
                    index,
                    f"question {q.name!r}: {cell['cell_type']} cell in the solution block left out "
                    "(otter shows it to instructors only; eduproject keeps solutions in code cells)",
                )
            elif block == "tests":
                k = tests.index(index)
                test = read[k]
                for note in test.notes:
                    self.out.problem(index, f"question {q.name!r}, test {k + 1}: {note}")
                role = "hidden-tests" if test.hidden else "tests"
                points_value = points_text(points[k])
                if names is None:
                    tags, text = [role, f"points={points_value}", *tags], test.code
                else:
                    tags, text = (
                        [role, *tags],
                        f"### TEST {names[k]} points={points_value}\n{test.code}",
                    )
                self.out.add(
                    new_cell("code", text, tags=tags, origin=q.name), f"{ex_id}-test-{k + 1}"
                )
            elif self.strip_all and _marked(self.source, index):
                # strip_solutions_from_all_cells: markers outside the solution block count too.
                self.out.add(
                    new_cell(
                        "code", self._solution(index).code, tags=["solution", *tags], origin=q.name
                    ),
                    f"{ex_id}-solution",
                )
            else:
                self.out.add(
                    new_cell(
                        cell["cell_type"],
                        self._cell(index),
                        tags=tags,
                        attachments=cell.get("attachments"),
                    ),
                    cell.get("id"),
                )
        self.out.exercises.append(ex_id)

    def _test_names(self, ex_id: str, read: list[TestCell], cells: list[int]) -> list[str] | None:
        """Test names from the test configs' ``name`` keys; None when no test has one (the
        parser then names them ``<exercise>-<k>``, as otter numbers them)."""
        if all(t.name is None for t in read):
            return None
        names: list[str] = []
        for k, (test, index) in enumerate(zip(read, cells, strict=True)):
            name = (
                f"{ex_id}-{k + 1}" if test.name is None else _TEST_NAME_UNSAFE.sub("_", test.name)
            )
            if test.name is not None and name != test.name:
                self.out.problem(
                    index, f"question {self.q.name!r}: test name {test.name!r} becomes {name!r}"
                )
            base, n = name, 2
            while name in names:
                name, n = f"{base}_{n}", n + 1
            names.append(name)
        return names

    def _prompt_tags(self, ex_id: str) -> list[str]:
        return [f"exercise={ex_id}"] + (
            ["all-or-nothing"] if self.q.config.get("all_or_nothing") else []
        )

    def _cell(self, index: int) -> str:
        return cell_source(self.source.cells[index])

    def _prompt_index(self) -> int | None:
        """The first markdown description cell before the question's solution and tests."""
        for block, index in self.q.members:
            if block in ("solution", "tests"):
                return None
            if block == "" and self.source.cells[index]["cell_type"] == "markdown":
                return index
        return None

    def _solution(self, index: int) -> Converted:
        try:
            return convert_solution(self._cell(index))
        except CodeError as exc:
            raise self.error(index, exc) from None

    def _read_tests(self, tests: list[int]) -> list[TestCell]:
        read: list[TestCell] = []
        for index in tests:
            cell = self.source.cells[index]
            if cell["cell_type"] != "code":
                raise self.source.error(
                    f"question {self.q.name!r}: a {cell['cell_type']} cell in the tests block",
                    cell=index,
                    fix="keep only code cells (one test each) between `# BEGIN TESTS` and `# END TESTS`",
                )
            try:
                read.append(read_test(cell, self._cell(index)))
            except CodeError as exc:
                raise self.error(index, exc) from None
        return read

    def _manual(self, ex_id: str) -> None:
        """A manually graded question: a manual exercise whose written answers and marked
        code are `answer` cells (the instructor's versions stay in the grader bundle)."""
        q = self.q
        points = q.config.get("points", 1)
        if isinstance(points, bool) or not isinstance(points, int | float) or points < 0:
            self.out.problem(
                q.index, f"question {q.name!r}: points {points!r} is not one number: 1 point"
            )
            points = 1
        self.out.problem(
            q.index,
            f"question {q.name!r} is graded by hand: it becomes the manual exercise {ex_id!r} "
            f"({points_text(points)} points); grade the answers with `eduproject manual`",
        )
        tags = [f"exercise={ex_id}", "manual", f"points={points_text(points)}"]
        prompt = self._prompt_index()
        if prompt is None:
            self.out.add(new_cell("markdown", f"## {q.name}", tags=tags, origin=q.name), None)
        written = any(
            self.source.cells[i]["cell_type"] == "markdown" and not _included(self.source.cells[i])
            for i in q.cells_in("solution")
        )
        for block, index in q.members:
            cell = self.source.cells[index]
            kind = cell["cell_type"]
            own = foreign_tags(cell, index, self.out, frozenset({INCLUDE_TAG}))
            attachments = cell.get("attachments")
            if index == prompt:
                self.out.add(
                    new_cell(
                        "markdown",
                        self._cell(index),
                        tags=[*tags, *own],
                        origin=q.name,
                        attachments=attachments,
                    ),
                    f"{ex_id}-prompt",
                )
            elif block == "prompt" and written:
                # otter's placeholder for the written answer: the answer cell's stub replaces it.
                continue
            elif block == "solution" and kind == "markdown" and not _included(cell):
                self.out.add(
                    new_cell(
                        "markdown",
                        self._cell(index),
                        tags=["answer", *own],
                        origin=q.name,
                        attachments=attachments,
                    ),
                    f"{ex_id}-answer",
                )
            elif block == "solution" and kind == "code" and self._solution(index).regions:
                converted = self._solution(index)
                for note in converted.notes:
                    self.out.problem(index, f"question {q.name!r}: {note}")
                self.out.add(
                    new_cell("code", converted.code, tags=["answer", *own], origin=q.name),
                    f"{ex_id}-answer",
                )
            else:  # descriptions, and code otter gives learners as it is
                self.out.add(
                    new_cell(kind, self._cell(index), tags=own, attachments=attachments),
                    cell.get("id"),
                )
        self.out.exercises.append(ex_id)

    def _ungraded(self, solutions: list[int], tests: list[int]) -> None:
        """A question eduproject cannot grade: keep what learners see, report the rest."""
        q = self.q
        why = "it has tests but no solution code cell to stub" if tests else "it has no tests"
        lost = []
        if q.config.get("points") is not None:
            lost.append(f"its points ({q.config['points']}) are not in the lesson")
        if tests:
            lost.append(f"its {len(tests)} tests are left out")
        self.out.problem(
            q.index,
            f"question {q.name!r} is not an exercise ({why}): its description and prompt stay "
            "as context" + "".join(f"; {item}" for item in lost),
        )
        has_prompt = bool(q.cells_in("prompt"))
        placed = False
        for block, index in q.members:
            cell = self.source.cells[index]
            kind = cell["cell_type"]
            if block == "tests":
                continue
            if block == "solution" and kind != "code" and not _included(cell):
                if not has_prompt and not placed:
                    self.out.add(new_cell("markdown", MANUAL_PLACEHOLDER), None)
                    placed = True
                self.out.problem(
                    index, f"question {q.name!r}: the written answer is left out (instructors only)"
                )
                continue
            text = self._cell(index)
            if block == "solution" and kind == "code":
                text = learner_version(text)
                self.out.problem(
                    index,
                    f"question {q.name!r}: solution code kept with otter's learner stubs (`...`); the answer is left out",
                )
            tags = foreign_tags(cell, index, self.out, frozenset({INCLUDE_TAG}))
            self.out.add(
                new_cell(kind, text, tags=tags, attachments=cell.get("attachments")), cell.get("id")
            )


def _included(cell: dict[str, Any]) -> bool:
    tags = cell.get("metadata", {}).get("tags") or []
    return cell["cell_type"] == "markdown" and isinstance(tags, list) and INCLUDE_TAG in tags


def _resolve_points(source: Source, q: Question, tests: list[TestCell]) -> list[float]:
    """Per-test points the way otter resolves them (question total, list, or per-test)."""
    total = q.config.get("points")
    declared: list[float | None] = [t.points for t in tests]
    fix = "give `points` as a number, a list with one number per test, or `each: N`"
    if isinstance(total, dict):
        each = total.get("each", 1)
        if isinstance(each, bool) or not isinstance(each, int | float):
            raise source.error(
                f"question {q.name!r}: points {total!r} is not understood", cell=q.index, fix=fix
            )
        total = each * len(tests)
    if isinstance(total, list):
        if len(total) != len(tests):
            raise source.error(
                f"question {q.name!r}: points lists {len(total)} values but the question has {len(tests)} tests",
                cell=q.index,
                fix="give one number per test cell, in order",
            )
        if any(isinstance(p, bool) or not isinstance(p, int | float) for p in total):
            raise source.error(
                f"question {q.name!r}: points {total!r} holds a non-number", cell=q.index, fix=fix
            )
        declared, total = [float(p) for p in total], None
    elif total is not None and (isinstance(total, bool) or not isinstance(total, int | float)):
        raise source.error(
            f"question {q.name!r}: points {total!r} is not a number", cell=q.index, fix=fix
        )
    given = sum(p for p in declared if p is not None)
    missing = sum(1 for p in declared if p is None)
    if total is not None:
        if given > total:
            raise source.error(
                f"question {q.name!r}: its tests declare {points_text(given)} points, more than the "
                f"question's {points_text(total)}",
                cell=q.index,
                fix="lower the tests' points or raise the question's",
            )
        share = (total - given) / missing if missing else 0.0
    elif given == 0:
        share = 1 / missing if missing else 0.0  # an unpointed question is worth 1
    else:
        share = 0.0  # otter: unpointed tests are worth nothing once some tests have points
    return [float(share if p is None else p) for p in declared]
