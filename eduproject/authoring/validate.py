"""Validate a lesson by running it: solutions must pass every test, stubs must fail.

Two notebooks are built from the lesson and executed headlessly with papermill, one kernel
each: the instructor copy (solutions in place) and the learner copy (solutions stubbed, as
released). In both, each test cell's shared code runs once, then every test -- hidden ones
included -- through a small wrapper that records a verdict (passed, or the exception and the
failing line) as a display output, so one failing test never stops the others. Tutor panel
cells are never run.

The same two copies are then GRADED, through the grading engine and its sandbox, exactly as
learners' submissions are. What the notebook does when run top to bottom, grading must do:
a test whose verdict differs between the two runs, or that passes in grading only because
learner code decided it (it would be marked for review), is a lesson problem named precisely.
On the sample course (it starts kernels and sandboxes):

    >>> report = validate_lesson(Path("exercises/01-functions"))  # doctest: +SKIP
    >>> [(r.exercise, r.solution, r.stub) for r in report.rows]  # doctest: +SKIP
    [('greet', 'pass', 'fails-as-expected'), ('absolute_value', 'pass', 'fails-as-expected'), ...]
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eduproject.authoring.adequacy import ExerciseAdequacy, mutation_report
from eduproject.authoring.parse import find_lessons, load_lesson
from eduproject.core.lesson import Cell, Lesson, Role, TestCase
from eduproject.errors import LessonValidationError

if TYPE_CHECKING:
    from eduproject.core.results import SubmissionResult

KERNEL_NAME = "python3"
VERDICT_MIME = "application/vnd.eduproject.verdict+json"
_META = "eduproject_validate"

# Defined once per kernel, in a module of its own (a lesson's `%reset -f` cannot remove it);
# runs a test's code in the notebook's namespace and displays a verdict.
_HELPER = """
def test(source):
    import traceback
    from IPython import get_ipython
    from IPython.display import display
    filename = "<eduproject test>"
    verdict = {"passed": True}
    try:
        exec(compile(source, filename, "exec"), get_ipython().user_ns)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        line = exc.lineno if isinstance(exc, SyntaxError) else None
        for frame in traceback.extract_tb(exc.__traceback__):
            if frame.filename == filename:
                line = frame.lineno
        lines = source.split(chr(10))
        text = lines[line - 1].strip() if line and line <= len(lines) else ""
        verdict = {"passed": False, "error": type(exc).__name__, "message": str(exc),
                   "line": line, "text": text}
    display({MIME: verdict}, raw=True)
"""
_PRELUDE = (
    "import sys as _sys, types as _types\n"
    "_helper = _types.ModuleType('_eduproject_validate')\n"
    f"_helper.MIME = {VERDICT_MIME!r}\n"
    "_sys.modules['_eduproject_validate'] = _helper\n"
    f"exec({_HELPER!r}, _helper.__dict__)\n"
    "del _sys, _types, _helper\n"
    # Shell commands and package installs never run in validation (as in grading).
    "__import__('eduproject.runner.harness', fromlist=['_'])"
    ".refuse_shell_escapes(get_ipython())\n"
)


@dataclass(frozen=True)
class TestVerdict:
    """One test's outcome in one run. ``detail`` says why it failed ("" when it passed)."""

    exercise: str
    test: str
    cell: int  # index of the test cell in the source notebook
    passed: bool
    detail: str = ""


@dataclass(frozen=True)
class ExerciseValidation:
    """One row of the validation table."""

    lesson: str
    exercise: str
    tests: int
    solution_passes: bool
    stub_fails: bool
    graded: str = ""  # the solution graded as a submission: "3/3"
    manual: bool = False  # graded by hand: no tests; the model answer only has to run

    @property
    def solution(self) -> str:
        return "pass" if self.solution_passes else "fail"

    @property
    def stub(self) -> str:
        if self.manual:
            return "graded by hand"
        return "fails-as-expected" if self.stub_fails else "passes!"


