"""The grader's handles on learner processes: the per-worker zygote, its children, snapshots.

A :class:`Zygote` is one long-lived process per grading worker, started inside a sandbox
backend (``backends.py``). It pre-imports IPython and the lesson's heavy modules once, then
forks one fresh child per submission (see ``zygote.py`` and ``harness.py``). The child drops to
an unprivileged uid (when the grader is root), sets its rlimits (:class:`Limits`) and serves the
engine; when the grader is done with the submission, the zygote kills every process the child
left behind and wipes the sandbox's ``/tmp``.

    >>> with Zygote(detect_backend(), preload=["pandas"]) as z:   # doctest: +SKIP
    ...     child = z.spawn({"data/x.csv": b"a,b\\n1,2\\n"})
    ...     child.ask({"op": "run_cell", "code": "print(1)"}, timeout=5)
    ...     child.end()
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import itertools
import json
import os
import signal
import socket
import stat
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eduproject.errors import SandboxError
from eduproject.runner.backends import (
    Backend,
    BubblewrapBackend,
    RlimitsBackend,
    detect_backend,
    end_process,
    forget_probe,
    log_tail,
    prepare_root,
    rlimits_backend,
    scrubbed_env,
)
from eduproject.runner.channel import Channel, ProtocolViolation, recv_control
from eduproject.runner.isolation import remove_tree
from eduproject.runner.judges import JudgeServer, JudgeServers

__all__ = [
    "Backend",
    "BubblewrapBackend",
    "ChildExit",
    "Limits",
    "RlimitsBackend",
    "SandboxedChild",
    "Snapshot",
    "Zygote",
    "detect_backend",
    "discard_prestarted",
    "prestart",
    "rlimits_backend",
    "scrubbed_env",
    "shared_judges",
]

STARTUP_TIMEOUT = 120.0


@dataclass(frozen=True)
class Limits:
    """Limits for one submission. Timeouts in seconds; sizes in MB or characters.

    ``memory_mb`` is what learner code may allocate on top of the pre-imported environment
    (address space, RLIMIT_AS). ``max_output`` caps the characters of output kept per
    submission; ``max_message_mb`` caps one reply from the learner process.
    """

    cell_timeout: float = 30.0
    timeout: float = 300.0
    memory_mb: int = 1024
    processes: int = 64
    file_mb: int = 64
    open_files: int = 256
    max_output: int = 1_000_000
    max_message_mb: int = 64

    def __post_init__(self) -> None:
        from eduproject.errors import ConfigError

        for name in ("cell_timeout", "timeout", "memory_mb", "processes", "file_mb"):
            if getattr(self, name) <= 0:
                raise ConfigError(
                    f"grading limit {name} must be positive, got {getattr(self, name)}",
                    hint="pass a positive number, e.g. --cell-timeout 30 --timeout 300 --memory 1024",
                )

    @property
    def max_message(self) -> int:
        return self.max_message_mb * 2**20

    def for_child(self) -> dict[str, Any]:
        return {
            "memory_bytes": self.memory_mb * 2**20,
            "cpu_seconds": int(self.timeout) + 1,
            "file_bytes": self.file_mb * 2**20,
            "open_files": self.open_files,
            "processes": self.processes,
        }


ROOT_PREFIX = "eduproject-grade-"
JUDGE_ROOT_PREFIX = "eduproject-judge-"  # judges.py: the judge servers' folders


@functools.cache
def _sweep_stale_roots() -> None:
    """Remove worker folders left by graders that were killed (kill -9 skips all cleanup).

    Only real folders of this user whose owner process is gone; whatever a learner left in
    them (a 1,500-deep tree...) is removed without recursion, and nothing here can fail a run.
    """
    folders = Path(tempfile.gettempdir())
    for root in [*folders.glob(f"{ROOT_PREFIX}*"), *folders.glob(f"{JUDGE_ROOT_PREFIX}*")]:
        try:
            info = root.lstat()
            if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
                continue  # a link, or another user's: not ours to judge
            owner = int((root / "owner.pid").read_text())
            os.kill(owner, 0)
        except ProcessLookupError:
            remove_tree(root)
        except (OSError, ValueError):
            continue  # being created right now, or not a worker folder


_UIDS = itertools.count()


def _learner_uid() -> int:
    """A uid no account uses, different for every zygote alive on this host.

    Per-zygote uids keep RLIMIT_NPROC (counted per uid) from one worker's fork bomb
    starving another worker, and no two workers' learner processes can signal each other.
    """
    return 200_000 + (os.getpid() * 64 + next(_UIDS)) % 1_000_000


def shared_judges(backend: Backend, preload: list[str], *, uid: int | None = None) -> JudgeServers:
    """Judge servers for zygotes that preload ``preload``: pass them to each zygote of a
    pool (``Zygote(judges=...)``) to share one server per lesson, and close them after the
    zygotes. ``uid``: a learner uid of the pool (the judges run as another uid derived from
    it); a fresh one by default.
    """
    if not backend.uid_drop:
        return JudgeServers(backend, preload=preload, uid=None)
    learner = uid if uid is not None else _learner_uid()
    return JudgeServers(backend, preload=preload, uid=learner + 1_100_000)


# -- the zygote and its children -------------------------------------------------------------


@dataclass(frozen=True)
class ChildExit:
    """How a learner process ended."""

    code: int | None
    signal: int | None
    requested: bool  # the grader killed it (timeout)

    def describe(self) -> str:
        if self.signal is not None:
            name = signal.Signals(self.signal).name if self.signal in _SIGNALS else str(self.signal)
            cause = {
                "SIGXCPU": " (CPU time limit)",
                "SIGXFSZ": " (file size limit)",
                "SIGSEGV": " (crashed)",
            }.get(name, "")
            return f"the learner's process was killed by {name}{cause}"
        if self.code is not None:
            return f"the learner's process ended itself (exit code {self.code})"
        return "the learner's process ended"


_SIGNALS = {s.value for s in signal.Signals}


class Snapshot:
    """A forked copy of a learner process (see :meth:`SandboxedChild.snapshot`).

    It runs no further learner cell; it dies with its submission's cleanup.
    """

    def __init__(self, channel: Channel) -> None:
        self.channel = channel

    def ask(self, msg: dict[str, Any], timeout: float) -> dict[str, Any]:
        return self.channel.ask(msg, timeout)

    def snapshot(self, timeout: float) -> None:
        return None  # tests never need a snapshot of a snapshot

    def end(self, *, kill: bool = False) -> ChildExit:
        self.channel.close()
        return ChildExit(None, None, kill)


class SandboxedChild:
    """One submission's learner process: a :class:`Channel` plus its exit from the zygote."""

    def __init__(
        self, zygote: Zygote, sock: socket.socket, folders: list[Path], pid: int | None = None
    ) -> None:
        self.zygote = zygote
        self.pid = pid  # as the sandbox numbers it (what a judge's "kill" event names)
        self.channel = Channel(sock, max_message=zygote.limits.max_message)
        self.folders = folders
        self.exit: ChildExit | None = None

    def ask(self, msg: dict[str, Any], timeout: float) -> dict[str, Any]:
        return self.channel.ask(msg, timeout)

    def snapshot(self, timeout: float) -> Snapshot:
        """Fork a copy of the learner process as it is now, with its own channel.

        Raises a :class:`~eduproject.runner.channel.WireError` if the process hangs or is gone.
        """
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            reply = self.channel.ask({"op": "fork"}, timeout, fds=(theirs.fileno(),))
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        if reply.get("ok") is not True:
            ours.close()
            raise ProtocolViolation("the learner process did not make a snapshot")
        return Snapshot(Channel(ours, max_message=self.zygote.limits.max_message))

    def detach(self) -> socket.socket:
        """The learner process's socket, for the judge to talk on (this handle keeps none)."""
        sock = socket.socket(fileno=os.dup(self.channel.sock.fileno()))
        self.channel.close()
        return sock

    def kill(self, pid: int) -> None:
        """Kill one process of this submission (a hung snapshot), leaving the others."""
        self.zygote._kill_pid(pid)

    def end(self, *, kill: bool = False) -> ChildExit:
        """Close the conversation (or kill the process) and return how it ended."""
        if self.exit is None:
            self.channel.close()
            self.exit = self.zygote._reap_child(kill=kill)
            for folder in self.folders:
                remove_tree(folder)
        return self.exit


