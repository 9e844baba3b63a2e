"""The grading engine: one submission in, one :class:`SubmissionResult` out.

What the notebook does when run top to bottom, grading does (docs/grading.md). The engine
reads the submission, pairs its cells with the sealed bundle's and makes the *plan*: the
bundle's cells in notebook order, where

* ``setup`` cells run the BUNDLE's source (a changed copy is reported as tampered);
* solution and context cells run the SUBMISSION's source; cells the learner added run in their
  submission order, after the cell they follow;
* test cells run the bundle's tests (visible ones in place, hidden ones from a checkpoint);
* tutor panel cells are not run.

A fresh sandboxed learner process (``zygote.py``) and a fresh judge (``judge.py``, the trusted
process that runs the tests) then walk the plan together. When a cell or a visible test hangs or
kills the learner process, that step costs only its own exercise: the engine starts the
submission again from a fresh process and skips the step (a *replay*), so later exercises are
graded from the state the notebook would have had without it.

Points come from the bundle only. Every exercise gets a status (``results.Status``). With a
lesson, its bundle's data and a sandbox to spawn learner processes in:

    >>> engine = Engine(lesson, data_files={}, spawner=zygote, limits=Limits())  # doctest: +SKIP
    >>> result = engine.grade("ada", Path("submissions/ada.ipynb"), data)  # doctest: +SKIP
    >>> result.score, result.status  # doctest: +SKIP
    (7.0, <Status.GRADED: 'graded'>)
"""

from __future__ import annotations

import ast
import importlib.util
import time
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from eduproject.core.answers import answer_cells, answer_hash
from eduproject.core.lesson import Cell, Exercise, Lesson, Role, TestCase
from eduproject.core.results import ExerciseResult, Status, SubmissionResult, TestOutcome
from eduproject.errors import SandboxError, SubmissionError
from eduproject.runner.executed import (
    OutputBudget,
    Step,
    code_cell,
    notebook,
    shown_cell,
    tests_cell,
)
from eduproject.runner.judges import JudgeRun, JudgeServer
from eduproject.runner.namespace import bindings, global_reads, judge_code
from eduproject.runner.sandbox import ChildExit, Limits, SandboxedChild
from eduproject.runner.submissions import (
    Matched,
    SubmittedCell,
    match_cells,
    parse_notebook,
    submission_hash,
)

__all__ = ["Engine", "Spawner", "invalid_result", "preload_for", "worst"]

# Worst first: the status an exercise gets when several things went wrong.
_PRECEDENCE = (
    Status.INVALID,
    Status.TAMPERED,
    Status.REVIEW,
    Status.KILLED,
    Status.TIMEOUT,
    Status.ERROR,
    Status.PENDING,
    Status.GRADED,
)
# Modules never imported ahead of time by the zygote (side effects on import).
_NO_PRELOAD = frozenset({"antigravity", "this", "tkinter", "turtle", "idlelib", "webbrowser"})
MAX_REPLAYS = 4  # steps that hang or kill the learner process, skipped one replay each


class Spawner(Protocol):
    """Makes a fresh learner process, and the judge server of the lesson's files."""

    limits: Limits

    def spawn(self, files: dict[str, bytes]) -> SandboxedChild: ...

    def judges(self, files: dict[str, bytes]) -> JudgeServer: ...


def worst(statuses: list[Status]) -> Status:
    return min(statuses, key=_PRECEDENCE.index, default=Status.GRADED)


