"""The panel's Check: the visible tests under a time limit per test, stoppable.

``eduproject.check`` runs an exercise's visible tests in the learner's kernel. The panel
runs the very same function -- so each test cell's shared code runs once and its tests run
among the learner's names, as in the notebook (put back afterwards) -- but on a worker thread,
watched:

- a loop that never ends costs one test its time limit ("`count_up` did not finish within
  5 s: does a loop never end?"); the tests after it then run in a second round (their
  cells' shared code run again);
- the panel's **Stop** button ends the running test at once (the widget callbacks return
  immediately, so the kernel stays free and the click arrives);
- prints of learner code go to a buffer, not into whatever cell the learner runs meanwhile.

The watcher sees which test runs from the worker's stack (each call of ``check.run_test`` is
one test, or one cell's shared code). A test is stopped by raising an exception in the worker
(CPython's ``PyThreadState_SetAsyncExc``), only while it is inside ``check()``; that ends any
Python code between two bytecodes, while a call blocked in C (``time.sleep(600)``) is left to
finish in the background and reported as not finished.

    run = TimedCheck("sum_evens", pack, namespace, time_limit=5.0)
    result = run()          # a CheckResult, like eduproject.check(..., display=False)
    run.stop()              # from another thread: end the running test, skip the rest
"""

from __future__ import annotations

import ctypes
import io
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import FrameType
from typing import Any

from eduproject.core.results import TestResult
from eduproject.learner import check as check_module
from eduproject.learner.check import CheckResult, check, readable_hidden
from eduproject.tutor.learner_code import stub_names

__all__ = ["DEFAULT_TIME_LIMIT_S", "TimedCheck"]

DEFAULT_TIME_LIMIT_S = 5.0
_GRACE_S = 1.0  # after the limit, how long a stopped test may take to unwind
_POLL_S = 0.05
_INTERRUPTED = ("interrupted", "the shared code of the test cell failed: interrupted")
_NOT_RUN = "not run"


class _Stopped(KeyboardInterrupt):
    """Raised inside a running test to end it (check() reports it as interrupted)."""


