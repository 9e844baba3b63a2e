"""Server-side leak check: does a code block in a hint pass the exercise's tests?

Only where the instructor's lesson is at hand (``eduproject tutor check-hint``, the demo)
can a hint's code be run against the visible *and* hidden tests. The block runs in a
child Python process in a temporary folder holding the lesson's data files, with CPU,
memory and file-size limits, a scrubbed environment and -- when bubblewrap works -- no
network and a read-only view of the system::

    verdict = check_hint(Path("exercises/03-lists-dicts"), "sum_evens", text)
    verdict.leak, verdict.score, verdict.reason
"""

from __future__ import annotations

import ast
import functools
import json
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable
from pathlib import Path

from eduproject.authoring.model import Exercise, Lesson, Role
from eduproject.errors import TutorError
from eduproject.tutor.codetext import fragments, parse_code
from eduproject.tutor.guards import GuardVerdict, check_leak, guard_data
from eduproject.tutor.pack import ExerciseInfo

RUN_TIMEOUT_S = 20.0
_STUB = re.compile(
    r"^([ \t]*)# YOUR CODE HERE[ \t]*\n[ \t]*raise NotImplementedError\(\)[ \t]*$", re.M
)

# Runs inside the child: every test in its own copy of the candidate's namespace, as
# `check` and the grader do, and one JSON line with the outcomes.
_CHILD = r"""
import json, sys
payload = json.load(open("payload.json"))
scope = {"__name__": "__main__"}
try:
    exec(compile(payload["setup"], "<setup>", "exec"), scope)
    exec(compile(payload["candidate"], "<candidate>", "exec"), scope)
except BaseException as exc:
    print(json.dumps({"error": type(exc).__name__}))
    sys.exit(0)
passed = []
for source in payload["tests"]:
    try:
        exec(compile(source, "<test>", "exec"), dict(scope))
        passed.append(True)
    except BaseException:
        passed.append(False)
print(json.dumps({"passed": passed}))
"""


def check_hint(
    lesson_folder: Path, exercise_id: str, text: str, *, run: bool = True
) -> GuardVerdict:
    """The leak verdict on ``text`` for one exercise, with the full solution at hand."""
    from eduproject.authoring.parse import load_lesson

    lesson = load_lesson(Path(lesson_folder))
    exercise = lesson.exercise(exercise_id)
    runner = runner_for(lesson, exercise) if run else None
    return check_leak(text, guard_data(exercise, salt=lesson.version), run_tests=runner)


def runner_for(
    lesson: Lesson, exercise: Exercise, *, timeout_s: float = RUN_TIMEOUT_S
) -> Callable[[str], bool]:
    """``run(code) -> True`` when ``code`` (a whole solution, or the body that replaces the
    stub) passes every test of ``exercise``, hidden ones included."""
    setup = "\n\n".join(c.source for c in lesson.cells if c.role == Role.SETUP and c.kind == "code")
    names = set(guard_data(exercise)["functions"])
    tests = [t.source for t in exercise.tests]

    def run(code: str) -> bool:
        candidate = _candidate(code, exercise.stub, names)
        if candidate is None:
            return False
        return _run_child(lesson, setup, candidate, tests, timeout_s)

    return run


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


def _run_child(
    lesson: Lesson, setup: str, candidate: str, tests: list[str], timeout_s: float
) -> bool:
    with tempfile.TemporaryDirectory(prefix="eduproject-hint-") as tmp:
        work = Path(tmp)
        for rel in lesson.data_files:
            target = work / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(lesson.folder / rel, target)
        payload = {"setup": setup, "candidate": candidate, "tests": tests}
        (work / "payload.json").write_text(json.dumps(payload), encoding="utf-8")
        command = [sys.executable, "-I", "-c", _CHILD]
        if _bwrap_works():
            command = _bwrap(work) + command
        env = {"PATH": "/usr/bin:/bin", "HOME": str(work), "LANG": "C.UTF-8", "MPLBACKEND": "Agg"}
        try:
            done = subprocess.run(
                command,
                cwd=work,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout_s,
                start_new_session=True,
                # Limits set between fork and exec; callers (CLI, demo) are single-threaded.
                preexec_fn=functools.partial(_limits, timeout_s),
            )
        except subprocess.TimeoutExpired:
            return False  # a block that never finishes does not pass
    try:
        outcome = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return False
    passed = outcome.get("passed") or []
    return bool(passed) and all(passed)


def _limits(timeout_s: float) -> None:
    import resource

    cpu = int(timeout_s) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
    resource.setrlimit(resource.RLIMIT_FSIZE, (16 << 20, 16 << 20))


def _bwrap(work: Path) -> list[str]:
    from eduproject.grading.backends import python_roots

    # The private /tmp would hide a Python (a checkout's .venv) under /tmp: bind it back.
    under_tmp = [root for root in python_roots() if root.startswith("/tmp/")]
    return [
        "bwrap",
        "--ro-bind", "/", "/",
        "--dev", "/dev",
        "--proc", "/proc",
        "--tmpfs", "/tmp",
        *[arg for root in under_tmp for arg in ("--ro-bind", root, root)],
        "--bind", str(work), str(work),
        "--unshare-all",
        "--die-with-parent",
        "--chdir", str(work),
    ]  # fmt: skip


@functools.cache
def _bwrap_works() -> bool:
    if shutil.which("bwrap") is None:
        return False
    with tempfile.TemporaryDirectory() as tmp:
        try:
            done = subprocess.run(
                [*_bwrap(Path(tmp)), "/bin/true"], capture_output=True, timeout=10, check=False
            )
        except (OSError, subprocess.TimeoutExpired):
            return False
    return done.returncode == 0


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
