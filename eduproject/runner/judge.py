"""The judge: the trusted process that runs one submission's plan and every test of it.

One judge fork server runs per grading worker, next to the learner's zygote (``zygote.py``);
it pre-imports what tests use, then forks one judge per submission. The judge gets the plan
(the lesson's cells in notebook order, from the sealed bundle) and a socket to the submission's
sandboxed learner process, and walks the plan like a notebook run top to bottom:

* learner cells (and setup cells) run in the learner process; the judge runs a setup cell's
  imports and helper functions itself too, so tests use the instructor's objects;
* VISIBLE tests run in place, in the one test namespace of the lesson
  (``namespace.TestNamespace``), against the learner process as it is at that point; what a
  visible test does (mutating learner objects, binding names learner code reads) is seen by
  the cells after it, as in the notebook;
* HIDDEN tests do not run in place: at their position the judge forks a *checkpoint* -- a copy
  of the learner process (a snapshot) and a copy of itself, with the test namespace exactly as
  it is there -- and goes on. The checkpoints run once the last learner cell and visible test
  are done and the main learner process has ended. So hidden test inputs only ever reach
  processes that run no learner cell and produce nothing a learner sees. The last checkpoint
  -- the hidden tests after which no learner cell or visible test runs -- needs no copy: it
  takes over the main learner process itself, once that process is *sealed* (it refuses
  learner cells from then on, like a snapshot): one fork fewer per submission.

Events go back to the grader as JSON lines on the events socket (see :class:`Events`); a learner
process that dies or hangs while a cell or a visible test runs ends the run with a ``death``
event, and the grader replays the submission without that step (``engine.py``).

    python -m eduproject.runner.judge '{"control_fd": 3, "preload": ["pandas"], "files": "/tmp/x"}'
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import resource
import select
import signal
import socket
import sys
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from eduproject.core.results import VISIBLE_PART
from eduproject.runner.channel import Channel
from eduproject.runner.namespace import ENV_MODULES, Owners, TestNamespace
from eduproject.runner.proxy import LearnerGone, Link
from eduproject.runner.verdict import TestRun, compiled, run_code

__all__ = ["Events", "Judge", "serve_forever"]

PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38
SPARE_SNAPSHOTS = True


class Events:
    """JSON lines to the grader (one writer at a time: checkpoints run one after another)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def send(self, event: dict[str, Any]) -> None:
        self.sock.sendall((json.dumps(event, allow_nan=False, default=str) + "\n").encode())


@dataclass
class _Checkpoint:
    pid: int
    go: int  # write end of the pipe that starts it (with what earlier hidden tests bound)
    out: int  # read end of the pipe on which it says what its hidden tests bound
    step: int
    tests: list[str]
    budget: float