def preload_for(lesson: Lesson) -> list[str]:
    """Modules the lesson's own code imports (setup, solution, context and test cells).

    >>> preload_for(pandas_lesson)   # doctest: +SKIP
    ['pandas']
    """
    names: set[str] = set()
    ipython_syntax = False
    roles = (Role.SETUP, Role.SOLUTION, Role.CONTEXT, Role.TESTS, Role.HIDDEN_TESTS)
    for cell in lesson.cells:
        if cell.kind != "code" or cell.role not in roles:
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            ipython_syntax = True  # magics or `!` lines (or a slip the grader reports)
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module.split(".")[0])
    # The lesson's own helper modules import from its files, which the zygote does not have;
    # an installed package of the same name must not be preloaded in their place.
    local = {rel.parts[0].removesuffix(".py") for rel in lesson.data_files}
    wanted = sorted(n for n in names - _NO_PRELOAD - local if _importable(n))
    if "matplotlib" in wanted:
        wanted.append("matplotlib.pyplot")  # the inline backend hooks in when pyplot loads
    if ipython_syntax:
        # The judge reads such cells with IPython's transformer (namespace.python_source);
        # loaded once up front, not in every judge. Lessons in plain Python never load it
        # there: two thirds of a judge server's start-up.
        wanted.append("IPython.core.inputtransformer2")
    return wanted


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def invalid_result(
    lesson: Lesson, learner: str, path: Path, digest: str, reason: str, sandbox: str = ""
) -> SubmissionResult:
    """The result of a submission that could not be read: every exercise ``invalid``."""
    exercises = tuple(
        ExerciseResult(e.id, 0.0, e.max_score, Status.INVALID, reason, manual=e.manual)
        for e in lesson.exercises
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
    """A step that hung or killed the learner process (skipped when the submission replays)."""

    step: int
    test: str | None  # a visible test, or None for a cell (or a test cell's shared code)
    status: Status
    detail: str
    whole: bool = False  # the whole-submission time ran out (no replay can help)


@dataclass
class _Attempt:
    """What one run of the plan reported."""

    cells: dict[int, dict[str, Any]] = field(default_factory=dict)
    tests: dict[tuple[int, str], dict[str, Any]] = field(default_factory=dict)
    lost: dict[tuple[int, str], str] = field(default_factory=dict)
    death: _Death | None = None
    setup_problems: list[str] = field(default_factory=list)
    judge_failure: str = ""
    exit: ChildExit | None = None
    phases: dict[str, float] = field(default_factory=dict)


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
        # What the judge is told of the instructor's cells: the same for every submission.
        self._told: dict[str, dict[str, Any]] = {}
        self._reads: list[str] | None = None

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
            return replace(result, duration_s=time.monotonic() - start)
        files = dict(self.data_files)
        files[path.name] = data
        steps, exercise_of = self._plan(matched)
        job = self._job(steps)
        deaths: dict[tuple[int, str | None], _Death] = {}
        budget = start + 2 * self.limits.timeout + 10.0
        phases: dict[str, float] = {}
        while True:
            job["last"] = (
                len(deaths) >= MAX_REPLAYS
                or time.monotonic() > budget - 2 * self.limits.cell_timeout
            )
            attempt = self._attempt(files, job, budget)
            for name, seconds in attempt.phases.items():
                phases[name] = phases.get(name, 0.0) + seconds
            death = attempt.death
            if death is None:
                break
            if (
                death.status == Status.KILLED
                and attempt.exit is not None
                and "exit()" not in death.detail
            ):
                death = replace(death, detail=attempt.exit.describe())
            deaths[(death.step, death.test)] = death
            if (
                death.whole
                or len(deaths) > MAX_REPLAYS
                or time.monotonic() > budget - self.limits.cell_timeout
            ):
                break
            _skip(job, death)
        result = self._result(learner, path, digest, steps, exercise_of, matched, attempt, deaths)
        phases["replays"] = float(len(deaths))
        return replace(result, duration_s=time.monotonic() - start, phases=phases)

    # -- plan ------------------------------------------------------------------------------

    def _plan(self, matched: Matched) -> tuple[list[Step], list[str | None]]:
        copies: dict[str, list[SubmittedCell]] = defaultdict(list)
        extras: dict[str | None, list[tuple[int, SubmittedCell]]] = defaultdict(list)
        anchor: str | None = None
        for position, (submitted, bundle) in enumerate(matched.pairs):
            if bundle is not None:
                copies[bundle.cell_id].append(submitted)
                anchor = bundle.cell_id
            else:
                extras[anchor].append((position, submitted))
        exercise_at: dict[str | None, str | None] = {None: None}
        steps: list[Step] = []
        exercise_of: list[str | None] = []

        def add(step: Step, exercise: str | None) -> None:
            steps.append(step)
            exercise_of.append(exercise)

        def added(key: str | None) -> None:
            for pos, s in extras[key]:
                action = "show" if s.kind != "code" or pos in matched.ignored else "run"
                add(Step(action, None, s, s.source), exercise_at.get(key))

        added(None)
        for cell in self.lesson.cells:
            exercise_at[cell.cell_id] = cell.exercise
            mine = copies[cell.cell_id]
            if cell.role == Role.SETUP and cell.kind == "code":
                add(Step("run", cell, mine[0] if mine else None, cell.source), cell.exercise)
            elif cell.role in (Role.TESTS, Role.HIDDEN_TESTS):
                add(Step("tests", cell, None), cell.exercise)
            elif cell.role in (Role.SOLUTION, Role.CONTEXT, Role.ANSWER) and cell.kind == "code":
                for s in mine:
                    add(Step("run", cell, s, s.source), cell.exercise)
            elif cell.role != Role.HINTS:
                for s in mine:
                    add(Step("show", cell, s), cell.exercise)
            added(cell.cell_id)
        return steps, exercise_of

    def _job(self, steps: list[Step]) -> dict[str, Any]:
        """The plan as the judge reads it (see ``judge.py``)."""
        out: list[dict[str, Any]] = []
        copied: set[str] = set()
        for index, step in enumerate(steps):
            cell = step.cell
            if step.action == "run":
                role = "added" if cell is None else cell.role.value
                item: dict[str, Any] = {"i": index, "kind": "run", "code": step.code, "role": role}
                # Who binds what is read from the instructor's cell; a learner-added cell
                # binds nothing the instructor knows of. Each bundle cell counts once.
                if cell is not None and cell.cell_id not in copied:
                    copied.add(cell.cell_id)
                    item.update(self._instructor_cell(cell))
                out.append(item)
            elif step.action == "tests" and cell is not None:
                tests = self.tests_by_cell.get(cell.cell_id, [])
                first = tests[0] if tests else None
                out.append(
                    {
                        "i": index,
                        "kind": "tests",
                        "prelude": first.prelude if first else "",
                        "prelude_hidden": bool(first and first.shared_hidden),
                        "tests": [_test_job(t) for t in tests],
                    }
                )
        limits = self.limits
        if self._reads is None:
            reads: set[str] = set()
            for cell in self.lesson.cells:
                if cell.kind == "code" and cell.role in (Role.SETUP, Role.SOLUTION, Role.CONTEXT):
                    reads |= global_reads(cell.source)
            self._reads = sorted(reads)
        return {
            "steps": out,
            "reads": self._reads,
            "limits": {
                "cell_timeout": limits.cell_timeout,
                "timeout": limits.timeout,
                "max_message": limits.max_message,
            },
        }

    def _instructor_cell(self, cell: Cell) -> dict[str, Any]:
        """Who binds what in an instructor's cell, and what of it the judge runs itself."""
        told = self._told.get(cell.cell_id)
        if told is None:
            found = bindings(cell.source)
            told = {
                "binds": [list(b) for b in found],
                "judge": judge_code(cell.source, defs=cell.role == Role.SETUP),
            }
            if cell.role == Role.SETUP:
                told["remember"] = sorted({n for n, k in found if k in ("assign", "class")})
            self._told[cell.cell_id] = told
        return told

    # -- one run of the plan -----------------------------------------------------------------

    def _attempt(self, files: dict[str, bytes], job: dict[str, Any], budget: float) -> _Attempt:
        attempt = _Attempt()
        clock = time.monotonic()

        def lap(name: str) -> None:
            nonlocal clock
            now = time.monotonic()
            attempt.phases[name] = attempt.phases.get(name, 0.0) + now - clock
            clock = now

        child = self.spawner.spawn(files)
        lap("spawn")
        run: JudgeRun | None = None
        try:
            run = self.spawner.judges(self.data_files).spawn(child.detach())
            run.send_job({**job, "learner_pid": child.pid})
            lap("judge")
            deadline = min(budget, time.monotonic() + 2 * self.limits.timeout + 10.0)
            for event in run.events(deadline):
                self._take(event, attempt, child)
            lap("run")
        except SandboxError as exc:
            attempt.judge_failure = exc.message
        finally:
            if run is not None:
                run.end()
            attempt.exit = child.end(kill=True)
            lap("end")
        return attempt

    def _take(self, event: dict[str, Any], attempt: _Attempt, child: SandboxedChild) -> None:
        kind = event.get("ev")
        index = event.get("i")
        if kind == "cell" and type(index) is int and type(event.get("reply")) is dict:
            attempt.cells[index] = event["reply"]
        elif kind == "test" and type(index) is int and type(event.get("name")) is str:
            attempt.tests[(index, event["name"])] = event
        elif kind == "death" and type(index) is int:
            test = event.get("test") if type(event.get("test")) is str else None
            status = Status.TIMEOUT if event.get("timeout") else Status.KILLED
            attempt.death = _Death(
                index, test, status, str(event.get("detail", ""))[:500], event.get("whole") is True
            )
        elif kind == "kill" and type(event.get("pid")) is int:
            child.kill(event["pid"])
        elif kind == "checkpoint-lost" and type(index) is int:
            for name in event.get("tests", []):
                attempt.lost[(index, str(name))] = str(event.get("detail", ""))[:500]
        elif kind == "judge-setup" and type(index) is int:
            attempt.setup_problems.append(str(event.get("message", ""))[:500])
        elif kind == "done" and type(event.get("phases")) is dict:
            for name, seconds in event["phases"].items():
                if type(name) is str and type(seconds) is float:
                    attempt.phases[f"judge:{name}"] = seconds
        elif kind in ("error", "lost"):
            attempt.judge_failure = str(event.get("message") or event.get("detail") or kind)[-2000:]

    # -- results ---------------------------------------------------------------------------

    def _result(
        self,
        learner: str,
        path: Path,
        digest: str,
        steps: list[Step],
        exercise_of: list[str | None],
        matched: Matched,
        attempt: _Attempt,
        deaths: dict[tuple[int, str | None], _Death],
    ) -> SubmissionResult:
        budget = OutputBudget(2 * self.limits.max_output)
        problems: dict[str, list[tuple[Status, str]]] = defaultdict(list)
        outcomes: dict[tuple[int, str], tuple[TestOutcome, str]] = {}
        nb_cells: list[dict[str, Any]] = []
        details: list[str] = []
        for index, step in enumerate(steps):
            exercise = exercise_of[index]
            if step.action == "show":
                nb_cells.append(shown_cell(step))
                continue
            if step.action == "run":
                nb_cells.append(
                    self._cell(index, step, exercise, attempt, deaths, budget, problems)
                )
                death = deaths.get((index, None))
                if death is not None:
                    details.append(self._describe(death, step))
                continue
            tests = self.tests_by_cell.get(step.cell.cell_id if step.cell else "", [])
            lines = []
            for test in tests:
                outcome, printed = self._outcome(index, test, attempt, deaths, problems)
                outcomes[(index, test.name)] = (outcome, printed)
                lines.append((outcome, printed))
            nb_cells.append(tests_cell(step, lines))
        if attempt.judge_failure:
            details.append(f"the grader's judge failed: {attempt.judge_failure}")
        details.extend(f"a setup cell failed in the grader: {p}" for p in attempt.setup_problems)
        executed = notebook(self.lesson, learner, nb_cells)
        exercises = tuple(
            self._exercise_result(e, outcomes, problems, matched, attempt, executed)
            for e in self.lesson.exercises
        )
        return SubmissionResult(
            learner=learner,
            lesson=self.lesson.id,
            lesson_version=self.lesson.version,
            path=str(path),
            submission_hash=digest,
            exercises=exercises,
            status=worst([e.status for e in exercises]),
            detail="; ".join(dict.fromkeys(details)),
            sandbox=self.sandbox,
            executed_notebook=executed,
        )

    def _cell(
        self,
        index: int,
        step: Step,
        exercise: str | None,
        attempt: _Attempt,
        deaths: dict[tuple[int, str | None], _Death],
        budget: OutputBudget,
        problems: dict[str, list[tuple[Status, str]]],
    ) -> dict[str, Any]:
        nb_cell = code_cell(step, step.code)
        death = deaths.get((index, None))
        if death is not None:
            text = self._describe(death, step)
            nb_cell["outputs"] = [
                {
                    "output_type": "error",
                    "ename": death.status.value,
                    "evalue": text,
                    "traceback": [text],
                }
            ]
            if exercise is not None:
                problems[exercise].append((death.status, text))
            return nb_cell
        reply = attempt.cells.get(index)
        if reply is None:
            return nb_cell
        nb_cell["outputs"] = budget.take(reply.get("outputs"))
        count = reply.get("execution_count")
        nb_cell["execution_count"] = count if type(count) is int else None
        error = reply.get("error")
        solution = step.cell is not None and step.cell.role == Role.SOLUTION
        if reply.get("status") == "error" and exercise and type(error) is dict and solution:
            name = str(error.get("type", "Exception"))[:200]
            text = f"{name}: {str(error.get('message', ''))[:500]}"
            if error.get("base") == "MemoryError":
                limit = f"memory limit ({self.limits.memory_mb} MB) reached: {text}"
                problems[exercise].append((Status.KILLED, limit))
            else:
                problems[exercise].append((Status.ERROR, text))
        return nb_cell

    def _describe(self, death: _Death, step: Step) -> str:
        """What happened, named as a learner knows it: the exercise's title, never a cell id."""
        exercise = step.cell.exercise if step.cell is not None else None
        title = next((e.title for e in self.lesson.exercises if e.id == exercise), None)
        if death.test is not None:
            where = f"the test {death.test!r}" + (f" of “{title}”" if title else "")
        elif step.action == "tests":
            where = f"the tests of “{title}”" if title else "a test cell"
        elif title:
            where = f"your code for “{title}”"
        else:
            where = step.where()
        if death.whole:
            return (
                f"the notebook ran longer than {self.limits.timeout:g} s in all (while "
                f"{where} ran): the rest was not graded"
            )
        if death.status == Status.TIMEOUT:
            return (
                f"{where} ran longer than {self.limits.cell_timeout:g} s: does a loop never "
                "end? (it was stopped; the rest of the notebook was graded without it)"
            )
        return (
            f"{where} ended the program ({death.detail}); the rest of the notebook was graded "
            "without it"
        )

    def _outcome(
        self,
        index: int,
        test: TestCase,
        attempt: _Attempt,
        deaths: dict[tuple[int, str | None], _Death],
        problems: dict[str, list[tuple[Status, str]]],
    ) -> tuple[TestOutcome, str]:
        death = deaths.get((index, test.name)) or deaths.get((index, None))
        event = attempt.tests.get((index, test.name))
        if death is not None and event is None:
            what = (
                f"timed out after {self.limits.cell_timeout:g} s"
                if death.status == Status.TIMEOUT
                else "the learner's process ended"
            )
            problems[test.exercise].append((death.status, f"test {test.name!r}: {what}"))
            return self._make(test, False, what), ""
        if event is None:
            if attempt.death is not None and attempt.death.whole:
                what = f"not run: the submission ran longer than {self.limits.timeout:g} s"
                problems[test.exercise].append((Status.TIMEOUT, what))
                return self._make(test, False, what), ""
            why = attempt.lost.get((index, test.name))
            if why is None and attempt.judge_failure:
                problems[test.exercise].append(
                    (Status.REVIEW, f"the grader failed before test {test.name!r} ran")
                )
                why = "not run: the grader failed"
            return self._make(test, False, f"not run: {why}" if why else "not run"), ""
        passed = event.get("passed") is True
        message = str(event.get("message", ""))[:2000]
        printed = str(event.get("printed", ""))[:20_000]
        if event.get("timed_out") is True:
            problems[test.exercise].append((Status.TIMEOUT, f"test {test.name!r} timed out"))
        elif message.startswith("MemoryError"):  # not a plain failure: say which limit
            problems[test.exercise].append(
                (
                    Status.KILLED,
                    f"test {test.name!r}: the memory limit ({self.limits.memory_mb} MB) was "
                    "reached (grade with --memory to allow more)",
                )
            )
        elif event.get("gone") is True:
            problems[test.exercise].append((Status.KILLED, f"test {test.name!r}: {message}"))
        review = [str(r)[:300] for r in event.get("review", []) if type(r) is str]
        if passed and review:
            reason = "; ".join(review)
            problems[test.exercise].append(
                (Status.REVIEW, f"test {test.name!r} passed only because {reason}")
            )
            return self._make(test, True, "", review=reason), printed
        return self._make(test, passed, message), printed

    @staticmethod
    def _make(test: TestCase, passed: bool, message: str, *, review: str = "") -> TestOutcome:
        return TestOutcome(
            name=test.name,
            exercise=test.exercise,
            points=test.points if passed and not review else 0.0,
            max_points=test.points,
            passed=passed and not review,
            hidden=test.hidden,
            message=message,
            review=review,
        )

    def _exercise_result(
        self,
        exercise: Exercise,
        outcomes: dict[tuple[int, str], tuple[TestOutcome, str]],
        problems: dict[str, list[tuple[Status, str]]],
        matched: Matched,
        attempt: _Attempt,
        executed: dict[str, Any],
    ) -> ExerciseResult:
        if exercise.manual:
            # Graded by hand on the manual-grading page; the points wait in the gradebook.
            # An error in the answer's code is for the grader to judge, and a test or setup
            # cell edited elsewhere is the other exercises' status: the answer stays gradable.
            return ExerciseResult(
                exercise.id,
                0.0,
                exercise.max_score,
                Status.GRADED,
                manual=True,
                answer_hash=answer_hash(answer_cells(executed, exercise.id)),
            )
        # Test names are unique within an exercise, not across exercises.
        found = {(o.exercise, o.name): o for o, _ in outcomes.values()}
        tests = tuple(
            found.get((t.exercise, t.name)) or self._make(t, False, "not run")
            for t in exercise.tests
        )
        score = sum(o.points for o in tests)
        if exercise.all_or_nothing and not all(o.passed for o in tests):
            score = 0.0
        found_problems = list(problems.get(exercise.id, []))
        for reason in matched.tampered.get(exercise.id, []) + matched.tampered.get(None, []):
            found_problems.append((Status.TAMPERED, reason))
        status = worst([p[0] for p in found_problems])
        detail = "; ".join(dict.fromkeys(p[1] for p in found_problems))
        return ExerciseResult(exercise.id, score, exercise.max_score, status, detail, tests)


def _test_job(test: TestCase) -> dict[str, Any]:
    """One test as the judge reads it; a hidden test with a visible first part gets it apart
    (``open``: run in place like the learner's copy runs it; ``body``: the rest, hidden)."""
    item: dict[str, Any] = {"name": test.name, "body": test.body, "hidden": test.hidden}
    lines = test.body.split("\n")
    if test.hidden and 0 < test.open_lines < len(lines):
        opened = "\n".join(lines[: test.open_lines])
        if any(
            line.strip() and not line.strip().startswith("#") for line in lines[: test.open_lines]
        ):
            item["open"] = opened
            # Blank lines keep the hidden part's line numbers those of the whole test.
            item["body"] = "\n" * test.open_lines + "\n".join(lines[test.open_lines :])
    return item


def _skip(job: dict[str, Any], death: _Death) -> None:
    """Mark the step that died so that the next attempt skips it."""
    for step in job["steps"]:
        if step["i"] != death.step:
            continue
        if death.test is None:
            if step["kind"] == "run":
                step["skip"] = True
            else:  # a test cell's shared code: every test of the cell
                for test in step["tests"]:
                    test["skip"] = True
                step["prelude"] = ""
        else:
            for test in step["tests"]:
                if test["name"] == death.test:
                    test["skip"] = True
