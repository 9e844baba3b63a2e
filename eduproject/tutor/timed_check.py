"""The panel's Check: the visible tests one at a time, each under a time limit, stoppable.

``eduproject.check`` runs an exercise's visible tests in the learner's kernel. The panel
runs the same function, but one test at a time on a worker thread, so that

- a loop that never ends costs one test its time limit ("`count_up` did not finish within
  5 s: does a loop never end?"), and the next test still runs;
- the panel's **Stop** button ends the running test at once (the widget callbacks return
  immediately, so the kernel stays free and the click arrives);
- prints of learner code go to a buffer, not into whatever cell the learner runs meanwhile.

A test is stopped by raising an exception in its thread (CPython's ``PyThreadState_SetAsyncExc``),
which interrupts Python code between two bytecodes; a call blocked in C (``time.sleep(60)``)
is left to finish in the background and reported as not finished.

    run = TimedCheck("sum_evens", pack, namespace, time_limit=5.0)
    result = run()          # a CheckResult, like eduproject.check(..., display=False)
    run.stop()              # from another thread: end the running test, skip the rest
"""

from __future__ import annotations

import ctypes
import io
import re
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from eduproject.grading.check import CheckResult, check
from eduproject.tutor.learner_code import stub_names
from eduproject.tutor.tutor import TestResult

__all__ = ["DEFAULT_TIME_LIMIT_S", "TimedCheck"]

DEFAULT_TIME_LIMIT_S = 5.0
_GRACE_S = 1.0  # after the limit, how long a stopped test may take to unwind


class _Stopped(KeyboardInterrupt):
    """Raised inside a running test to end it (check() reports it as interrupted)."""


@dataclass(frozen=True)
class _OneTest:
    """A lesson pack that shows ``check`` a single test of one exercise."""

    info: Any

    def exercise(self, exercise_id: str) -> Any:
        return self.info


class TimedCheck:
    """One run of an exercise's visible tests for the panel; see the module docstring."""

    def __init__(
        self,
        exercise: str,
        pack: Any,
        namespace: Mapping[str, Any],
        *,
        time_limit: float = DEFAULT_TIME_LIMIT_S,
        on_test: Callable[[str], None] | None = None,
    ) -> None:
        self.exercise = exercise
        self.info = pack.exercise(exercise)  # unknown ids fail here, before any thread
        self.namespace = namespace
        self.time_limit = time_limit
        self.on_test = on_test  # told the name of each test as it starts
        self.output = io.StringIO()  # what learner code printed while its tests ran
        self._stopped = threading.Event()
        # A test is interrupted only while its thread is inside check(): an exception
        # raised anywhere else (threading's own bookkeeping, say) would break the kernel.
        self._lock = threading.Lock()
        self._running: threading.Thread | None = None
        self._inside = False
        self._raised = False

    def __call__(self) -> CheckResult:
        results: list[TestResult] = []
        hidden: list[str] = []
        partly: list[str] = []
        for test in self.info.tests:
            if not test.visible_source.strip():
                hidden.append(self._readable(test.name, len(hidden) + 1))
                continue
            if test.hidden:
                partly.append(test.name)
            if self._stopped.is_set():
                results.append(TestResult(test.name, False, "not run: you stopped the tests"))
                continue
            if self.on_test is not None:
                self.on_test(test.name)
            results.append(self._run_one(test))
        return CheckResult(self.exercise, tuple(results), tuple(hidden), tuple(partly))

    def _readable(self, name: str, number: int) -> str:
        """A hidden test's name for learners: ``sum_evens-2`` (a name release made up from
        the exercise and a cell count) reads as "hidden test 2"; an author's name stays."""
        if re.fullmatch(rf"{re.escape(self.exercise)}-\d+", name):
            return f"hidden test {number}"
        return name

    def stop(self) -> None:
        """End the running test now and skip the others (the panel's Stop button)."""
        self._stopped.set()
        self._interrupt()

    def _interrupt(self) -> None:
        """Raise in the running test, once, and only while it is inside check()."""
        with self._lock:
            if self._running is not None and self._inside and not self._raised:
                self._raised = True
                _raise_in(self._running, _Stopped)

    def _enter(self) -> None:
        with self._lock:
            if self._stopped.is_set():  # stopped before the test began: do not begin
                raise _Stopped
            self._inside = True

    def _leave(self) -> None:
        with self._lock:
            self._inside = False
            _clear_pending(threading.get_ident())  # raised but not delivered yet: drop it

    def _run_one(self, test: Any) -> TestResult:
        box: list[TestResult] = []
        single = _OneTest(replace(self.info, visible_tests=(test,)))
        _routers()  # installed here, not in the test thread, which a Stop may interrupt

        def work() -> None:
            try:
                with _PrintsTo(self.output):
                    self._enter()
                    try:
                        result = check(
                            self.exercise, pack=single, namespace=self.namespace, display=False
                        )
                    finally:
                        self._leave()
                box.extend(result.results)
            except _Stopped:  # delivered on the way out of check(): the test was stopped
                pass

        thread = threading.Thread(target=work, name=f"eduproject-test-{test.name}", daemon=True)
        with self._lock:
            self._running, self._inside, self._raised = thread, False, False
        thread.start()
        deadline = time.monotonic() + self.time_limit
        while thread.is_alive() and not self._stopped.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            thread.join(min(left, 0.05))  # short waits: a Stop is seen within 50 ms
        timed_out = thread.is_alive() and not self._stopped.is_set()
        if thread.is_alive():
            self._interrupt()
        thread.join(_GRACE_S)
        with self._lock:
            self._running = None
        if self._stopped.is_set() and (not box or thread.is_alive() or _interrupted(box)):
            return TestResult(test.name, False, "stopped: you pressed Stop while it ran")
        if timed_out or thread.is_alive() or not box:
            still = " (it is still running in the background)" if thread.is_alive() else ""
            return TestResult(test.name, False, self._too_slow(test.visible_source) + still)
        return box[0] if box else TestResult(test.name, False, "the test did not report")

    def _too_slow(self, source: str) -> str:
        called = sorted(n for n in stub_names(self.info.stub) if f"{n}(" in source)
        who = f"`{called[0]}`" if len(called) == 1 else "your code"
        return f"{who} did not finish within {self.time_limit:g} s: does a loop never end?"


