"""One piece of test code run in the judge, against learner objects seen through a :class:`Link`.

Test code (from the sealed bundle) runs in the judge process in the lesson's one
:class:`~eduproject.runner.namespace.TestNamespace`, with the judge's builtins
(``namespace.test_builtins``) and its assertions rewritten to explain themselves
(``asserts.py``). A test passes when its code raises nothing. A test that passed while learner
code decided one of its comparisons against plain data (see ``proxy.py``) is marked for review.

In the judge, with a namespace linked to a learner process whose ``double`` is wrong:

    >>> run = run_code(compiled("assert double(2) == 4", "<test t>"), namespace, timeout=5)  # doctest: +SKIP
    >>> run.passed, run.message  # doctest: +SKIP
    (False, 'double(2) gave 5, expected 4')
"""

from __future__ import annotations

import ast
import contextlib
import functools
import io
import signal
import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

from eduproject.runner import asserts
from eduproject.runner.namespace import TestNamespace, python_source, test_builtins
from eduproject.runner.proxy import LearnerGone, TooMuchData

__all__ = ["Compiled", "TestRun", "TestTimeout", "compiled", "run_code"]

GRACE = 0.5  # seconds the judge's own clock waits beyond a learner request's deadline
MAX_MESSAGE = 2000
MAX_PRINTED = 20_000


class TestTimeout(BaseException):
    """Raised in the judge when test code itself runs past its time."""

    __test__ = False


@dataclass(frozen=True)
class Compiled:
    code: Any
    source: str
    filename: str


@dataclass(frozen=True)
class TestRun:
    """What happened when a piece of test code ran.

    ``gone`` is set when the learner process went away (its timeout or death); ``review``
    lists why a passing run cannot be trusted without a person (empty: it can).
    """

    __test__ = False

    passed: bool
    message: str
    printed: str = ""
    timed_out: bool = False
    gone: LearnerGone | None = None
    review: tuple[str, ...] = field(default=())


@functools.lru_cache(maxsize=4096)
def compiled(source: str, filename: str) -> Compiled:
    """Test code compiled for the judge (magics turned into calls, assertions explained).

    Raises SyntaxError for code that does not compile.
    """
    python = python_source(source)
    tree = asserts.explain(ast.parse(python, filename), python)
    return Compiled(compile(tree, filename, "exec", dont_inherit=True), python, filename)


def _alarm(signum: int, frame: Any) -> None:
    raise TestTimeout


def run_code(
    test: Compiled, namespace: TestNamespace, timeout: float, *, mirror: bool = False
) -> TestRun:
    """Run ``test`` in ``namespace``; never raises (except for the judge's own bugs).

    ``mirror``: the code is visible to learners, so the names it binds become the learner's too.
    """
    link = namespace.link
    printed = io.StringIO()

    def learner_output(stream: str, text: str) -> None:
        target = sys.stdout if stream == "stdout" else sys.stderr
        target.write(text)

    link.printed = learner_output
    link.learner_decided = []
    link.byte_budget = 256 << 20
    link.deadline = time.monotonic() + timeout
    namespace.mirror = mirror
    dict.__setitem__(namespace, "__builtins__", test_builtins(namespace, printed))
    dict.__setitem__(namespace, asserts.HELPER, asserts.compare)
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, max(timeout, 0.001) + GRACE)
    try:
        with (
            contextlib.redirect_stdout(_Capped(printed)),
            contextlib.redirect_stderr(_Capped(printed)),
        ):
            exec(test.code, namespace)
        namespace.flush()
        if link.failure is not None:  # the test caught the learner process's end: still gone
            raise link._gone()
    except TestTimeout:
        return TestRun(False, f"timed out after {timeout:g} s", printed.getvalue(), timed_out=True)
    except LearnerGone as gone:
        what = f"timed out after {timeout:g} s" if gone.timeout else "the learner's process ended"
        return TestRun(False, what, printed.getvalue(), timed_out=gone.timeout, gone=gone)
    except TooMuchData as exc:
        return TestRun(False, str(exc), printed.getvalue())
    except BaseException as exc:  # any failure of the test, also from learner values
        return TestRun(False, failure_message(exc, test), printed.getvalue())
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        namespace.mirror = False
        link.handles.revoke()
        link.forget()
    return TestRun(True, "", printed.getvalue(), review=tuple(link.learner_decided))


class _Capped(io.TextIOBase):
    """Where test code prints: kept for the instructor, within a budget."""

    def __init__(self, target: io.StringIO) -> None:
        self.target = target

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if self.target.tell() < MAX_PRINTED:
            self.target.write(str(text)[: MAX_PRINTED - self.target.tell()])
        return len(text)


def failure_message(exc: BaseException, test: Compiled) -> str:
    """One line: the assertion's own text, or the exception and the failing line of the test."""
    line_no = next(
        (
            f.lineno
            for f in reversed(traceback.extract_tb(exc.__traceback__))
            if f.filename == test.filename
        ),
        None,
    )
    try:
        text = str(exc).strip()
    except Exception:
        text = ""
    text = text[:MAX_MESSAGE]
    where = ""
    if line_no is not None:
        lines = test.source.splitlines()
        if 0 < line_no <= len(lines):
            where = f" (line {line_no}: {lines[line_no - 1].strip()[:200]})"
    if isinstance(exc, AssertionError):
        return text if text else f"AssertionError{where}"
    name = type(exc).__name__
    if isinstance(exc, NotImplementedError) and not text:
        return f"not written yet: the code still raises NotImplementedError{where}"
    return f"{name}: {text}{where}" if text else f"{name}{where}"