@dataclass(frozen=True)
class _Launch:
    """A zygote process started, not yet known to be ready: its folder, process and socket."""

    backend: Backend
    uid: int | None
    root: Path
    proc: subprocess.Popen[bytes]
    control: socket.socket


def _launch(backend: Backend, uid: int | None) -> _Launch:
    """Start a zygote in the sandbox (it says "ready" on ``control`` once IPython is warm).

    bubblewrap's --die-with-parent ends the sandbox when the *thread* that started it ends:
    call this from a thread that outlives the zygote.
    """
    _sweep_stale_roots()
    root = Path(tempfile.mkdtemp(prefix=ROOT_PREFIX))
    (root / "owner.pid").write_text(str(os.getpid()))
    prepare_root(root, uid)
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    config = {"control_fd": theirs.fileno(), "wipe": backend.wipe()}
    cache = backend.cache_dir()
    env = scrubbed_env({"MPLCONFIGDIR": f"{cache}/matplotlib", "IPYTHONDIR": f"{cache}/ipython"})
    log = open(root / "zygote.log", "wb")  # noqa: SIM115 -- kept open by the child
    try:
        proc = subprocess.Popen(
            backend.command(root, config),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            pass_fds=(theirs.fileno(),),
            env=env,
            cwd=root / "work",
            start_new_session=True,
        )
    except OSError as exc:
        ours.close()
        remove_tree(root)
        raise SandboxError(
            f"cannot start the grading sandbox ({exc})",
            hint="check that bubblewrap and the Python environment are installed",
        ) from exc
    finally:
        theirs.close()
        log.close()
    return _Launch(backend, uid, root, proc, ours)


