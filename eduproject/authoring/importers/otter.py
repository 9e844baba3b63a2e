"""Import otter-assign master notebooks (v1 format) into the eduproject format.

The v1 format delimits blocks with raw cells whose first line is a comment and whose
other lines are YAML::

    # ASSIGNMENT CONFIG          (assignment settings; `# BEGIN ASSIGNMENT` is read too)
    # BEGIN QUESTION             name: q1 / points: 2 (or a list, one per test) / manual
      markdown description         -> the exercise prompt (tagged exercise=q1)
      # BEGIN PROMPT ... # END PROMPT      learner-facing cells -> context
      # BEGIN SOLUTION ... # END SOLUTION  code -> `solution` (see otter_code)
      # BEGIN TESTS ... # END TESTS        each code cell one test -> `tests` or
                                           `hidden-tests` cell with its resolved points
    # END QUESTION

A question becomes an exercise with id = the question name (sanitised) and
``metadata.eduproject.origin`` = the question name on its prompt, solution and test
cells. Test points are resolved as otter does (question total split over the tests
without their own points). Manually graded questions stay as context and are reported.

    >>> report = import_otter(Path("hw01.ipynb"), Path("exercises/hw01"))
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

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
from eduproject.authoring.importers.otter_code import (
    CodeError,
    Converted,
    TestCell,
    convert_solution,
    learner_version,
    read_test,
)

BLOCKS = ("question", "prompt", "solution", "tests")
_BOUNDARY = re.compile(r"#\s+(begin|end)\s+(question|prompt|solution|tests)\b", re.IGNORECASE)
_CONFIG = re.compile(r"#\s+(assignment\s+config|begin\s+assignment)\b", re.IGNORECASE)
_END_CONFIG = re.compile(r"#\s+end\s+assignment\b", re.IGNORECASE)
_IGNORE_CELL = re.compile(r"##\s*ignore\s*##", re.IGNORECASE)
_V0_MARK = re.compile(r"^\s*(BEGIN QUESTION|BEGIN ASSIGNMENT)\s*$", re.MULTILINE)
MANUAL_PLACEHOLDER = "_Type your answer here, replacing this text._"
QUESTION_KEYS = {"name", "points", "manual", "check_cell", "export", "all_or_nothing"}
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
    "files": "copy data files into the lesson's data/ folder (paths data/...)",
    "autograder_files": "copy data files into the lesson's data/ folder (paths data/...)",
    "plugins": "otter plugins have no eduproject counterpart",
    "tests": "tests live in the notebook; exception-based tests are recognised by their shape",
    "runs_on": "eduproject notebooks run in Jupyter",
    "python_version": "the course environment sets the Python version",
}


def import_otter(src: Path, out_dir: Path, *, overwrite: bool = False) -> ImportReport:
    """Convert the otter-assign master notebook ``src`` into the lesson folder ``out_dir``.

    >>> report = import_otter(Path("hw01.ipynb"), Path("exercises/hw01"))
    >>> report.exercises
    ['q1', 'q2', 'q3']
    """
    return run_import(OtterImporter(), src, out_dir, overwrite=overwrite)


@dataclass
class _Question:
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


class OtterImporter:
    tool = "otter"

    def convert(self, source: Source) -> Conversion:
        _refuse_v0(source)
        out = Conversion()
        items = _structure(source, out)
        used: dict[str, int] = {}
        for item in items:
            if isinstance(item, _Question):
                _Emitter(source, item, out).emit(used)
            else:
                _context(source, item, out)
        return out


def _refuse_v0(source: Source) -> None:
    for index, cell in enumerate(source.cells):
        if (
            cell["cell_type"] == "markdown"
            and "```" in (text := cell_source(cell))
            and _V0_MARK.search(text)
        ):
            raise source.error(
                "this is an otter v0 master notebook (BEGIN QUESTION inside a markdown code block)",
                cell=index,
                fix="convert it to the v1 format first: `python -m otter.assign.v0.convert SRC DST`",
            )


def _structure(source: Source, out: Conversion) -> list[_Question | int]:
    """Walk the boundary cells; return top-level cell indices and questions in order."""
    items: list[_Question | int] = []
    stack: list[tuple[str, int]] = []  # open blocks: (block, cell index)
    question: _Question | None = None
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
    source: Source, index: int, block: str, stack: list[tuple[str, int]], question: _Question | None
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


def _read_question(source: Source, index: int, text: str, names: dict[str, int]) -> _Question:
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
    return _Question(index, name, config)


def _assignment_config(source: Source, index: int, text: str, out: Conversion) -> None:
    config = _yaml(source, index, text, "assignment config")
    for key in config:
        reason = CONFIG_REASONS.get(key, "not an otter key this importer knows")
        out.problem(index, f"assignment config key {key!r} ignored: {reason}")


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

    def __init__(self, source: Source, question: _Question, out: Conversion) -> None:
        self.source = source
        self.q = question
        self.out = out

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
        if not graded:
            self._ungraded(solutions, tests)
            return
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
            tags = foreign_tags(cell, index, self.out)
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
                self.out.add(
                    new_cell(
                        "code",
                        test.code,
                        tags=[role, f"points={points_text(points[k])}", *tags],
                        origin=q.name,
                    ),
                    f"{ex_id}-test-{k + 1}",
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

    def _ungraded(self, solutions: list[int], tests: list[int]) -> None:
        """A question eduproject cannot grade: keep what learners see, report the rest."""
        q = self.q
        if tests:
            why = "it has tests but no solution code cell to stub"
        elif q.manual:
            why = "it is graded by hand in otter"
        else:
            why = "it has no tests"
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
            if block == "solution" and kind != "code":
                if not has_prompt and not placed:
                    self.out.add(new_cell("markdown", MANUAL_PLACEHOLDER), None)
                    placed = True
                self.out.problem(
                    index, f"question {q.name!r}: the written answer is left out (instructors only)"
                )
                continue
            text = self._cell(index)
            if block == "solution":
                text = learner_version(text)
                self.out.problem(
                    index,
                    f"question {q.name!r}: solution code kept with otter's learner stubs (`...`); the answer is left out",
                )
            tags = foreign_tags(cell, index, self.out)
            self.out.add(
                new_cell(kind, text, tags=tags, attachments=cell.get("attachments")), cell.get("id")
            )


def _resolve_points(source: Source, q: _Question, tests: list[TestCell]) -> list[float]:
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
