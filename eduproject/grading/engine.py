"""The trusted grading engine: one submission in, one :class:`SubmissionResult` out.

The engine reads the submission, pairs its cells with the sealed bundle's, and walks the
bundle's cell order:

* ``setup`` cells run the BUNDLE's source (a changed copy is reported as tampered);
* solution and context cells run the SUBMISSION's source; cells the learner added run in their
  submission order, after the cell they follow;
* test cells are never sent to the learner process: at each test cell's position the engine
  runs that cell's :class:`TestCase` s from the bundle in the grader (``verdict.py``);
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

from eduproject.authoring.model import Cell, Exercise, Lesson, Role, TestCase
from eduproject.errors import SubmissionError
from eduproject.grading.results import ExerciseResult, Status, SubmissionResult, TestOutcome
from eduproject.grading.sandbox import Limits
from eduproject.grading.submissions import (
    Matched,
    SubmittedCell,
    match_cells,
    parse_notebook,
    submission_hash,
)
from eduproject.grading.verdict import LearnerGone, LearnerProcess, Link, TestRun, run_test

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


@dataclass
class _Step:
    """One step of the plan: run a cell, run a test cell's tests, or just show a cell."""

    action: str  # "run" | "tests" | "show"
    cell: Cell | None
    submitted: SubmittedCell | None
    code: str = ""