@dataclass(frozen=True)
class _Tests:
    """A lesson pack that shows ``check`` some of one exercise's tests."""

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
    ) -> None:
        self.exercise = exercise
        self.info = pack.exercise(exercise)  # unknown ids fail here, before any thread
        self.namespace = namespace
        self.time_limit = time_limit
        self.output = io.StringIO()  # what learner code printed while its tests ran
        self._stopped = threading.Event()
        # The worker is interrupted only while it is inside check(): an exception raised
        # anywhere else (threading's own bookkeeping, say) would break the kernel.
        self._lock = threading.Lock()
        self._running: threading.Thread | None = None
        self._inside = False
        self._raised = False

    def __call__(self) -> CheckResult:
        visible = [t for t in self.info.tests if t.visible_source.strip()]
        hidden = [t.name for t in self.info.tests if not t.visible_source.strip()]
        results: dict[str, TestResult] = {}
        todo = visible
        while todo and not self._stopped.is_set():
            ran, slow, stuck = self._round(todo)
            results.update((r.name, r) for r in ran)
            if slow is None:
                break
            results[slow] = TestResult(slow, False, self._too_slow(slow, stuck))
            # The rest runs in a next round: the tests after the slow one, and any before it
            # whose results were lost with a worker stuck in C.
            todo = [t for t in todo if t.name not in results or _never_ran(results[t.name])]
            todo = [t for t in todo if t.name != slow]
        for test in visible:
            if self._stopped.is_set() and _never_ran(results.get(test.name)):
                results[test.name] = TestResult(test.name, False, "not run: you stopped the tests")
        return CheckResult(
            self.exercise,
            tuple(results.get(t.name, TestResult(t.name, False, _NOT_RUN)) for t in visible),
            tuple(
                readable_hidden(self.exercise, name, i) for i, name in enumerate(hidden, start=1)
            ),
            tuple(t.name for t in visible if t.hidden),
        )

    def stop(self) -> None:
        """End the running test now and skip the others (the panel's Stop button)."""
        self._stopped.set()
        self._interrupt()

    def _round(self, tests: list[Any]) -> tuple[list[TestResult], str | None, bool]:
        """check() over ``tests`` on a watched worker: (results, the test stopped at its
        time limit or None, whether that test is still running in the background)."""
        box: list[TestResult] = []
        some = _Tests(replace(self.info, visible_tests=tuple(tests)))
        _routers()  # installed here, not in the worker, which a Stop may interrupt

        def work() -> None:
            try:
                with _PrintsTo(self.output):
                    self._enter()
                    try:
                        result = check(
                            self.exercise, pack=some, namespace=self.namespace, display=False
                        )
                    finally:
                        self._leave()
                box.extend(result.results)
            except _Stopped:  # delivered on the way out of check(): the test was stopped
                pass

        worker = threading.Thread(target=work, name="eduproject-tests", daemon=True)
        with self._lock:
            self._running, self._inside, self._raised = worker, False, False
        worker.start()
        unit: object = None
        name: str | None = None
        deadline = time.monotonic() + self.time_limit
        timed_out = False
        while worker.is_alive() and not self._stopped.is_set():
            now_unit, now_name = _running_test(worker)
            if now_unit is not None and now_unit != unit:
                unit, deadline = now_unit, time.monotonic() + self.time_limit
                name = now_name if now_name != "shared code" else name
            if time.monotonic() >= deadline:
                timed_out = True
                break
            worker.join(_POLL_S)  # short waits: a Stop is seen within 50 ms
        if worker.is_alive():
            self._interrupt()
        worker.join(_GRACE_S)
        with self._lock:
            self._running = None
        stuck = worker.is_alive()
        if self._stopped.is_set():
            for r in box:
                if r.message.startswith(_INTERRUPTED):
                    box[box.index(r)] = TestResult(
                        r.name, False, "stopped: you pressed Stop while it ran"
                    )
            return box, None, False
        if not timed_out:
            return box, None, False
        slow = next((r.name for r in box if r.message.startswith(_INTERRUPTED)), None)
        if slow is None:  # stuck in C, or stopped in a cell's shared code: the next test
            done = {r.name for r in box if not r.message.startswith(_NOT_RUN)}
            slow = name if name and name not in done else None
            slow = slow or next((t.name for t in tests if t.name not in done), None)
        return [r for r in box if r.name != slow], slow, stuck

    def _interrupt(self) -> None:
        """Raise in the worker, once, and only while it is inside check()."""
        with self._lock:
            if self._running is not None and self._inside and not self._raised:
                self._raised = True
                _raise_in(self._running, _Stopped)

    def _enter(self) -> None:
        with self._lock:
            if self._stopped.is_set():  # stopped before the tests began: do not begin
                raise _Stopped
            self._inside = True

    def _leave(self) -> None:
        with self._lock:
            self._inside = False
            _clear_pending(threading.get_ident())  # raised but not delivered yet: drop it

    def _too_slow(self, name: str, stuck: bool) -> str:
        source = next((t.visible_source for t in self.info.tests if t.name == name), "")
        called = sorted(n for n in stub_names(self.info.stub) if f"{n}(" in source)
        who = f"`{called[0]}`" if len(called) == 1 else "your code"
        still = " (it is still running in the background)" if stuck else ""
        return f"{who} did not finish within {self.time_limit:g} s: does a loop never end?{still}"


_RUN_TEST = getattr(getattr(check_module, "run_test", None), "__code__", None)


def _running_test(worker: threading.Thread) -> tuple[object, str | None]:
    """The call of ``check.run_test`` the worker is in (an identity) and its test's name."""
    frame: FrameType | None = sys._current_frames().get(worker.ident or -1)
    while frame is not None:
        if frame.f_code is _RUN_TEST:
            name = frame.f_locals.get("name")
            return id(frame), name if isinstance(name, str) else None
        frame = frame.f_back
    return None, None


def _never_ran(result: TestResult | None) -> bool:
    return result is None or result.message.startswith((_NOT_RUN, *_INTERRUPTED))


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