@dataclass(frozen=True)
class ValidationReport:
    """Both copies run as notebooks (``instructor``, ``learner``) and graded
    (``graded_instructor``, ``graded_learner``: the grading engine's verdicts)."""

    lesson: str
    rows: tuple[ExerciseValidation, ...]
    instructor: tuple[TestVerdict, ...]
    learner: tuple[TestVerdict, ...]
    problems: tuple[str, ...]  # one precise line each; empty when the lesson is sound
    seconds: float
    graded_instructor: tuple[TestVerdict, ...] = ()
    graded_learner: tuple[TestVerdict, ...] = ()
    adequacy: tuple[ExerciseAdequacy, ...] = ()  # with --mutants: what the tests let through

    @property
    def ok(self) -> bool:
        return not self.problems

    def raise_for_problems(self) -> None:
        """Raise :class:`LessonValidationError` listing every problem, if there is any."""
        if self.problems:
            raise LessonValidationError(
                f"lesson {self.lesson!r} is broken:\n  " + "\n  ".join(self.problems),
                hint=f"fix the solution or the tests in exercises/{self.lesson}, "
                f"then run `eduproject validate exercises/{self.lesson}` again",
            )


def validate_lesson(
    folder: Path, *, timeout: float = 60, raise_on_problems: bool = True, mutants: bool = False
) -> ValidationReport:
    """Run the instructor and learner copies of the lesson in ``folder``; see the module doc.

    ``timeout`` bounds each cell, in seconds. With ``raise_on_problems`` (the default) a
    broken lesson raises :class:`LessonValidationError`; otherwise the report lists the problems.
    With ``mutants``, small slips in each solution are graded too (``adequacy.py``): the
    report's ``adequacy`` says which ones the tests accept.
    """
    started = time.perf_counter()
    lesson = load_lesson(Path(folder))
    _check_kernel()
    problems: list[str] = []
    # Both copies run at once, each in its own folder (files one writes never help the other);
    # meanwhile the grading engine grades them.
    with (
        tempfile.TemporaryDirectory(prefix="eduproject-validate-") as tmp,
        ThreadPoolExecutor(max_workers=3) as pool,
    ):
        instructor_run = pool.submit(_in_thread, lesson, Path(tmp), learner=False, timeout=timeout)
        learner_run = pool.submit(_in_thread, lesson, Path(tmp), learner=True, timeout=timeout)
        graded_run = pool.submit(_grade_copies, lesson, timeout, mutants)
        instructor, cell_errors = instructor_run.result()
        learner, _ = learner_run.result()
        graded_instructor, graded_learner, adequacy = graded_run.result()
    problems.extend(cell_errors)
    differ = _differences(lesson, instructor, graded_instructor, "the solution")
    problems.extend(differ.values())
    for key, line in _differences(lesson, learner, graded_learner, "the learner copy").items():
        if key not in differ:  # one line per test
            problems.append(line)

    rows = []
    for exercise in lesson.exercises:
        if exercise.manual:
            # No tests: its model answer runs with the instructor copy (errors are reported
            # with the cell above); the points are a person's to give.
            rows.append(
                ExerciseValidation(
                    lesson.id, exercise.id, 0, True, True, f"manual/{exercise.max_score:g}", True
                )
            )
            continue
        mine = [v for v in instructor if v.exercise == exercise.id]
        theirs = [v for v in learner if v.exercise == exercise.id]
        solution_passes = all(v.passed for v in mine)
        stub_fails = not all(v.passed for v in theirs)
        for v in mine:
            if not v.passed:
                problems.append(
                    f"lesson {lesson.id!r}, exercise {exercise.id!r}, cell {v.cell}, "
                    f"test {v.test!r}: the solution fails: {v.detail}"
                )
        if not stub_fails:
            first = next(
                c.index
                for c in lesson.cells
                if c.exercise == exercise.id and c.role is Role.SOLUTION
            )
            problems.append(
                f"lesson {lesson.id!r}, exercise {exercise.id!r}, cell {first}: the learner copy "
                "passes every test, so learners would score full marks without writing anything; "
                "put the answer inside the solution markers, or add a test the stub fails"
            )
        earned = sum(
            t.points for t in exercise.tests
            for v in graded_instructor if v.test == t.name and v.exercise == exercise.id and v.passed
        )  # fmt: skip
        rows.append(
            ExerciseValidation(
                lesson.id,
                exercise.id,
                len(exercise.tests),
                solution_passes,
                stub_fails,
                f"{earned:g}/{exercise.max_score:g}",
            )
        )
    report = ValidationReport(
        lesson=lesson.id,
        rows=tuple(rows),
        instructor=tuple(instructor),
        learner=tuple(learner),
        problems=tuple(problems),
        seconds=time.perf_counter() - started,
        graded_instructor=tuple(graded_instructor),
        graded_learner=tuple(graded_learner),
        adequacy=tuple(adequacy),
    )
    if raise_on_problems:
        report.raise_for_problems()
    return report


