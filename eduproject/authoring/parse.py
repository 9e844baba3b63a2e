"""Read a lesson folder into a :class:`~eduproject.core.lesson.Lesson` (docs/format.md).

Every way a lesson can break the format ends in :class:`LessonFormatError` naming the file,
the cell index (0-based, as JupyterLab counts) and what to change.

Files are read by :mod:`eduproject.authoring.notebook`, markers scanned by
:mod:`~eduproject.authoring.markers`, hints by :mod:`~eduproject.authoring.markdown`; this
module applies the tag rules cell by cell.

    >>> lesson = load_lesson(Path("exercises/03-lists-dicts"))
    >>> [e.id for e in lesson.exercises]
    ['sum_evens', 'running_total', 'word_counts', 'top_scorer']
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eduproject.authoring.markdown import heading, parse_hints
from eduproject.authoring.markers import (
    CellRef,
    Marker,
    cell_label,
    check_allowed,
    parse_points,
    regions,
    scan,
    split_tests,
    stub_solutions,
    whole_cell_stub,
    without_markers,
)
from eduproject.authoring.notebook import (
    cell_source,
    data_files_in,
    lesson_version,
    notebooks_in,
    read_notebook,
)
from eduproject.authoring.static_checks import check_compiles
from eduproject.core.lesson import Cell, Exercise, Lesson, Role, TestCase
from eduproject.core.policy import PolicyLayer, PolicyProblem, layer_from_cell
from eduproject.errors import LessonFormatError

LESSON_ID_RE = re.compile(r"[a-z0-9][a-z0-9_-]*")
EXERCISE_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,48}")  # short enough for "panel-<id>" cell ids
CELL_ID_RE = re.compile(r"[a-zA-Z0-9_-]{1,64}")  # nbformat 4.5's rule

ROLE_TAGS = {
    "solution": Role.SOLUTION,
    "solution-cell": Role.SOLUTION,
    "tests": Role.TESTS,
    "hidden-tests": Role.HIDDEN_TESTS,
    "hints": Role.HINTS,
    "setup": Role.SETUP,
    "ai-policy": Role.POLICY,
    "answer": Role.ANSWER,
    "rubric": Role.RUBRIC,
}
# Tags allowed above the first exercise (they apply to the whole lesson there).
LESSON_TAGS = ("setup", "ai-policy")
FLAG_TAGS = ("all-or-nothing", "manual")
# What a learner finds in a markdown `answer` cell (nbgrader's words, so imports read the same).
MARKDOWN_ANSWER_STUB = "YOUR ANSWER HERE"
FOREIGN_TAGS = (
    "parameters",
    "raises-exception",
    "skip-execution",
    "hide-input",
    "hide-output",
    "remove-cell",
    "remove-input",
    "remove-output",
)
KNOWN_TAGS = ("exercise=ID", *ROLE_TAGS, "points=N", *FLAG_TAGS)
DEFAULT_KERNELSPEC = {
    "display_name": "Python 3 (ipykernel)",
    "language": "python",
    "name": "python3",
}


def find_lessons(paths: Iterable[Path]) -> list[Path]:
    """Expand ``paths`` into lesson folders.

    A folder holding a ``.ipynb`` is a lesson; any other folder stands for every lesson
    directly inside it (``exercises/`` means the whole course). In the sample course:

        >>> find_lessons([Path("exercises")])
        [PosixPath('exercises/01-functions'), PosixPath('exercises/02-loops-strings'), ...]
    """
    found: list[Path] = []
    for path in paths:
        if not path.is_dir():
            raise LessonFormatError(
                path, "no such lesson folder", fix="give a folder under exercises/"
            )
        if notebooks_in(path):
            found.append(path)
            continue
        children = sorted(p for p in path.iterdir() if p.is_dir() and notebooks_in(p))
        if not children:
            raise LessonFormatError(
                path,
                "no lesson here: neither this folder nor its sub-folders hold a .ipynb notebook",
                fix="give a lesson folder such as exercises/01-functions, or the folder holding them",
            )
        found.extend(children)
    return found


def load_lesson(folder: Path) -> Lesson:
    """Parse and check the lesson in ``folder``; see docs/format.md."""
    folder = Path(folder)
    if not folder.is_dir():
        raise LessonFormatError(
            folder, "no such lesson folder", fix="give a folder under exercises/"
        )
    if not LESSON_ID_RE.fullmatch(folder.name):
        raise LessonFormatError(
            folder,
            f"lesson folder name {folder.name!r} is not a valid lesson id",
            fix="rename the folder using lowercase letters, digits, '-' and '_' "
            "(starting with a letter or digit), e.g. 01-functions",
        )
    notebooks = notebooks_in(folder)
    if not notebooks:
        raise LessonFormatError(
            folder, "no .ipynb notebook in the lesson folder", fix="put the source notebook here"
        )
    if len(notebooks) > 1:
        names = ", ".join(p.name for p in notebooks)
        raise LessonFormatError(
            folder,
            f"several notebooks in one lesson folder ({names})",
            fix="keep exactly one source notebook per lesson; move the others to their own folders",
        )
    path = notebooks[0]
    raw = path.read_bytes()
    nb = read_notebook(path, raw)
    _refuse_learner_copy(path, nb)
    data_files = data_files_in(folder, path)
    builder = _Builder(path)
    for index, cell in enumerate(nb["cells"]):
        builder.add(index, cell)
    exercises = builder.exercises()
    if not exercises:
        raise LessonFormatError(
            path,
            "the lesson has no exercises"
            + (" (it holds only markdown cells)" if _only_markdown(nb) else ""),
            fix="tag the markdown cell that states a task `exercise=ID`, then tag the code "
            "learners complete `solution` and the checks `tests` (see docs/format.md)",
        )
    metadata = nb["metadata"]
    kernelspec = metadata.get("kernelspec") or dict(DEFAULT_KERNELSPEC)
    language = str(kernelspec.get("language", "python")) if isinstance(kernelspec, dict) else ""
    if language.lower() != "python":
        raise LessonFormatError(
            path,
            f"the notebook's kernel language is {language!r}; eduproject lessons are Python",
            fix="select a Python 3 kernel in JupyterLab (Kernel -> Change Kernel) and save",
        )
    return Lesson(
        id=folder.name,
        title=builder.lesson_title or folder.name,
        folder=folder,
        notebook_path=path,
        version=lesson_version(raw, folder, data_files),
        cells=tuple(builder.cells),
        exercises=exercises,
        data_files=data_files,
        kernelspec=kernelspec,
        language_info=metadata.get("language_info") or {"name": "python"},
        policy=builder.lesson_policy,
    )


def _refuse_learner_copy(path: Path, nb: dict[str, Any]) -> None:
    """A learner notebook written by release is not a lesson source: say so plainly."""
    ours = nb["metadata"].get("eduproject")
    panels = any(
        isinstance(c.get("metadata", {}).get("eduproject"), dict)
        and c["metadata"]["eduproject"].get("role") == "panel"
        for c in nb["cells"]
    )
    if not (isinstance(ours, dict) and "lesson" in ours and "version" in ours) and not panels:
        return
    lesson = ours.get("lesson", "?") if isinstance(ours, dict) else "?"
    raise LessonFormatError(
        path,
        f"this is a learner notebook that `eduproject release` wrote for lesson {lesson!r} "
        "(solutions already replaced by stubs, tutor panels added), not a lesson source",
        fix=f"release the instructor's source folder instead, e.g. `eduproject release "
        f"exercises/{lesson}`",
    )


def _only_markdown(nb: dict[str, Any]) -> bool:
    return all(c.get("cell_type") != "code" for c in nb["cells"])


@dataclass
class _Draft:
    """An exercise while its cells are being read."""

    id: str
    index: int
    label: str
    prompt: str
    all_or_nothing: bool
    origin: str | None
    manual: bool = False
    points: float = 1.0  # a manual exercise's points
    tests: list[TestCase] = field(default_factory=list)
    test_cells: list[int] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)  # manual: the instructor's answers
    rubric: str = ""
    rubric_cell: int | None = None
    solutions: list[str] = field(default_factory=list)
    stubs: list[str] = field(default_factory=list)
    hints: tuple[str, ...] = ()
    avoid: tuple[str, ...] = ()
    hints_cell: int | None = None
    policy: PolicyLayer = field(default_factory=PolicyLayer)
    policy_cell: int | None = None


class _Builder:
    """Classifies cells one by one, keeping the state the format's rules need."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.cells: list[Cell] = []
        self.drafts: dict[str, _Draft] = {}
        self.current: _Draft | None = None
        self.cell_ids: dict[str, int] = {}
        self.lesson_title: str | None = None
        self.lesson_policy = PolicyLayer()
        self.lesson_policy_cell: int | None = None

    def add(self, index: int, nb_cell: dict[str, Any]) -> None:
        kind: str = nb_cell["cell_type"]
        source = cell_source(nb_cell)
        where = CellRef(self.path, index, cell_label(source, nb_cell.get("id")))
        metadata = nb_cell.get("metadata", {})
        ours, foreign, exercise_id, points, flags = self._tags(metadata.get("tags", []), where)
        cell_id = self._cell_id(nb_cell, index, source, where)
        ours_meta = metadata.get("eduproject")
        origin = ours_meta.get("origin") if isinstance(ours_meta, dict) else None
        origin = origin if isinstance(origin, str) else None
        tag = ours[0] if ours else None

        if tag is not None and tag not in LESSON_TAGS and self.current is None:
            raise where.error(
                f"a `{tag}` cell before any exercise",
                "add a markdown cell tagged `exercise=ID` above it, or move the cell below one",
            )
        manual = "manual" in flags
        if points is not None and tag not in ("tests", "hidden-tests") and not manual:
            raise where.error(
                "a `points=` tag on a cell that is not a test cell",
                "put `points=N` on a cell tagged `tests` or `hidden-tests` (or on the "
                "`exercise=` cell of a `manual` exercise)",
            )
        if flags and exercise_id is None:
            raise where.error(
                f"the `{flags[0]}` tag is only allowed on an `exercise=` cell",
                "move the tag to the exercise's prompt cell",
            )
        if manual and "all-or-nothing" in flags:
            raise where.error(
                "a `manual` exercise cannot be `all-or-nothing` (it has no tests)",
                "keep one of the two tags",
            )
        self._check_manual(tag, where)
        self._check_kind(kind, tag, exercise_id, where)
        if kind != "code" and scan(source, where):
            raise where.error(
                f"markers in a {kind} cell",
                "markers only work in code cells: change the cell type to code, or remove them",
            )

        role, learner = Role.CONTEXT, source
        cell_points: float | None = None
        if exercise_id is not None:
            role = Role.PROMPT
            self._start_exercise(exercise_id, source, "all-or-nothing" in flags, origin, where)
            if manual:
                assert self.current is not None
                self.current.manual = True
                self.current.points = 1.0 if points is None else points
        elif tag in ("solution", "solution-cell"):
            role, learner = Role.SOLUTION, self._solution(tag, source, where)
        elif tag in ("tests", "hidden-tests"):
            role = Role.TESTS if tag == "tests" else Role.HIDDEN_TESTS
            cell_points = points
            learner = self._tests(cell_id, source, points, tag == "hidden-tests", origin, where)
        elif tag == "answer":
            role, learner = Role.ANSWER, self._answer(kind, source, where)
        elif tag == "rubric":
            role = Role.RUBRIC
            self._rubric(source, where)
        elif tag == "hints":
            role = Role.HINTS
            self._hints(source, where)
        elif tag == "ai-policy":
            role = Role.POLICY
            self._policy(source, where)
        elif tag == "setup":
            role = Role.SETUP
            check_allowed(scan(source, where), set(), where, "setup")
            check_compiles(source, where, "the setup cell")
        else:
            check_allowed(scan(source, where), set(), where, "untagged")
            if kind == "markdown" and self.current is None and self.lesson_title is None:
                self.lesson_title = heading(source)
        self.cells.append(
            Cell(
                index=index,
                cell_id=cell_id,
                kind=kind,
                role=role,
                exercise=self.current.id if self.current else None,
                source=source,
                learner_source=None
                if role in (Role.HIDDEN_TESTS, Role.HINTS, Role.POLICY, Role.RUBRIC)
                else learner,
                points=cell_points,
                foreign_tags=tuple(foreign),
                origin=origin,
                attachments=nb_cell.get("attachments") if kind != "code" else None,
            )
        )

    def _tags(
        self, tags: Any, where: CellRef
    ) -> tuple[list[str], list[str], str | None, float | None, list[str]]:
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise where.error(
                "cell tags are not a list of strings", "re-create the tags in JupyterLab"
            )
        ours: list[str] = []
        foreign: list[str] = []
        flags: list[str] = []
        exercise_id: str | None = None
        points: float | None = None
        for tag in dict.fromkeys(tags):  # drop repeats, keep order
            if tag in ROLE_TAGS:
                ours.append(tag)
            elif tag in FOREIGN_TAGS:
                foreign.append(tag)
            elif tag in FLAG_TAGS:
                flags.append(tag)
            elif tag.startswith("exercise="):
                exercise_id = tag.removeprefix("exercise=")
                if not EXERCISE_ID_RE.fullmatch(exercise_id):
                    raise where.error(
                        f"exercise id {exercise_id!r} is not valid: {_id_problem(exercise_id)}",
                        "use 1-48 letters, digits, '_' or '-', e.g. `exercise=sum_evens`",
                    )
            elif tag.startswith("points="):
                points = parse_points(tag.removeprefix("points="), where, "tag")
            else:
                raise where.error(f"unknown tag {tag!r}{_did_you_mean(tag)}", _known_tags_fix())
        roles = ours + ([f"exercise={exercise_id}"] if exercise_id is not None else [])
        if len(roles) > 1:
            listed = ", ".join(f"`{r}`" for r in roles)
            raise where.error(
                f"conflicting tags {listed}: a cell has one role", "keep only one of these tags"
            )
        return ours, foreign, exercise_id, points, flags

    def _cell_id(self, nb_cell: dict[str, Any], index: int, source: str, where: CellRef) -> str:
        cell_id = nb_cell.get("id")
        if cell_id is None:
            # nbformat 4.4 has no ids: derive a stable one from position and content.
            digest = hashlib.sha256(f"{index}\n{source}".encode()).hexdigest()[:12]
            cell_id = f"cell-{index}-{digest}"
        if not isinstance(cell_id, str) or not CELL_ID_RE.fullmatch(cell_id):
            raise where.error(
                f"cell id {cell_id!r} is not a valid nbformat id",
                "delete the cell's `id` field (JupyterLab writes a new one on save)",
            )
        if cell_id in self.cell_ids or cell_id.startswith("panel-"):
            first = self.cell_ids.get(cell_id)
            problem = (
                f"cell id {cell_id!r} is also used by cell {first}"
                if first is not None
                else f"cell id {cell_id!r} is reserved for the tutor panel cells"
            )
            raise where.error(
                problem,
                "give this cell a new id: cut and paste it in JupyterLab, or delete its `id` field "
                "(grading matches cells by id, so ids must be unique)",
            )
        self.cell_ids[cell_id] = where.index
        return cell_id

    def _check_kind(
        self, kind: str, tag: str | None, exercise_id: str | None, where: CellRef
    ) -> None:
        want = (
            "markdown"
            if exercise_id is not None or tag in ("hints", "ai-policy", "rubric")
            else "code"
        )
        if tag == "answer" and kind in ("code", "markdown"):
            return  # a written answer or code
        if (exercise_id is not None or tag is not None) and kind != want:
            shown = f"exercise={exercise_id}" if exercise_id is not None else tag
            raise where.error(
                f"the `{shown}` tag is on a {kind} cell; it belongs on a {want} cell",
                f"change the cell type to {want}, or move the tag to a {want} cell",
            )

    def _start_exercise(
        self,
        exercise_id: str,
        source: str,
        all_or_nothing: bool,
        origin: str | None,
        where: CellRef,
    ) -> None:
        if exercise_id in self.drafts:
            first = self.drafts[exercise_id].index
            raise where.error(
                f"duplicate exercise id {exercise_id!r} (first used in cell {first})",
                "give every exercise in the lesson its own id",
            )
        self._finish_current()
        self.current = _Draft(exercise_id, where.index, where.label, source, all_or_nothing, origin)
        self.drafts[exercise_id] = self.current

    def _check_manual(self, tag: str | None, where: CellRef) -> None:
        """Tests and solutions belong to auto-graded exercises, answers and rubrics to manual ones."""
        draft = self.current
        if draft is None or tag is None:
            return
        if draft.manual and tag in ("solution", "solution-cell", "tests", "hidden-tests"):
            raise where.error(
                f"a `{tag}` cell in the manual exercise {draft.id!r}",
                "a manual exercise is graded by hand: tag the cell learners answer in "
                "`answer`, or remove the `manual` tag from the exercise to grade it by tests",
            )
        if not draft.manual and tag in ("answer", "rubric"):
            raise where.error(
                f"an `{tag}` cell in exercise {draft.id!r}, which is not manual",
                "add the tag `manual` to the exercise's `exercise=` cell (graded by hand), "
                "or tag the cell `solution` and add tests",
            )

    def _answer(self, kind: str, source: str, where: CellRef) -> str:
        """A manual exercise's answer cell: the instructor's answer stays in the bundle."""
        assert self.current is not None
        if kind == "markdown":
            self.current.answers.append(source)
            learner = MARKDOWN_ANSWER_STUB
        else:
            markers = scan(source, where)
            check_allowed(markers, {Marker.BEGIN_SOLUTION, Marker.END_SOLUTION}, where, "answer")
            check_compiles(source, where, "the answer cell")
            if markers:
                learner = stub_solutions(source, where)
                check_compiles(learner, where, "the learner copy of the answer cell")
                self.current.answers.append(without_markers(source, where))
            else:
                learner = whole_cell_stub()
                self.current.answers.append(source)
        self.current.stubs.append(learner)
        return learner

    def _rubric(self, source: str, where: CellRef) -> None:
        draft = self.current
        assert draft is not None
        if draft.rubric_cell is not None:
            raise where.error(
                f"exercise {draft.id!r} already has a rubric cell (cell {draft.rubric_cell})",
                "merge the rubric into one cell tagged `rubric`",
            )
        draft.rubric, draft.rubric_cell = source, where.index

    def _solution(self, tag: str, source: str, where: CellRef) -> str:
        assert self.current is not None
        markers = scan(source, where)
        if tag == "solution-cell":
            check_allowed(markers, set(), where, "solution-cell")
            check_compiles(source, where, "the solution")
            learner = whole_cell_stub()
            self.current.solutions.append(source)
        else:
            check_allowed(markers, {Marker.BEGIN_SOLUTION, Marker.END_SOLUTION}, where, "solution")
            regions(markers, Marker.BEGIN_SOLUTION, Marker.END_SOLUTION, where)
            check_compiles(source, where, "the solution")  # markers are comments: lines stay
            learner = stub_solutions(source, where)
            check_compiles(
                learner,
                where,
                "the learner copy (the stub in place of each solution region; put the markers "
                "around whole statements)",
            )
            self.current.solutions.append(without_markers(source, where))
        self.current.stubs.append(learner)
        return learner

    def _tests(
        self,
        cell_id: str,
        source: str,
        points: float | None,
        hidden: bool,
        origin: str | None,
        where: CellRef,
    ) -> str:
        draft = self.current
        assert draft is not None
        check_compiles(source, where, "the test cell")
        specs, learner = split_tests(
            source,
            where,
            default_name=f"{draft.id}-{len(draft.test_cells) + 1}",
            cell_points=points,
            cell_hidden=hidden,
        )
        if learner:
            check_compiles(
                learner,
                where,
                "the learner copy of this test cell (hidden lines removed; put "
                "`### BEGIN/END HIDDEN TESTS` around whole statements)",
            )
        known = {t.name for t in draft.tests}
        for spec in specs:
            check_compiles(
                spec.source,
                where,
                f"test {spec.name!r} on its own (the cell's shared setup and the test's lines; "
                "`### TEST` lines must not split a block)",
            )
            if spec.visible_source and spec.visible_source != spec.source:
                check_compiles(
                    spec.visible_source,
                    where,
                    f"the visible part of test {spec.name!r} (what `eduproject.check` runs)",
                )
            if spec.name in known:
                raise where.error(
                    f"exercise {draft.id!r} already has a test named {spec.name!r}",
                    "give every test of an exercise its own name",
                )
            draft.tests.append(
                TestCase(
                    name=spec.name,
                    exercise=draft.id,
                    points=spec.points,
                    source=spec.source,
                    visible_source=spec.visible_source,
                    hidden=spec.hidden,
                    cell_id=cell_id,
                    origin=origin,
                    shared=spec.shared,
                    shared_hidden=spec.shared_hidden,
                    visible_shared=spec.visible_shared,
                    open_lines=spec.open_lines,
                )
            )
        draft.test_cells.append(where.index)
        return learner

    def _hints(self, source: str, where: CellRef) -> None:
        draft = self.current
        assert draft is not None
        if draft.hints_cell is not None:
            raise where.error(
                f"exercise {draft.id!r} already has a hints cell (cell {draft.hints_cell})",
                "merge the hints into one cell tagged `hints`",
            )
        draft.hints, draft.avoid = parse_hints(source, where)
        draft.hints_cell = where.index

    def _policy(self, source: str, where: CellRef) -> None:
        """An ``ai-policy`` cell: the lesson's above the first exercise, else the exercise's."""
        draft = self.current
        first = self.lesson_policy_cell if draft is None else draft.policy_cell
        if first is not None:
            whose = "the lesson" if draft is None else f"exercise {draft.id!r}"
            raise where.error(
                f"{whose} already has an ai-policy cell (cell {first})",
                "merge the settings into one cell tagged `ai-policy`",
            )
        try:
            layer = layer_from_cell(source)
        except PolicyProblem as exc:
            raise where.error(exc.problem, exc.fix) from None
        if draft is None:
            self.lesson_policy, self.lesson_policy_cell = layer, where.index
        else:
            draft.policy, draft.policy_cell = layer, where.index

    def _finish_current(self) -> None:
        draft = self.current
        if draft is None:
            return
        where = CellRef(self.path, draft.index, draft.label)
        if draft.manual:
            return  # answers are optional: learners may answer in cells they add
        if not draft.tests:
            raise where.error(
                f"exercise {draft.id!r} has no tests",
                "add a code cell tagged `tests` or `hidden-tests` after the exercise's prompt",
            )
        if not draft.solutions:
            raise where.error(
                f"exercise {draft.id!r} has no solution cell",
                "tag the code cell learners complete `solution` (with markers) or `solution-cell`",
            )

    def exercises(self) -> tuple[Exercise, ...]:
        self._finish_current()
        return tuple(
            Exercise(
                id=d.id,
                title=heading(d.prompt) or d.id,
                prompt=d.prompt,
                tests=tuple(d.tests),
                hints=d.hints,
                avoid=d.avoid,
                all_or_nothing=d.all_or_nothing,
                solution="\n\n".join(d.solutions),
                stub="\n\n".join(d.stubs),
                origin=d.origin,
                policy=d.policy,
                manual=d.manual,
                points=d.points if d.manual else 0.0,
                rubric=d.rubric,
                model_answer="\n\n".join(d.answers),
            )
            for d in self.drafts.values()
        )


def _id_problem(exercise_id: str) -> str:
    if not exercise_id:
        return "it is empty"
    if len(exercise_id) > 48:
        return f"it has {len(exercise_id)} characters, at most 48 are allowed"
    bad = sorted({c for c in exercise_id if not re.fullmatch(r"[A-Za-z0-9_-]", c)})
    shown = ", ".join(repr(c) for c in bad)
    return f"{shown} {'is' if len(bad) == 1 else 'are'} not allowed"


def _did_you_mean(tag: str) -> str:
    candidates = [*ROLE_TAGS, *FLAG_TAGS, *FOREIGN_TAGS, "exercise=", "points="]
    close = difflib.get_close_matches(tag, candidates, n=1, cutoff=0.7)
    return f" (did you mean `{close[0]}`?)" if close else ""


def _known_tags_fix() -> str:
    return (
        "use one of the eduproject tags "
        + ", ".join(f"`{t}`" for t in KNOWN_TAGS)
        + ", or a tag other tools understand: "
        + ", ".join(f"`{t}`" for t in FOREIGN_TAGS)
    )