# Zygotes started before their lesson was known (prestart), waiting for a Zygote to adopt them.
_PRESTARTED: list[_Launch] = []
_PRESTARTED_LOCK = threading.Lock()


def prestart(backend: Backend, count: int) -> None:
    """Start ``count`` zygotes now, without waiting for them: the next :class:`Zygote` with
    this backend that starts adopts one (it then sends its lesson's preloads). The command
    line starts them before importing the grading pipeline and reading the lesson, whose
    tenths of a second a zygote's own start-up (IPython, warm-up) then overlaps.

    Call it from the main thread (see :func:`_launch`). Zygotes nobody adopts are ended by
    :func:`discard_prestarted`, which a pool calls when it closes, and at exit.
    """
    for _ in range(count):
        launch = _launch(backend, _learner_uid() if backend.uid_drop else None)
        with _PRESTARTED_LOCK:
            _PRESTARTED.append(launch)


def _take_prestarted(backend: Backend) -> _Launch | None:
    with _PRESTARTED_LOCK:
        for i, launch in enumerate(_PRESTARTED):
            if launch.backend == backend:
                return _PRESTARTED.pop(i)
    return None


def discard_prestarted() -> None:
    """End the prestarted zygotes nobody adopted (fewer submissions than workers...)."""
    with _PRESTARTED_LOCK:
        launches = list(_PRESTARTED)
        _PRESTARTED.clear()
    for launch in launches:  # all hang up at once, then each is waited for
        launch.control.close()
    for launch in launches:
        end_process(launch.proc)
        remove_tree(launch.root)


atexit.register(discard_prestarted)  # nothing to do unless a command prestarted and stopped