def validate_lessons(
    paths: Iterable[Path], *, timeout: float = 60, mutants: bool = False, jobs: int | None = None
) -> list[ValidationReport]:
    """Validate every lesson in ``paths`` (a parent folder means each lesson in it), in order.

    ``jobs`` lessons run at once (default: one per CPU core, at most 4; each lesson runs two
    kernels and a grading sandbox of its own, so they never share state). Broken lessons do
    not raise here; pass the reports to :func:`raise_for_problems`.
    """
    folders = find_lessons(paths)
    jobs = jobs or min(os.cpu_count() or 1, 4)
    if jobs < 1:
        raise ValueError(f"jobs must be 1 or more, not {jobs}")

    def one(folder: Path) -> ValidationReport:
        return validate_lesson(folder, timeout=timeout, raise_on_problems=False, mutants=mutants)

    if jobs == 1 or len(folders) < 2:
        return [one(f) for f in folders]
    with ThreadPoolExecutor(max_workers=min(jobs, len(folders))) as pool:
        return list(pool.map(one, folders))


def raise_for_problems(reports: Iterable[ValidationReport]) -> None:
    """Raise one :class:`LessonValidationError` naming every problem of every report."""
    broken = [r for r in reports if not r.ok]
    if len(broken) == 1:
        broken[0].raise_for_problems()
    if broken:
        lines = [p for r in broken for p in r.problems]
        names = ", ".join(r.lesson for r in broken)
        raise LessonValidationError(
            f"{len(broken)} lessons are broken ({names}):\n  " + "\n  ".join(lines),
            hint="fix the solutions or tests named above, then run `eduproject validate` again",
        )


def _grade_copies(
    lesson: Lesson, timeout: float, mutants: bool
) -> tuple[list[TestVerdict], list[TestVerdict], list[ExerciseAdequacy]]:
    """Grade the instructor copy and the released learner copy as submissions (and, with
    ``mutants``, the solution's mutants)."""
    from eduproject.authoring.release import dumps, learner_notebook, solution_notebook
    from eduproject.runner.engine import Engine, preload_for
    from eduproject.runner.sandbox import Limits, Zygote, detect_backend

    limits = Limits(cell_timeout=timeout, timeout=max(300.0, 10 * timeout))
    data = {rel.as_posix(): (lesson.folder / rel).read_bytes() for rel in lesson.data_files}
    backend = detect_backend()
    with Zygote(backend, preload=preload_for(lesson), limits=limits, lesson_files=data) as zygote:
        engine = Engine(
            lesson, data_files=data, spawner=zygote, limits=limits, sandbox=backend.description
        )
        path = Path(f"{lesson.id}.ipynb")
        solution = engine.grade("instructor", path, dumps(solution_notebook(lesson)))
        stub = engine.grade("learner", path, dumps(learner_notebook(lesson)))
        adequacy = mutation_report(lesson, engine) if mutants else []
    return _graded_verdicts(lesson, solution), _graded_verdicts(lesson, stub), adequacy


def _graded_verdicts(lesson: Lesson, result: SubmissionResult) -> list[TestVerdict]:
    index = {c.cell_id: c.index for c in lesson.cells}
    cell_of = {(t.exercise, t.name): t.cell_id for e in lesson.exercises for t in e.tests}
    return [
        TestVerdict(
            t.exercise,
            t.name,
            index.get(cell_of[(t.exercise, t.name)], -1),
            t.passed,
            "" if t.passed else (t.review and f"marked for review: {t.review}") or t.message,
        )
        for e in result.exercises
        for t in e.tests
    ]


def _differences(
    lesson: Lesson, ran: list[TestVerdict], graded: list[TestVerdict], copy: str
) -> dict[tuple[str, str], str]:
    """Tests whose verdict in grading is not the notebook's (the rule: they must agree)."""
    out = {}
    notebook = {(v.exercise, v.test): v for v in ran}
    for v in graded:
        other = notebook.get((v.exercise, v.test))
        if other is None or other.passed == v.passed:
            continue
        where = f"lesson {lesson.id!r}, exercise {v.exercise!r}, cell {v.cell}, test {v.test!r}"
        if other.passed:
            line = (
                f"{where}: passes when {copy} runs as a notebook but fails when graded: {v.detail}"
            )
        else:
            line = (
                f"{where}: fails when {copy} runs as a notebook ({other.detail}) but passes "
                "when graded"
            )
        out[(v.exercise, v.test)] = line
    return out


