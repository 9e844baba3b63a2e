"""The trusted grading engine: one submission in, one :class:`SubmissionResult` out.

The engine reads the submission, pairs its cells with the sealed bundle's, and walks the
bundle's cell order:

* ``setup`` cells run the BUNDLE's source (a changed copy is reported as tampered);
* solution and context cells run the SUBMISSION's source; cells the learner added run in their
  submission order, after the cell they follow;
* test cells are never sent to the learner process: at each test cell's position the engine
  takes a *snapshot* of the learner process (a fork, see ``harness.serve``); once every learner
  cell has run, it runs that cell's :class:`TestCase` s from the bundle in the grader
  (``verdict.py``) against the snapshot. So hidden test inputs reach only processes that run no
  further learner cell: no later cell can print them. (A kernel cannot be forked: there the
  tests run in place, at their position.)
* tutor panel cells are not run.

Points come from the bundle only. Every exercise gets a status (see ``results.Status``):
``graded``; ``error`` (its solution cell raised); ``timeout`` / ``killed`` (the learner process
hung or died while the exercise was in progress, or before it: later exercises share the fate,
earlier ones keep their scores); ``invalid`` (unreadable notebook); ``tampered`` (test or
setup cells edited, deleted or duplicated, or points changed; still graded with the bundle's
tests and points).

    >>> engine = Engine(lesson, data_files={}, spawner=zygote, limits=Limits())  # doctest: +SKIP
    >>> result = engine.grade("ada", Path("submissions/ada.ipynb"), data)
    >>> result.score, result.status
    (7.0, <Status.GRADED: 'graded'>)
"""

from __future__ import annotations

import ast
import importlib.util
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from eduproject.authoring.model import Exercise, Lesson, Role, TestCase
from eduproject.errors import SubmissionError
from eduproject.grading.executed import (
    OutputBudget,
    Step,
    code_cell,
    notebook,
    shown_cell,
    tests_cell,
)
from eduproject.grading.results import ExerciseResult, Status, SubmissionResult, TestOutcome
from eduproject.grading.sandbox import Limits
from eduproject.grading.submissions import (
    Matched,
    SubmittedCell,
    match_cells,
    parse_notebook,
    submission_hash,
)
from eduproject.grading.verdict import LearnerGone, LearnerProcess, Link, run_test

__all__ = ["Engine", "Spawner", "invalid_result", "preload_for"]

# Worst first: the status an exercise gets when several things went wrong.
_PRECEDENCE = (
    Status.INVALID,
    Status.TAMPERED,
    Status.KILLED,
    Status.TIMEOUT,
    Status.ERROR,
    Status.GRADED,
)
# Modules never imported ahead of time by the zygote (side effects on import).
_NO_PRELOAD = frozenset({"antigravity", "this", "tkinter", "turtle", "idlelib", "webbrowser"})


class Spawner(Protocol):
    """Makes a fresh learner process whose work folder holds exactly ``files``."""

    def spawn(self, files: dict[str, bytes]) -> LearnerProcess: ...


def worst(statuses: list[Status]) -> Status:
    return min(statuses, key=_PRECEDENCE.index, default=Status.GRADED)


def preload_for(lesson: Lesson) -> list[str]:
    """Modules the lesson's own code imports (setup, solution and context cells), to pre-import.

    >>> preload_for(pandas_lesson)   # doctest: +SKIP
    ['pandas']
    """
    names: set[str] = set()
    for cell in lesson.cells:
        if cell.kind != "code" or cell.role not in (Role.SETUP, Role.SOLUTION, Role.CONTEXT):
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module.split(".")[0])
    wanted = sorted(n for n in names - _NO_PRELOAD if importlib.util.find_spec(n) is not None)
    if "matplotlib" in wanted:
        wanted.append("matplotlib.pyplot")  # the inline backend hooks in when pyplot loads
    return wanted