@dataclass
class Judge:
    """Runs one job (see the module docstring) and reports to ``events``."""

    link: Link
    events: Events
    job: dict[str, Any]
    owners: Owners = field(default_factory=Owners)
    checkpoints: list[_Checkpoint] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.namespace = TestNamespace(self.link, self.owners, ENV_MODULES | LESSON_MODULES)
        self.namespace.reads = frozenset(str(n) for n in self.job.get("reads", []))
        dict.__setitem__(self.namespace, "__name__", "__main__")
        limits = self.job["limits"]
        self.cell_timeout = float(limits["cell_timeout"])
        self.cells_left = float(limits["timeout"])
        self.tests_left = float(limits["timeout"])
        self.whole = False  # the whole-submission time ran out
        self.phases: dict[str, float] = {}
        pid = self.job.get("learner_pid")
        self.learner_pid = pid if type(pid) is int else None  # the main learner process
        self.final_step = _last_learner_step(self.job["steps"])

    # -- the main line ---------------------------------------------------------------------

    def run(self) -> None:
        try:
            for step in self.job["steps"]:
                alive = self._run_step(step) if step["kind"] == "run" else self._tests(step)
                if not alive:
                    # The grader replays the submission without the step that died -- unless
                    # this is its last try: then the hidden tests before that step still run.
                    if self.job.get("last") or self.whole:
                        self.events.send({"ev": "hidden-start"})
                        with self._phase("hidden"):
                            self._run_checkpoints()
                    self.events.send({"ev": "done", "phases": self.phases})
                    return
            self.link.channel.close()  # the main learner process ends: nothing after this is shown
            self.events.send({"ev": "hidden-start"})
            with self._phase("hidden"):
                self._run_checkpoints()
            self.events.send({"ev": "done", "phases": self.phases})
        finally:
            self._drop_checkpoints()

    @contextlib.contextmanager
    def _phase(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.phases[name] = self.phases.get(name, 0.0) + time.monotonic() - started

    def _budget(self, left: float) -> float:
        return max(min(self.cell_timeout, left), 0.0)

    def _run_step(self, step: dict[str, Any]) -> bool:
        self.namespace.step = step["i"]
        role = step.get("role", "added")
        if not step.get("skip"):
            timeout = self._budget(self.cells_left)
            started = time.monotonic()
            self.link.deadline = started + timeout
            try:
                with self._phase("cells"):
                    reply = self.link.ask_raw({"op": "run_cell", "code": step["code"]})
            except LearnerGone as gone:
                self.whole = gone.timeout and timeout < self.cell_timeout
                self.events.send(
                    {"ev": "death", "i": step["i"], "timeout": gone.timeout, "detail": str(gone),
                     "whole": self.whole}
                )  # fmt: skip
                return False
            finally:
                self.cells_left -= time.monotonic() - started
            self.events.send({"ev": "cell", "i": step["i"], "reply": reply})
            if reply.get("exit") is True:  # exit() in a cell: the learner process has ended
                self.events.send(
                    {"ev": "death", "i": step["i"], "timeout": False,
                     "detail": "the cell called exit(), which ends the process"}
                )  # fmt: skip
                return False
        self.owners.bind([(str(n), str(k)) for n, k in step.get("binds", [])], role, step["i"])
        if step.get("judge"):
            with self._phase("setup"):
                self._judge_code(step)
        if step.get("remember") and not step.get("skip"):
            try:
                self.link.ask({"op": "remember", "names": step["remember"]})
            except LearnerGone:
                return True  # the next request reports it
        return True

    def _judge_code(self, step: dict[str, Any]) -> None:
        """The instructor's imports (and a setup cell's functions), run in the judge."""
        if step.get("role") == "solution":  # the learner's answer: kept apart (see Owners)
            scratch = TestNamespace(self.link, Owners(), ENV_MODULES | LESSON_MODULES)
            run = run_code(
                compiled(step["judge"], f"<solution {step['i']}>"), scratch, self.cell_timeout
            )
            self.namespace.instructor.update(
                {k: v for k, v in dict.items(scratch) if not k.startswith("__")}
            )
            return
        before = set(dict.keys(self.namespace))
        run = run_code(
            compiled(step["judge"], f"<setup {step['i']}>"), self.namespace, self.cell_timeout
        )
        for name in set(dict.keys(self.namespace)) - before:
            self.owners.owner[name] = "import" if not name.startswith("__") else "judge"
        # Names the judge could not make (a module missing here) stay the learner's.
        for name, kind in step.get("binds", []):
            if kind in ("import", "def") and not dict.__contains__(self.namespace, name):
                self.owners.owner[name] = "learner"
        if not run.passed:
            self.events.send({"ev": "judge-setup", "i": step["i"], "message": run.message})

    def _tests(self, step: dict[str, Any]) -> bool:
        self.namespace.step = step["i"]
        with self._phase("visible"):
            return self._visible(step)

    def _visible(self, step: dict[str, Any]) -> bool:
        tests = step["tests"]
        final = step["i"] == self.final_step
        if step.get("prelude_hidden"):
            self._checkpoint(step, tests, prelude=step.get("prelude", ""), final=final)
            return True
        prelude_failed = ""
        if step.get("prelude", "").strip():
            run = self._run(step, "<shared setup>", step["prelude"], mirror=True)
            if run.gone is not None:
                self.events.send(
                    {"ev": "death", "i": step["i"], "prelude": True, "timeout": run.timed_out,
                     "detail": run.message}
                )  # fmt: skip
                return False
            if not run.passed:
                prelude_failed = f"the shared code of this test cell failed: {run.message}"
        hidden: list[dict[str, Any]] = []
        for test in tests:
            if test.get("skip"):
                continue
            if prelude_failed and not test["hidden"]:
                self._report(step, test, TestRun(False, prelude_failed))
                continue
            if test["hidden"] and not test.get("open"):
                hidden.append(test)
                continue
            if hidden:
                self._checkpoint(step, hidden, failed=prelude_failed)
                hidden = []
            if prelude_failed:
                self._report(step, test, TestRun(False, prelude_failed))
                continue
            # A visible test, or the visible first part of a hidden one: in place, as the
            # learner's copy runs it (its names reach later cells); the hidden rest waits.
            run = self._run(step, test["name"], test.get("open") or test["body"], mirror=True)
            if test.get("open") and run.passed:
                hidden.append(test)
                continue
            if test.get("open") and run.gone is None:
                # Its visible part failed: that part's message is the learner's to see.
                run = TestRun(False, VISIBLE_PART + run.message, run.printed, run.timed_out)
            self._report(step, test, run)
            if run.gone is not None:
                self.events.send(
                    {"ev": "death", "i": step["i"], "test": test["name"],
                     "timeout": run.timed_out, "detail": run.message}
                )  # fmt: skip
                return False
        if hidden:
            self._checkpoint(step, hidden, failed=prelude_failed, final=final)
        return True

    def _run(self, step: dict[str, Any], name: str, source: str, *, mirror: bool) -> TestRun:
        timeout = self._budget(self.tests_left)
        started = time.monotonic()
        try:
            code = compiled(source, f"<test {name}>")
        except SyntaxError as exc:
            return TestRun(False, f"the test code does not compile: {exc.msg} (line {exc.lineno})")
        try:
            return run_code(code, self.namespace, timeout, mirror=mirror)
        finally:
            self.tests_left -= time.monotonic() - started

    def _report(self, step: dict[str, Any], test: dict[str, Any], run: TestRun) -> None:
        self.events.send(
            {
                "ev": "test",
                "i": step["i"],
                "name": test["name"],
                "passed": run.passed,
                "message": run.message,
                "printed": run.printed,
                "timed_out": run.timed_out,
                "gone": run.gone is not None,
                "review": list(run.review),
            }
        )

    # -- checkpoints (hidden tests) ----------------------------------------------------------

    def _snapshot(self) -> tuple[Channel, int]:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            reply = self.link.ask_raw({"op": "fork"}, fds=(theirs.fileno(),))
        finally:
            theirs.close()
        pid = reply.get("value")
        if reply.get("ok") is not True or type(pid) is not int:
            ours.close()
            raise LearnerGone("the learner process did not make a snapshot", timeout=False)
        return Channel(ours, max_message=self.link.channel.max_message), pid

    def _seal(self) -> tuple[Channel, int]:
        """The main learner process itself, sealed: it refuses learner cells from now on."""
        assert self.learner_pid is not None
        reply = self.link.ask_raw({"op": "seal"})
        if reply.get("ok") is not True:
            raise LearnerGone("the learner process could not be sealed", timeout=False)
        return self.link.channel, self.learner_pid

    def _checkpoint(
        self,
        step: dict[str, Any],
        tests: list[dict[str, Any]],
        *,
        prelude: str = "",
        failed: str = "",
        final: bool = False,
    ) -> None:
        """Hidden tests at this place: a checkpoint forked now, run after the main line.

        ``final``: no learner cell or visible test comes after it, so the checkpoint runs
        on the main learner process (sealed) instead of a snapshot of it.
        """
        with self._phase("checkpoints"):
            self._fork_checkpoint(step, tests, prelude, failed, final)

    def _fork_checkpoint(
        self,
        step: dict[str, Any],
        tests: list[dict[str, Any]],
        prelude: str,
        failed: str,
        final: bool,
    ) -> None:
        names = [t["name"] for t in tests]
        self.link.deadline = time.monotonic() + self.cell_timeout
        main = self.link.channel
        try:
            if final and self.learner_pid is not None:
                channel, snapshot_pid = self._seal()
            else:
                channel, snapshot_pid = self._snapshot()
        except LearnerGone as gone:
            for test in tests:
                self._report(step, test, TestRun(False, f"not run: {gone}"))
            return
        read_end, write_end = os.pipe()
        out_read, out_write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the checkpoint: waits for its turn, then runs the hidden tests
            code = 0
            try:
                os.close(write_end)
                os.close(out_read)
                for earlier in self.checkpoints:  # theirs, not this one's
                    os.close(earlier.go)
                    os.close(earlier.out)
                self.checkpoints = []
                if channel is not main:
                    self.link.switch(channel)
                    main.close()  # so that the main learner process ends when the judge lets go
                self.namespace.take_hidden(_wait_for(read_end), step["i"])
                self.namespace.record_hidden = True
                self._hidden(step, tests, prelude, failed, snapshot_pid)
                _send_all(out_write, self.namespace.hidden_bindings())
            except BaseException:
                code = 70
                with _quiet():
                    self.events.send({"ev": "error", "message": traceback.format_exc()[-4000:]})
            finally:
                os._exit(code)
        os.close(read_end)
        os.close(out_write)
        if channel is not main:
            channel.close()
        budget = len(tests) * (self.cell_timeout + 1.0) + 2.0
        self.checkpoints.append(_Checkpoint(pid, write_end, out_read, step["i"], names, budget))

    def _hidden(
        self, step: dict[str, Any], tests: list[dict[str, Any]], prelude: str, failed: str, pid: int
    ) -> None:
        if prelude.strip():
            run = self._run(step, "<shared setup>", prelude, mirror=False)
            if run.gone is not None or not run.passed:
                failed = f"the shared code of this test cell failed: {run.message}"
        for index, test in enumerate(tests):
            if failed:
                self._report(step, test, TestRun(False, failed))
                continue
            spare = None
            if SPARE_SNAPSHOTS and index + 1 < len(tests):
                self.link.deadline = time.monotonic() + self.cell_timeout
                try:
                    spare = self._snapshot()
                except LearnerGone:
                    spare = None
            run = self._run(step, test["name"], test["body"], mirror=False)
            self._report(step, test, run)
            if run.gone is not None:
                self.events.send({"ev": "kill", "pid": pid})
                if spare is None:
                    failed = "not run: the learner's process ended during an earlier test"
                    continue
                self.link.switch(spare[0])
                pid = spare[1]
            elif spare is not None:
                spare[0].close()  # the spare ends itself

    def _run_checkpoints(self) -> None:
        # What hidden tests bind is seen by the hidden tests after them, as in the notebook
        # (plain values: a learner object lives in its own checkpoint's process).
        bound: dict[str, Any] = {}
        for checkpoint in self.checkpoints:
            _send_all(checkpoint.go, bound)
            checkpoint.go = -1
            budget = min(checkpoint.budget, max(self.tests_left, 0.0) + 2.0)
            started = time.monotonic()
            if not _wait_pid(checkpoint.pid, budget):
                with _quiet():
                    os.kill(checkpoint.pid, signal.SIGKILL)
                _wait_pid(checkpoint.pid, 5.0)
                self.events.send(
                    {"ev": "checkpoint-lost", "i": checkpoint.step, "tests": checkpoint.tests,
                     "detail": f"the hidden tests ran longer than {budget:g} s"}
                )  # fmt: skip
            bound.update(_read_all(checkpoint.out))
            self.tests_left -= time.monotonic() - started
        self.checkpoints = []

    def _drop_checkpoints(self) -> None:
        for checkpoint in self.checkpoints:
            with _quiet():
                os.kill(checkpoint.pid, signal.SIGKILL)
            _wait_pid(checkpoint.pid, 5.0)
            for fd in (checkpoint.go, checkpoint.out):
                if fd >= 0:
                    with _quiet():
                        os.close(fd)
        self.checkpoints = []


class _quiet:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return exc[0] is not None and issubclass(exc[0], OSError)  # type: ignore[arg-type]


def _last_learner_step(steps: list[dict[str, Any]]) -> int | None:
    """The ``i`` of the last step that reaches the learner process (a cell that runs there,
    or a test cell), or None."""
    for step in reversed(steps):
        if step["kind"] == "tests" or (step["kind"] == "run" and not step.get("skip")):
            return int(step["i"])
    return None


def _send_all(fd: int, data: dict[str, Any]) -> None:
    """One JSON object down a pipe, then close it."""
    with open(fd, "wb") as pipe:
        pipe.write(json.dumps(data, allow_nan=False).encode())


def _read_all(fd: int) -> dict[str, Any]:
    """What a checkpoint wrote down its pipe (nothing if it was killed)."""
    with open(fd, "rb") as pipe:
        data = pipe.read(64 << 20)
    try:
        found = json.loads(data) if data else {}
    except ValueError:
        return {}
    return found if type(found) is dict else {}


def _wait_for(fd: int) -> dict[str, Any]:
    """Block until the parent says go (with earlier hidden bindings); exit if it never will."""
    with open(fd, "rb") as pipe:
        data = pipe.read(64 << 20)
    if not data:
        os._exit(0)
    found = json.loads(data)
    return found if type(found) is dict else {}


def _wait_pid(pid: int, timeout: float) -> bool:
    """Wait for child ``pid`` to end within ``timeout`` seconds; True when it ended."""
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        return True
    try:
        ready, _, _ = select.select([pidfd], [], [], max(timeout, 0.0))
    finally:
        os.close(pidfd)
    if not ready:
        return False
    with _quiet():
        os.waitpid(pid, 0)
    return True


# -- the fork server -----------------------------------------------------------------------------


def _read_job(sock: socket.socket, limit: int = 256 << 20) -> dict[str, Any]:
    buffer = bytearray()
    while b"\n" not in buffer:
        chunk = sock.recv(1 << 20)
        if not chunk or len(buffer) > limit:
            raise EOFError("no job")
        buffer += chunk
    line, _, _ = bytes(buffer).partition(b"\n")
    job = json.loads(line)
    if type(job) is not dict:
        raise ValueError("bad job")
    return job


def _child(learner_fd: int, events_fd: int, memory: int | None, uid: int | None) -> None:
    code = 0
    events = Events(socket.socket(fileno=events_fd))
    try:
        os.setpgid(0, 0)  # the grader ends the judge and its checkpoints as one group
        libc = _libc()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        if memory is not None:
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
        if uid is not None:  # the grader is root: the judge needs none of it
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # after setuid, which clears it
        job = _read_job(events.sock)
        max_message = int(job["limits"].get("max_message", 64 << 20))
        link = Link(Channel(socket.socket(fileno=learner_fd), max_message=max_message))
        Judge(link, events, job).run()
    except BaseException:
        code = 70
        with _quiet():
            events.send({"ev": "error", "message": traceback.format_exc()[-4000:]})
    finally:
        os._exit(code)


@functools.cache
def _libc() -> Any:
    """The C library, for prctl (loaded once by the fork server: ctypes costs each judge
    a few milliseconds otherwise)."""
    import ctypes

    return ctypes.CDLL(None)


def _vm_size() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


# Set once per fork server, from its lesson's files (see serve_forever).
LESSON_MODULES: frozenset[str] = frozenset()


def lesson_modules(folder: str) -> frozenset[str]:
    """Top-level module and package names among a lesson's files (``helper.py``, ``tools/``).

    >>> sorted(lesson_modules("exercises/totals"))   # doctest: +SKIP
    ['helper', 'tools']
    """
    names = set()
    for entry in os.scandir(folder):
        if entry.is_file() and entry.name.endswith(".py"):
            names.add(entry.name[:-3])
        elif entry.is_dir() and any(n.endswith(".py") for n in os.listdir(entry.path)):
            names.add(entry.name)  # a package, or a namespace package (no __init__.py)
    return frozenset(n for n in names if n.isidentifier())


def serve_forever(config: dict[str, Any]) -> None:
    """The fork server: one judge per ``{"op": "judge"}`` request (with two sockets attached)."""
    control = socket.socket(fileno=config["control_fd"])
    failed = {}
    for name in config.get("preload", []):
        try:
            __import__(name)
        except BaseException as exc:
            failed[name] = f"{type(exc).__name__}: {exc}"
    # IPython's transformer (magics in test cells) comes with the preload when the lesson
    # has such cells (engine.preload_for); otherwise a judge never needs it.
    files = config.get("files")
    if files:
        os.chdir(files)
        # The lesson's helper modules are the learner's: imported there (their state is what
        # learner code changed), never here, where tests would see a fresh copy.
        global LESSON_MODULES
        LESSON_MODULES = lesson_modules(files)
    _libc()
    memory_mb = config.get("memory_mb")
    memory = None if memory_mb is None else _vm_size() + int(memory_mb) * 2**20
    import gc

    gc.collect()
    gc.freeze()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # judges are reaped by the kernel
    control.sendall(json.dumps({"event": "ready", "failed": failed, "pid": os.getpid()}).encode())
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(control, 65536, 2)
        except OSError:
            return
        if not data:
            return
        msg = json.loads(data)
        if msg.get("op") == "kill" and type(msg.get("pid")) is int and not fds:
            for kill in (os.killpg, os.kill):  # the judge's group: it and its checkpoints
                with _quiet():
                    kill(msg["pid"], signal.SIGKILL)
            continue
        if msg.get("op") != "judge" or len(fds) != 2:
            for fd in fds:
                os.close(fd)
            control.sendall(json.dumps({"event": "error", "message": "bad request"}).encode())
            continue
        pid = os.fork()
        if pid == 0:
            control.close()
            _child(fds[0], fds[1], memory, config.get("uid"))
        for fd in fds:
            os.close(fd)
        control.sendall(json.dumps({"event": "started", "pid": pid}).encode())


if __name__ == "__main__":
    serve_forever(json.loads(sys.argv[1]))