def _check_kernel() -> None:
    """Make sure the ``python3`` kernel runs this environment's Python (where the course's packages are)."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(KERNEL_NAME)
    except NoSuchKernel:
        raise LessonValidationError(
            "no Jupyter kernel named 'python3' is installed",
            hint=f"run `{sys.executable} -m ipykernel install --sys-prefix`",
        ) from None
    program = spec.argv[0] if spec.argv else ""
    major, minor = sys.version_info[:2]
    # jupyter_client runs a bare "python" as the current interpreter.
    if (
        program not in ("python", f"python{major}", f"python{major}.{minor}")
        and Path(program).resolve() != Path(sys.executable).resolve()
    ):
        raise LessonValidationError(
            f"the 'python3' Jupyter kernel runs {program}, not this environment's {sys.executable}",
            hint=f"run `{sys.executable} -m ipykernel install --sys-prefix` to install this "
            "environment's kernel",
        )


def _in_thread(
    lesson: Lesson, root: Path, *, learner: bool, timeout: float
) -> tuple[list[TestVerdict], list[str]]:
    """:func:`_run` in a worker thread, closing the event loop nbclient opens for that thread."""
    try:
        return _run(lesson, root, learner=learner, timeout=timeout)
    finally:
        with contextlib.suppress(RuntimeError):  # no loop was opened
            loop = asyncio.get_event_loop_policy().get_event_loop()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
            asyncio.set_event_loop(None)


def _run(
    lesson: Lesson, root: Path, *, learner: bool, timeout: float
) -> tuple[list[TestVerdict], list[str]]:
    """Execute one copy of the lesson; return the test verdicts and the failing non-test cells."""
    import papermill
    from nbclient.exceptions import DeadKernelError
    from papermill.exceptions import PapermillExecutionError
    from traitlets.config import Config

    which = "learner" if learner else "instructor"
    workdir = root / which
    for rel in lesson.data_files:
        (workdir / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(lesson.folder / rel, workdir / rel)
    workdir.mkdir(exist_ok=True)
    source = root / f"{which}.ipynb"
    output = root / f"{which}.out.ipynb"
    source.write_text(json.dumps(_notebook(lesson, learner=learner)), encoding="utf-8")
    try:
        papermill.execute_notebook(
            source,
            output,
            kernel_name=KERNEL_NAME,
            # The kernel's working folder; papermill's cwd= would chdir this whole process.
            resources={"metadata": {"path": str(workdir)}},
            progress_bar=False,
            request_save_on_cell_execute=False,
            execution_timeout=timeout,
            allow_errors=True,
            interrupt_on_timeout=True,
            # Unix sockets in the private temp folder: no open TCP ports, no ipykernel warning.
            # An absolute prefix: the kernel runs in workdir, we do not.
            config=Config(
                {"KernelManager": {"transport": "ipc", "ip": str(root / f"{which}-ipc")}}
            ),
            # jupyter_client interrupts a kernel before shutting it down, and ipykernel logs
            # that interrupt as an ERROR: noise, since cell errors come back in the outputs.
            extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
        )
    except PapermillExecutionError:
        pass  # allowed cell errors; we read them from the written notebook below
    except DeadKernelError:
        raise LessonValidationError(
            f"lesson {lesson.id!r}: the kernel died while running the {which} notebook",
            hint="a cell ends the Python process (os._exit, exhausted memory, a crashing "
            f"extension); run {lesson.notebook_path} in JupyterLab to see which",
        ) from None
    except Exception as exc:  # the kernel could not start, ...
        raise LessonValidationError(
            f"lesson {lesson.id!r}: could not run the {which} notebook: {type(exc).__name__}: {exc}",
            hint=f"check that `{sys.executable} -m ipykernel --version` works",
        ) from None
    executed = json.loads(output.read_text(encoding="utf-8"))
    return _read_verdicts(lesson, executed, learner=learner, timeout=timeout)


def _notebook(lesson: Lesson, *, learner: bool) -> dict[str, Any]:
    tests_by_cell: dict[str, list[TestCase]] = {}
    for exercise in lesson.exercises:
        for test in exercise.tests:
            tests_by_cell.setdefault(test.cell_id, []).append(test)
    cells = [_code(_PRELUDE, {"cell": None})]
    for cell in lesson.cells:
        if cell.kind != "code":
            continue
        if cell.role in (Role.TESTS, Role.HIDDEN_TESTS):
            # Tests always run: grading runs them whatever their tags say. The cell's shared
            # code runs once, then each test, in the notebook's namespace (as grading does).
            tests = tests_by_cell[cell.cell_id]
            if tests and tests[0].prelude.strip():
                meta = {"cell": cell.index, "exercise": cell.exercise, "prelude": True}
                cells.append(
                    _code(f"__import__('_eduproject_validate').test({tests[0].prelude!r})", meta)
                )
            for test in tests:
                meta = {"cell": cell.index, "exercise": test.exercise, "test": test.name}
                cells.append(_code(f"__import__('_eduproject_validate').test({test.body!r})", meta))
        elif "skip-execution" not in cell.foreign_tags:
            code = (
                cell.learner_source if learner and cell.learner_source is not None else cell.source
            )
            meta = {"cell": cell.index, "exercise": cell.exercise, "allowed": _allows_errors(cell)}
            cells.append(_code(code, meta))
    for number, run_cell in enumerate(cells):
        run_cell["id"] = f"v{number}"
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"name": KERNEL_NAME, "language": "python", "display_name": "Python 3"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def _allows_errors(cell: Cell) -> bool:
    return "raises-exception" in cell.foreign_tags


def _code(source: str, meta: dict[str, Any]) -> dict[str, Any]:
    return {
        "cell_type": "code",
        "execution_count": None,
        "metadata": {_META: meta},
        "outputs": [],
        "source": source,
    }


def _read_verdicts(
    lesson: Lesson, executed: dict[str, Any], *, learner: bool, timeout: float
) -> tuple[list[TestVerdict], list[str]]:
    verdicts: list[TestVerdict] = []
    errors: list[str] = []
    shared_failed: dict[int, str] = {}  # test cell -> why its shared code failed
    for cell in executed["cells"]:
        meta = cell.get("metadata", {}).get(_META)
        if not meta or meta.get("cell") is None:
            continue  # papermill's own marker cells, or the prelude
        outputs = cell.get("outputs", [])
        error = next((o for o in outputs if o.get("output_type") == "error"), None)
        if meta.get("prelude"):
            shared = _verdict({**meta, "test": "<shared code>"}, outputs, error, timeout)
            if not shared.passed:
                shared_failed[meta["cell"]] = shared.detail
        elif "test" in meta:
            verdict = _verdict(meta, outputs, error, timeout)
            if meta["cell"] in shared_failed:  # as in the notebook: the cell stopped there
                verdict = TestVerdict(
                    verdict.exercise, verdict.test, verdict.cell, False,
                    f"the shared code of this test cell failed: {shared_failed[meta['cell']]}",
                )  # fmt: skip
            verdicts.append(verdict)
        elif error is not None and not learner and not meta.get("allowed"):
            where = f"lesson {lesson.id!r}"
            if meta.get("exercise"):
                where += f", exercise {meta['exercise']!r}"
            errors.append(
                f"{where}, cell {meta['cell']}: the instructor notebook fails: {_error_text(error, timeout)}"
            )
    return verdicts, errors


def _verdict(
    meta: dict[str, Any],
    outputs: list[dict[str, Any]],
    error: dict[str, Any] | None,
    timeout: float,
) -> TestVerdict:
    found = next(
        (o["data"][VERDICT_MIME] for o in outputs if VERDICT_MIME in o.get("data", {})), None
    )
    if found is None:
        detail = _error_text(error, timeout) if error else "the test produced no verdict"
        return TestVerdict(meta["exercise"], meta["test"], meta["cell"], False, detail)
    if found["passed"]:
        return TestVerdict(meta["exercise"], meta["test"], meta["cell"], True)
    detail = found["error"] + (f": {found['message']}" if found["message"] else "")
    if found["line"]:
        detail += f" (line {found['line']} of the test: {found['text']})"
    return TestVerdict(meta["exercise"], meta["test"], meta["cell"], False, detail)


def _error_text(error: dict[str, Any], timeout: float) -> str:
    if error.get("ename") == "KeyboardInterrupt":
        return f"did not finish within {timeout:g} s (interrupted)"
    value = error.get("evalue", "")
    return f"{error.get('ename', 'Error')}: {value}" if value else str(error.get("ename", "Error"))