class Zygote:
    """A fork server for one worker: start once, then :meth:`spawn` one child per submission.

    >>> with Zygote(detect_backend(), preload=["pandas"]) as z:   # doctest: +SKIP
    ...     child = z.spawn({"data/x.csv": b"a,b\\n1,2\\n"})
    ...     child.ask({"op": "run_cell", "code": "print(1)"}, timeout=5)
    ...     child.end()
    """

    def __init__(
        self,
        backend: Backend,
        *,
        preload: list[str] | None = None,
        limits: Limits | None = None,
        lesson_files: dict[str, bytes] | None = None,
        judges: JudgeServers | None = None,
    ) -> None:
        self.backend = backend
        # With the lesson's files known, start() starts their judge server at the same time.
        self.lesson_files = lesson_files
        self.preload = list(preload or [])
        self.limits = limits or Limits()
        self.uid = _learner_uid() if backend.uid_drop else None
        self._root: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None
        self._jobs = itertools.count(1)
        self.preload_failed: dict[str, str] = {}
        # Judge servers: this zygote's own, or those of its pool (shared_judges), which the
        # pool ends.
        self._own_judges = judges is None
        self._judges = judges or shared_judges(backend, self.preload, uid=self.uid)

    def judges(self, files: dict[str, bytes]) -> JudgeServer:
        """The judge fork server for a lesson with these files (started on first use)."""
        return self._judges.get(files, wait=True)

    def __enter__(self) -> Zygote:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        if self.lesson_files is None:
            self._start()
            return
        # The judge server starts while the zygote does (each takes a second or more). Both
        # are launched from this thread, which outlives them: bubblewrap's --die-with-parent
        # kills a sandbox when the thread that started it ends (a judge server started on a
        # short-lived thread was killed at once and started again on the first submission).
        try:
            server = self._judges.get(self.lesson_files, wait=False)
            self._start()
            server.wait_ready()
        except BaseException:
            self.close()
            raise

    def _start(self) -> None:
        launch = _take_prestarted(self.backend)
        if launch is None:
            launch = _launch(self.backend, self.uid)
        else:
            self.uid = launch.uid  # the files of each submission are handed to this uid
        self._root, self._proc, self._control = launch.root, launch.proc, launch.control
        reply = self._recv(STARTUP_TIMEOUT)
        started = reply is not None and reply.get("event") == "ready"
        if started and self.preload:
            self._control.send(json.dumps({"op": "preload", "modules": self.preload}).encode())
            reply = self._recv(STARTUP_TIMEOUT)
            started = reply is not None and reply.get("event") == "preloaded"
            if reply is not None and started:
                self.preload_failed = dict(reply.get("failed") or {})
        if not started:
            log = self._log_tail(launch.root)
            self.close()
            forget_probe(self.backend)  # the next run checks that bubblewrap still works here
            raise SandboxError(
                f"the grading sandbox did not start: {log}",
                hint="run `eduproject grade` again; if it persists, check the zygote log above",
            )

    def spawn(self, files: dict[str, bytes]) -> SandboxedChild:
        """Fork a fresh learner process whose work folder holds exactly ``files``."""
        if not self.alive:
            self.close()
            self.start()
        assert self._root is not None and self._control is not None
        name = f"j{next(self._jobs)}"
        host = self._root / "work" / name
        host.mkdir(mode=0o700)
        for rel, data in files.items():
            path = host / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        if self.uid is not None:
            for path in [host, *host.rglob("*")]:
                os.chown(path, self.uid, self.uid)
        tmp_host, tmp_inside = self.backend.tmp_dir(self._root, name)
        if tmp_host is not None:
            tmp_host.mkdir(mode=0o700)
            if self.uid is not None:
                os.chown(tmp_host, self.uid, self.uid)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        job = {
            "workdir": f"{self.backend.work_dir(self._root)}/{name}",
            "tmp": tmp_inside,
            "uid": self.uid,
            "limits": self.limits.for_child(),
            "max_output": self.limits.max_output,
            "max_message": self.limits.max_message,
        }
        try:
            socket.send_fds(
                self._control, [json.dumps({"op": "fork", "job": job}).encode()], [theirs.fileno()]
            )
        except OSError as exc:
            log = self._log_tail(self._root) if self._root is not None else "no output"
            self.close()
            raise SandboxError(f"the grading sandbox stopped ({exc}); its log ends: {log}") from exc
        finally:
            theirs.close()
        started = self._recv(30.0)
        if started is None or started.get("event") != "started":
            ours.close()
            self.close()
            raise SandboxError(f"the grading sandbox did not fork a learner process: {started}")
        pid = started.get("pid")
        folders = [host, *([tmp_host] if tmp_host else [])]
        return SandboxedChild(self, ours, folders, pid if type(pid) is int else None)

    def _reap_child(self, *, kill: bool) -> ChildExit:
        """End the current child (and everything it left) and return how it ended."""
        if self._control is None:
            return ChildExit(None, signal.SIGKILL, True)
        self._ask_end(kill)
        event = self._recv(20.0)
        if event is None or event.get("event") != "exited":
            self.close()  # the zygote is wedged: the next spawn starts a new one
            return ChildExit(None, signal.SIGKILL, kill)
        if event.get("clean") is False:
            self.close()  # the zygote could not empty /tmp and has ended: start a new one
        return ChildExit(event.get("code"), event.get("signal"), bool(event.get("requested")))

    def _kill_pid(self, pid: int) -> None:
        if self._control is not None:
            with contextlib.suppress(OSError):
                self._control.send(json.dumps({"op": "kill", "pid": int(pid)}).encode())

    def _ask_end(self, kill: bool) -> None:
        assert self._control is not None
        with contextlib.suppress(OSError):  # a dead zygote is handled by the caller
            self._control.send(json.dumps({"op": "end", "kill": kill}).encode())

    def _recv(self, timeout: float) -> dict[str, Any] | None:
        assert self._control is not None
        return recv_control(self._control, timeout)

    def _log_tail(self, root: Path) -> str:
        return log_tail(root / "zygote.log")

    def hang_up(self) -> None:
        """Close every control socket: the zygote and its own judge servers end, all at once
        (:meth:`close` then waits for them; closing several zygotes, hang up all first)."""
        if self._own_judges:
            self._judges.hang_up()
        if self._control is not None:
            self._control.close()
            self._control = None

    def close(self) -> None:
        self.hang_up()
        if self._own_judges:
            self._judges.close()
        if self._proc is not None:
            end_process(self._proc)
            self._proc = None
        if self._root is not None:
            remove_tree(self._root)
            self._root = None
