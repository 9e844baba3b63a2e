"""Server-side leak check: does a code block in a hint pass the exercise's tests?

Only where the instructor's lesson is at hand (``eduproject tutor check-hint``, the gateway,
the demo) can a hint's code be run against the visible *and* hidden tests. Model-written code
is untrusted: it is graded like a learner's submission, by the grading engine in the grading
sandbox (``runner/engine.py``, ``runner/sandbox.py``): a fresh sandboxed process with
nothing mounted but the lesson's data files, a scrubbed environment, no network, rlimits and
an unprivileged uid, the tests in the judge. Without bubblewrap it does not run at all::

    with HintRunner(load_lesson(Path("exercises/03-lists-dicts"))) as hints:
        hints.passes(lesson.exercise("sum_evens"), code)       # True: a leak
"""

from __future__ import annotations

import ast
import re
import sys
import textwrap
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from eduproject.core.codetext import fragments, parse_code
from eduproject.core.fingerprints import guard_data
from eduproject.core.lesson import Exercise, Lesson, Role
from eduproject.core.pack import ExerciseInfo
from eduproject.errors import TutorError
from eduproject.tutor.guards import GuardVerdict, check_leak

if TYPE_CHECKING:
    from eduproject.runner.engine import Engine
    from eduproject.runner.sandbox import Backend, Zygote

RUN_TIMEOUT_S = 20.0
_STUB = re.compile(
    r"^([ \t]*)# YOUR CODE HERE[ \t]*\n[ \t]*raise NotImplementedError\(\)[ \t]*$", re.M
)


def check_hint(
    lesson_folder: Path, exercise_id: str, text: str, *, run: bool = True
) -> GuardVerdict:
    """The leak verdict on ``text`` for one exercise, with the full solution at hand."""
    from eduproject.authoring.parse import load_lesson

    lesson = load_lesson(Path(lesson_folder))
    exercise = lesson.exercise(exercise_id)
    if not run:
        return check_leak(text, guard_data(exercise, salt=lesson.version))
    with HintRunner(lesson) as hints:
        return check_leak(
            text,
            guard_data(exercise, salt=lesson.version),
            run_tests=lambda code: hints.passes(exercise, code),
        )


class HintRunner:
    """Grades candidate code for one lesson's exercises in the grading sandbox.

    One sandboxed zygote for the lesson, started on first use and shared by threads one run
    at a time. Refuses to exist without bubblewrap: model-written code is never run with the
    host's filesystem, network or environment in reach.
    """

    def __init__(
        self, lesson: Lesson, *, timeout_s: float = RUN_TIMEOUT_S, backend: Backend | None = None
    ) -> None:
        from eduproject.runner.sandbox import Limits, detect_backend

        self.lesson = lesson
        self.backend = backend or detect_backend()
        if self.backend.name != "bwrap":
            raise TutorError(
                "the tutor's test-run leak check runs model-written code, and the grading "
                f"sandbox is not available here ({self.backend.description})",
                hint="install bubblewrap (apt-get install bubblewrap), or turn the check off "
                "(`--no-run`, or `run_tests = false` in the [gateway] section)",
            )
        self.limits = Limits(cell_timeout=timeout_s / 2, timeout=timeout_s, memory_mb=1024)
        self.data = {
            rel.as_posix(): (lesson.folder / rel).read_bytes() for rel in lesson.data_files
        }
        self._lock = threading.Lock()
        self._zygote: Zygote | None = None
        self._engine: Engine | None = None

    def __enter__(self) -> HintRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def passes(self, exercise: Exercise, code: str) -> bool:
        """True when ``code`` (a whole solution, or the body that replaces the stub) passes
        every test of ``exercise``, hidden ones included."""
        from eduproject.authoring.release import dumps, solution_notebook

        names = set(guard_data(exercise)["functions"])
        candidate = _candidate(code, exercise.stub, names)
        if candidate is None:
            return False
        cells = [
            c.cell_id
            for c in self.lesson.cells
            if c.role == Role.SOLUTION and c.exercise == exercise.id
        ]
        if not cells:
            return False
        replaced = {cells[0]: candidate, **{cell: "" for cell in cells[1:]}}
        notebook = dumps(solution_notebook(self.lesson, replaced))
        with self._lock:
            result = self._engine_for().grade("candidate", Path("candidate.ipynb"), notebook)
        graded = next(e for e in result.exercises if e.exercise == exercise.id)
        return bool(graded.tests) and all(t.passed for t in graded.tests)

    def runner(self, exercise: Exercise) -> Callable[[str], bool]:
        return lambda code: self.passes(exercise, code)

    def _engine_for(self) -> Engine:
        from eduproject.runner.engine import Engine, preload_for
        from eduproject.runner.sandbox import Zygote

        if self._engine is None:
            self._zygote = Zygote(
                self.backend,
                preload=preload_for(self.lesson),
                limits=self.limits,
                lesson_files=self.data,
            )
            self._zygote.start()
            self._engine = Engine(
                self.lesson,
                data_files=self.data,
                spawner=self._zygote,
                limits=self.limits,
                sandbox=self.backend.description,
            )
        return self._engine

    def close(self) -> None:
        if self._zygote is not None:
            self._zygote.close()
            self._zygote = None
            self._engine = None


def runner_for(
    lesson: Lesson, exercise: Exercise, *, timeout_s: float = RUN_TIMEOUT_S
) -> Callable[[str], bool]:
    """``run(code) -> True`` when ``code`` passes every test of ``exercise`` (see
    :class:`HintRunner`, which this makes for the one exercise)."""
    return HintRunner(lesson, timeout_s=timeout_s).runner(exercise)


def _candidate(code: str, stub: str, names: set[str]) -> str | None:
    """The program to test: the block itself when it defines the exercise's functions,
    else the stub with the block in place of ``# YOUR CODE HERE`` / ``raise ...``."""
    tree = parse_code(code)
    if tree is None:
        return None
    defined = {getattr(n, "name", None) for n in tree.body}
    block = textwrap.dedent(code).strip("\n")
    if names and names <= defined:
        return block
    match = _STUB.search(stub)
    if match is None:
        return block
    spliced = textwrap.indent(block, match.group(1))
    return stub[: match.start()] + spliced + stub[match.end() :]


def read_text_file(path: Path) -> str:
    """The hint text to check; ``-`` reads standard input."""
    if str(path) == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TutorError(
            f"cannot read the hint text file {path}: {exc.strerror if isinstance(exc, OSError) else exc}",
            hint="pass a UTF-8 text file with --text-file (or - for standard input)",
        ) from None


def tested_verdict(
    text: str, info: ExerciseInfo, code: str, runner: Callable[[str], bool]
) -> GuardVerdict | None:
    """The leak verdict of a reply whose code passes the exercise's tests, else None.

    ``runner(code) -> bool`` is :func:`runner_for` of the exercise. The learner's own code
    quoted back is theirs already, passing or not.
    """
    if not _runnable(text):
        return None

    def passes(candidate: str) -> bool:
        return candidate.strip() not in code and runner(candidate)

    tested = check_leak(text, info, run_tests=passes, code=code)
    return tested if tested.leak else None


def _runnable(text: str) -> bool:
    """Whether ``text`` holds code that could be run against the tests (most hints hold none,
    and the full leak check is not cheap)."""
    for frag in fragments(text):
        tree = parse_code(frag.code)
        if tree is not None and any(
            not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Name | ast.Constant))
            for node in tree.body
        ):
            return True
    return False