@dataclass
class _State:
    """What one grading run has learnt so far."""

    link: Link
    limits: Limits
    deadline: float
    outcomes: dict[str, list[TestOutcome]] = field(default_factory=lambda: defaultdict(list))
    problems: dict[str, list[tuple[Status, str]]] = field(default_factory=lambda: defaultdict(list))
    finished: set[str] = field(default_factory=set)
    death: tuple[Status, str] | None = None
    output_budget: int = 0

    def remaining(self) -> float:
        return min(self.limits.cell_timeout, self.deadline - time.monotonic())


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
        # An exercise is finished (its score final) once its last test cell has run.
        self.last_test_cell = {
            c.exercise: c.cell_id for c in lesson.cells if c.role in (Role.TESTS, Role.HIDDEN_TESTS)
        }

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
        process = self.spawner.spawn(files)
        state = _State(Link(process), self.limits, start + self.limits.timeout)
        state.output_budget = 2 * self.limits.max_output
        notebook_cells = self._run(self._plan(matched), matched, state)
        ended = process.end(kill=state.death is not None and state.death[0] == Status.TIMEOUT)
        if state.death is None and ended.code not in (0, None):
            state.death = (Status.KILLED, ended.describe())
        exercises = tuple(self._exercise_result(e, state, matched) for e in self.lesson.exercises)
        return SubmissionResult(
            learner=learner,
            lesson=self.lesson.id,
            lesson_version=self.lesson.version,
            path=str(path),
            submission_hash=digest,
            exercises=exercises,
            status=worst([e.status for e in exercises]),
            detail=state.death[1] if state.death else "",
            duration_s=time.monotonic() - start,
            sandbox=self.sandbox,
            executed_notebook=self._notebook(learner, notebook_cells),
        )

    # -- plan ------------------------------------------------------------------------------

    def _plan(self, matched: Matched) -> list[_Step]:
        copies: dict[str, list[SubmittedCell]] = defaultdict(list)
        extras: dict[str | None, list[tuple[int, SubmittedCell]]] = defaultdict(list)
        anchor: str | None = None
        for position, (submitted, bundle) in enumerate(matched.pairs):
            if bundle is not None:
                copies[bundle.cell_id].append(submitted)
                anchor = bundle.cell_id
            else:
                extras[anchor].append((position, submitted))

        def added(key: str | None) -> list[_Step]:
            return [
                _Step(
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
                steps.append(_Step("run", cell, mine[0] if mine else None, cell.source))
            elif cell.role in (Role.TESTS, Role.HIDDEN_TESTS):
                steps.append(_Step("tests", cell, None))
            elif cell.role in (Role.SOLUTION, Role.CONTEXT) and cell.kind == "code":
                steps += [_Step("run", cell, s, s.source) for s in mine]
            elif cell.role != Role.HINTS:
                steps += [_Step("show", cell, s) for s in mine]
            steps += added(cell.cell_id)
        return steps

    # -- execution -------------------------------------------------------------------------

    def _run(self, steps: list[_Step], matched: Matched, state: _State) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for step in steps:
            if step.action == "show":
                out.append(_shown(step))
            elif step.action == "run":
                out.append(self._run_cell(step, state))
            else:
                out.append(self._run_tests(step, state))
        return out

    def _run_cell(self, step: _Step, state: _State) -> dict[str, Any]:
        nb_cell = _code_cell(step, step.code)
        if state.death is not None:
            return nb_cell
        state.link.deadline = time.monotonic() + state.remaining()
        exercise = step.cell.exercise if step.cell is not None else None
        try:
            reply = state.link.ask_raw({"op": "run_cell", "code": step.code})
        except LearnerGone as gone:
            self._died(state, gone, step)
            return nb_cell
        nb_cell["outputs"] = _capped_outputs(reply.get("outputs"), state)
        count = reply.get("execution_count")
        nb_cell["execution_count"] = count if type(count) is int else None
        error = reply.get("error")
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

    def _died(self, state: _State, gone: LearnerGone, step: _Step) -> None:
        where = _where(step)
        if gone.timeout:
            if time.monotonic() >= state.deadline - 0.01:
                why = f"the submission ran longer than {self.limits.timeout:g} s (the whole-submission limit)"
            else:
                why = f"{where} ran longer than {self.limits.cell_timeout:g} s (the per-cell limit)"
            state.death = (Status.TIMEOUT, why)
        else:
            ended = state.link.process.end()
            state.death = (Status.KILLED, f"{ended.describe()} in {where}")

    def _run_tests(self, step: _Step, state: _State) -> dict[str, Any]:
        cell = step.cell
        assert cell is not None
        lines: list[str] = []
        for test in self.tests_by_cell.get(cell.cell_id, []):
            if state.death is not None:
                run = TestRun(False, f"not run: {state.death[1]}")
            else:
                run = run_test(test, state.link, state.remaining())
                if run.gone is not None:
                    self._died(state, run.gone, _Step("tests", cell, None))
                elif run.timed_out:
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
            state.outcomes[test.exercise].append(outcome)
            lines.append(_outcome_line(outcome, "" if test.hidden else run.printed))
        if state.death is None and self.last_test_cell.get(cell.exercise) == cell.cell_id:
            state.finished.add(cell.exercise or "")
        source = (
            cell.learner_source
            if cell.role == Role.TESTS and cell.learner_source
            else "# hidden tests"
        )
        nb_cell = _code_cell(step, source)
        nb_cell["outputs"] = (
            [{"output_type": "stream", "name": "stdout", "text": "".join(lines)}] if lines else []
        )
        return nb_cell

    # -- results ---------------------------------------------------------------------------

    def _exercise_result(
        self, exercise: Exercise, state: _State, matched: Matched
    ) -> ExerciseResult:
        outcomes = state.outcomes.get(exercise.id, [])
        ran = {o.name for o in outcomes}
        for test in exercise.tests:  # tests never reached (the process died before their cell)
            if test.name not in ran:
                why = f"not run: {state.death[1]}" if state.death else "not run"
                outcomes.append(
                    TestOutcome(
                        test.name,
                        exercise.id,
                        0.0,
                        test.points,
                        False,
                        test.hidden,
                        "" if test.hidden else why,
                    )
                )
        score = sum(o.points for o in outcomes)
        if exercise.all_or_nothing and not all(o.passed for o in outcomes):
            score = 0.0
        problems = list(state.problems.get(exercise.id, []))
        untested = exercise.id not in self.last_test_cell
        if state.death is not None and exercise.id not in state.finished and not untested:
            problems.append(state.death)
        for reason in matched.tampered.get(exercise.id, []) + matched.tampered.get(None, []):
            problems.append((Status.TAMPERED, reason))
        status = worst([p[0] for p in problems])
        detail = "; ".join(dict.fromkeys(p[1] for p in problems))
        return ExerciseResult(
            exercise.id, score, exercise.max_score, status, detail, tuple(outcomes)
        )

    def _notebook(self, learner: str, cells: list[dict[str, Any]]) -> dict[str, Any]:
        seen: set[str] = set()
        for i, cell in enumerate(cells):
            if cell["id"] in seen:
                cell["id"] = f"{cell['id']}-{i}"
            seen.add(cell["id"])
        return {
            "cells": cells,
            "metadata": {
                "eduproject": {
                    "lesson": self.lesson.id,
                    "version": self.lesson.version,
                    "learner": learner,
                },
                "kernelspec": self.lesson.kernelspec,
                "language_info": self.lesson.language_info,
            },
            "nbformat": 4,
            "nbformat_minor": 5,
        }


def _with_duration(result: SubmissionResult, start: float) -> SubmissionResult:
    from dataclasses import replace

    return replace(result, duration_s=time.monotonic() - start)


def _where(step: _Step) -> str:
    if step.action == "tests" and step.cell is not None:
        return f"the tests of cell {step.cell.cell_id!r}"
    if step.cell is not None:
        return f"cell {step.cell.cell_id!r}"
    if step.submitted is not None:
        return f"cell {step.submitted.index} of the notebook"
    return "a cell"


def _cell_meta(step: _Step) -> dict[str, Any]:
    if step.cell is None:
        return {}
    meta: dict[str, Any] = {"cell": step.cell.cell_id, "role": step.cell.role.value}
    if step.cell.exercise is not None:
        meta["exercise"] = step.cell.exercise
    return {"eduproject": meta}


def _cell_id(step: _Step) -> str:
    if step.cell is not None:
        return step.cell.cell_id
    return f"added-{step.submitted.index if step.submitted else 0}"


def _code_cell(step: _Step, source: str) -> dict[str, Any]:
    return {
        "cell_type": "code",
        "id": _cell_id(step),
        "metadata": _cell_meta(step),
        "source": source,
        "outputs": [],
        "execution_count": None,
    }


def _shown(step: _Step) -> dict[str, Any]:
    submitted = step.submitted
    kind = submitted.kind if submitted is not None else "markdown"
    source = submitted.source if submitted is not None else ""
    if kind == "code":
        return _code_cell(step, source)
    cell: dict[str, Any] = {
        "cell_type": kind,
        "id": _cell_id(step),
        "metadata": _cell_meta(step),
        "source": source,
    }
    if submitted is not None and submitted.attachments:
        cell["attachments"] = submitted.attachments
    return cell


def _capped_outputs(outputs: Any, state: _State) -> list[dict[str, Any]]:
    """The learner process's outputs, shape-checked and within the submission's budget."""
    import json

    kept: list[dict[str, Any]] = []
    if type(outputs) is not list:
        return kept
    for out in outputs:
        if type(out) is not dict or out.get("output_type") not in (
            "stream",
            "display_data",
            "execute_result",
            "error",
        ):
            continue
        size = len(json.dumps(out))
        if size > state.output_budget:
            kept.append({"output_type": "stream", "name": "stderr", "text": "[output truncated]\n"})
            state.output_budget = 0
            break
        state.output_budget -= size
        kept.append(out)
    return kept


def _outcome_line(outcome: TestOutcome, printed: str) -> str:
    mark = "PASS" if outcome.passed else "FAIL"
    label = f"{outcome.name} (hidden)" if outcome.hidden else outcome.name
    line = f"{mark} {label}: {outcome.points:g}/{outcome.max_points:g} points"
    if outcome.message:
        line += f" -- {outcome.message}"
    extra = "".join(f"    {text}\n" for text in printed.splitlines()[:50])
    return line + "\n" + extra