def _interrupted(box: list[TestResult]) -> bool:
    return bool(box) and box[0].message.startswith("interrupted")


def _raise_in(thread: threading.Thread, exc_type: type[BaseException]) -> None:
    """Raise ``exc_type`` in ``thread`` at its next bytecode (no effect once it ended)."""
    if thread.ident is None or not thread.is_alive():
        return
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread.ident), ctypes.py_object(exc_type)
    )


def _clear_pending(ident: int) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), ctypes.py_object())


class _PrintsTo:
    """Send this thread's prints to ``sink``; other threads keep printing where they did.

    ``contextlib.redirect_stdout`` would swallow the output of a cell the learner runs while
    the tests run, since ``sys.stdout`` is one for the whole process. Instead one router per
    stream stays installed and sends each thread's writes where that thread asked; it is set
    up by the caller, never inside a test thread, where a Stop may interrupt any line.
    """

    def __init__(self, sink: io.StringIO) -> None:
        self.sink = sink

    def __enter__(self) -> None:
        for router in _routers():
            router.sinks[threading.get_ident()] = self.sink

    def __exit__(self, *exc: object) -> None:
        for router in _routers():
            router.sinks.pop(threading.get_ident(), None)


_ROUTER_LOCK = threading.Lock()


def _routers() -> tuple[_ThreadRouted, _ThreadRouted]:
    """The routers in front of ``sys.stdout`` and ``sys.stderr`` (installed on first use,
    and again if something replaced the stream since)."""
    with _ROUTER_LOCK:
        found = []
        for name in ("stdout", "stderr"):
            current = getattr(sys, name)
            if not isinstance(current, _ThreadRouted):
                current = _ThreadRouted(current)
                setattr(sys, name, current)
            found.append(current)
        return found[0], found[1]


class _ThreadRouted:
    """A stream that writes to ``sinks[thread]`` for registered threads, else to ``original``."""

    def __init__(self, original: Any) -> None:
        self.original = original
        self.sinks: dict[int, io.StringIO] = {}

    def write(self, text: str) -> int:
        target = self.sinks.get(threading.get_ident(), self.original)
        return int(target.write(text) or 0) if target is not None else len(text)

    def flush(self) -> None:
        if threading.get_ident() not in self.sinks and self.original is not None:
            self.original.flush()

    def __getattr__(self, name: str) -> Any:
        if name in ("original", "sinks"):  # not set yet: never recurse
            raise AttributeError(name)
        return getattr(self.original, name)