def invalid_result(
    lesson: Lesson, learner: str, path: Path, digest: str, reason: str, sandbox: str = ""
) -> SubmissionResult:
    """The result of a submission that could not be read: every exercise ``invalid``."""
    exercises = tuple(
        ExerciseResult(e.id, 0.0, e.max_score, Status.INVALID, reason) for e in lesson.exercises
    )
    return SubmissionResult(
        learner=learner,
        lesson=lesson.id,
        lesson_version=lesson.version,
        path=str(path),
        submission_hash=digest,
        exercises=exercises,
        status=Status.INVALID,
        detail=reason,
        sandbox=sandbox,
    )


@dataclass(frozen=True)
class _Death:
    """Where and why the learner's processes stopped answering (the earliest such step)."""

    at: int  # index of the step in the plan
    status: Status
    detail: str
    main_process: bool  # the main learner process died: its exit says why (known at the end)


@dataclass
class _State:
    """What one grading run has learnt so far."""

    limits: Limits
    deadline: float
    budget: OutputBudget
    outcomes: dict[str, dict[str, tuple[TestOutcome, str]]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    problems: dict[str, list[tuple[Status, str]]] = field(default_factory=lambda: defaultdict(list))
    death: _Death | None = None

    def remaining(self) -> float:
        return min(self.limits.cell_timeout, self.deadline - time.monotonic())

    def died(self, at: int, status: Status, detail: str, *, main_process: bool = False) -> None:
        if self.death is None or at < self.death.at:
            self.death = _Death(at, status, detail, main_process)


class Engine:
    """Grades submissions of one lesson, each in a fresh learner process from ``spawner``."""

    def __init__(
        self,
        lesson: Lesson,
        *,
        data_files: dict[str, bytes],
        spawner: Spawner,
        limits: Limits,
        sandbox: str = "",
    ) -> None:
        self.lesson = lesson
        self.data_files = data_files
        self.spawner = spawner
        self.limits = limits
        self.sandbox = sandbox
        self.tests_by_cell: dict[str, list[TestCase]] = defaultdict(list)
        for exercise in lesson.exercises:
            for test in exercise.tests:
                self.tests_by_cell[test.cell_id].append(test)

    def grade(
        self, learner: str, path: Path, data: bytes | None, problem: str | None = None
    ) -> SubmissionResult:
        """Grade one submission (``data`` = the notebook's bytes; ``problem`` = why there are none)."""
        start = time.monotonic()
        digest = submission_hash(data or b"")
        try:
            if problem is not None or data is None:
                raise SubmissionError(problem or "no notebook")
            meta, cells = parse_notebook(data)
            matched = match_cells(self.lesson, meta, cells)
        except SubmissionError as exc:
            result = invalid_result(self.lesson, learner, path, digest, exc.message, self.sandbox)
            return _with_duration(result, start)
        files = dict(self.data_files)
        files[path.name] = data
        steps = self._plan(matched)
        state = _State(
            self.limits, start + self.limits.timeout, OutputBudget(2 * self.limits.max_output)
        )
        process = self.spawner.spawn(files)
        main = Link(process)
        nb_cells, pending = self._run_cells(steps, main, state)
        snapshots = [link for _, link in pending]
        # Every learner cell has run: now the tests, with a whole-submission allowance of their
        # own (learner cells that used up theirs must not starve the earlier exercises' tests).
        state.deadline = time.monotonic() + self.limits.timeout
        for index, link in pending:
            if state.death is not None and state.death.at < index:
                break
            self._run_tests(index, steps[index], link, state)
        for link in dict.fromkeys(snapshots):
            link.process.end()
        timed_out = state.death is not None and state.death.status == Status.TIMEOUT
        ended = process.end(kill=timed_out)
        if state.death is not None and state.death.main_process:
            death = state.death
            state.death = _Death(
                death.at, death.status, f"{ended.describe()} in {death.detail}", False
            )
        detail = state.death.detail if state.death else ""
        if state.death is None and ended.code not in (0, None):
            detail = ended.describe()
        for index, step in enumerate(steps):
            if step.action == "tests":
                nb_cells[index] = tests_cell(step, self._lines(step, state))
        exercises = tuple(
            self._exercise_result(e, steps, state, matched) for e in self.lesson.exercises
        )
        return SubmissionResult(
            learner=learner,
            lesson=self.lesson.id,
            lesson_version=self.lesson.version,
            path=str(path),
            submission_hash=digest,
            exercises=exercises,
            status=worst([e.status for e in exercises]),
            detail=detail,
            duration_s=time.monotonic() - start,
            sandbox=self.sandbox,
            executed_notebook=notebook(self.lesson, learner, nb_cells),
        )

    # -- plan ------------------------------------------------------------------------------

    def _plan(self, matched: Matched) -> list[Step]:
        copies: dict[str, list[SubmittedCell]] = defaultdict(list)
        extras: dict[str | None, list[tuple[int, SubmittedCell]]] = defaultdict(list)
        anchor: str | None = None
        for position, (submitted, bundle) in enumerate(matched.pairs):
            if bundle is not None:
                copies[bundle.cell_id].append(submitted)
                anchor = bundle.cell_id
            else:
                extras[anchor].append((position, submitted))

        def added(key: str | None) -> list[Step]:
            return [
                Step(
                    "show" if s.kind != "code" or pos in matched.ignored else "run",
                    None,
                    s,
                    s.source,
                )
                for pos, s in extras[key]
            ]

        steps = added(None)
        for cell in self.lesson.cells:
            mine = copies[cell.cell_id]
            if cell.role == Role.SETUP and cell.kind == "code":
                steps.append(Step("run", cell, mine[0] if mine else None, cell.source))
            elif cell.role in (Role.TESTS, Role.HIDDEN_TESTS):
                steps.append(Step("tests", cell, None))
            elif cell.role in (Role.SOLUTION, Role.CONTEXT) and cell.kind == "code":
                steps += [Step("run", cell, s, s.source) for s in mine]
            elif cell.role != Role.HINTS:
                steps += [Step("show", cell, s) for s in mine]
            steps += added(cell.cell_id)
        return steps

    # -- execution -------------------------------------------------------------------------

    def _run_cells(
        self, steps: list[Step], main: Link, state: _State
    ) -> tuple[list[dict[str, Any]], list[tuple[int, Link]]]:
        """Run the learner cells; snapshot the process at each test cell (run later).

        Returns the notebook cells (test cells are filled in at the end) and the pending test
        cells with their snapshots. Test cells with no learner cell between them share one.
        """
        cells: list[dict[str, Any]] = []
        pending: list[tuple[int, Link]] = []
        snapshot: Link | None = None
        for index, step in enumerate(steps):
            if step.action == "show":
                cells.append(shown_cell(step))
            elif step.action == "run":
                cells.append(self._run_cell(index, step, main, state))
                snapshot = None
            else:
                cells.append(code_cell(step, ""))
                if state.death is not None:
                    continue
                if snapshot is None:
                    main.deadline = time.monotonic() + state.remaining()
                    try:
                        snapshot = main.snapshot()
                    except LearnerGone as gone:
                        self._died(state, index, step, gone, main_process=True)
                        continue
                if snapshot is None:  # the learner process cannot be copied: test in place
                    self._run_tests(index, step, main, state)
                else:
                    pending.append((index, snapshot))
        return cells, pending

    def _run_cell(self, index: int, step: Step, main: Link, state: _State) -> dict[str, Any]:
        nb_cell = code_cell(step, step.code)
        if state.death is not None:
            return nb_cell
        main.deadline = time.monotonic() + state.remaining()
        try:
            reply = main.ask_raw({"op": "run_cell", "code": step.code})
        except LearnerGone as gone:
            self._died(state, index, step, gone, main_process=True)
            return nb_cell
        nb_cell["outputs"] = state.budget.take(reply.get("outputs"))
        count = reply.get("execution_count")
        nb_cell["execution_count"] = count if type(count) is int else None
        error = reply.get("error")
        exercise = step.cell.exercise if step.cell is not None else None
        solution = step.cell is not None and step.cell.role == Role.SOLUTION
        if reply.get("status") == "error" and exercise and type(error) is dict and solution:
            name = str(error.get("type", "Exception"))[:200]
            text = f"{name}: {str(error.get('message', ''))[:500]}"
            if error.get("base") == "MemoryError":
                limit = f"memory limit ({self.limits.memory_mb} MB) reached: {text}"
                state.problems[exercise].append((Status.KILLED, limit))
            else:
                state.problems[exercise].append((Status.ERROR, text))
        return nb_cell

    def _died(
        self, state: _State, index: int, step: Step, gone: LearnerGone, *, main_process: bool
    ) -> None:
        where = step.where()
        if gone.timeout:
            if time.monotonic() >= state.deadline - 0.01:
                why = f"the submission ran longer than {self.limits.timeout:g} s (the whole-submission limit)"
            else:
                why = f"{where} ran longer than {self.limits.cell_timeout:g} s (the per-cell limit)"
            state.died(index, Status.TIMEOUT, why)
        elif main_process:
            state.died(index, Status.KILLED, where, main_process=True)
        else:
            state.died(index, Status.KILLED, f"the learner's process ended while {where} ran")

    def _run_tests(self, index: int, step: Step, link: Link, state: _State) -> None:
        assert step.cell is not None
        for test in self.tests_by_cell.get(step.cell.cell_id, []):
            run = run_test(test, link, state.remaining())
            if run.gone is not None:
                self._died(state, index, step, run.gone, main_process=False)
                return  # the rest of this cell is "not run"
            if run.timed_out:
                state.problems[test.exercise].append(
                    (Status.TIMEOUT, f"test {test.name!r} timed out")
                )
            outcome = TestOutcome(
                name=test.name,
                exercise=test.exercise,
                points=test.points if run.passed else 0.0,
                max_points=test.points,
                passed=run.passed,
                hidden=test.hidden,
                message="" if test.hidden else run.message,
            )
            state.outcomes[test.exercise][test.name] = (outcome, run.printed)

    # -- results ---------------------------------------------------------------------------

    def _outcome(self, test: TestCase, state: _State) -> tuple[TestOutcome, str]:
        """What ``test`` gave, or a failed "not run" outcome when it never ran."""
        found = state.outcomes.get(test.exercise, {}).get(test.name)
        if found is not None:
            return found
        why = (
            "" if test.hidden else (f"not run: {state.death.detail}" if state.death else "not run")
        )
        return TestOutcome(test.name, test.exercise, 0.0, test.points, False, test.hidden, why), ""

    def _lines(self, step: Step, state: _State) -> list[tuple[TestOutcome, str]]:
        assert step.cell is not None
        return [self._outcome(t, state) for t in self.tests_by_cell.get(step.cell.cell_id, [])]

    def _exercise_result(
        self, exercise: Exercise, steps: list[Step], state: _State, matched: Matched
    ) -> ExerciseResult:
        outcomes = [self._outcome(t, state)[0] for t in exercise.tests]
        score = sum(o.points for o in outcomes)
        if exercise.all_or_nothing and not all(o.passed for o in outcomes):
            score = 0.0
        problems = list(state.problems.get(exercise.id, []))
        test_steps = [
            i
            for i, s in enumerate(steps)
            if s.action == "tests" and s.cell is not None and s.cell.exercise == exercise.id
        ]
        # In progress or not reached when the learner's processes stopped: shares the fate.
        if state.death is not None and test_steps and test_steps[-1] >= state.death.at:
            problems.append((state.death.status, state.death.detail))
        for reason in matched.tampered.get(exercise.id, []) + matched.tampered.get(None, []):
            problems.append((Status.TAMPERED, reason))
        status = worst([p[0] for p in problems])
        detail = "; ".join(dict.fromkeys(p[1] for p in problems))
        return ExerciseResult(
            exercise.id, score, exercise.max_score, status, detail, tuple(outcomes)
        )


def _with_duration(result: SubmissionResult, start: float) -> SubmissionResult:
    from dataclasses import replace

    return replace(result, duration_s=time.monotonic() - start)
