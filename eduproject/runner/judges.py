"""The grader's handle on the judge fork servers (see ``judge.py``).

:class:`JudgeServer` starts ``python -m eduproject.runner.judge`` once per lesson and pool of
workers (:class:`JudgeServers` keeps them; the workers of a local pool share it), with the
modules tests use pre-imported and the lesson's files in its working folder. :meth:`spawn`
forks one judge per submission, hands it the learner process's socket and the plan, and
returns a :class:`JudgeRun` whose :meth:`JudgeRun.events` yields what the judge reports.
Several worker threads may spawn from one server at once: its control socket is used by one
at a time.

The judge is trusted code (the instructor's tests) working on untrusted data: it runs in the
same kind of sandbox as learner code (``backends.py``: with bubblewrap, no network, a read-only
system, nothing of the course but the lesson's files), as its own unprivileged uid when the
grader is root, with a scrubbed environment and an address-space limit, so a value built to
blow up in it costs that submission, not the grader.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from eduproject.errors import SandboxError
from eduproject.runner.backends import (
    Backend,
    end_process,
    forget_probe,
    log_tail,
    prepare_root,
    python_roots,
    scrubbed_env,
)
from eduproject.runner.channel import (
    Channel,
    ChannelClosed,
    ChannelTimeout,
    WireError,
    recv_control,
)
from eduproject.runner.isolation import remove_tree

__all__ = ["JudgeRun", "JudgeServer", "JudgeServers"]


def _package_outside(roots: list[str]) -> list[str]:
    """The eduproject package folder, when the Python installation does not hold it (an
    editable install in a checkout): the judge imports it from there."""
    package = str(Path(__file__).resolve().parents[1])  # .../eduproject
    return [] if any(package.startswith(root.rstrip("/") + "/") for root in roots) else [package]


STARTUP_TIMEOUT = 120.0
JUDGE_MEMORY_MB = 2048  # what one judge may allocate on top of its pre-imported modules


class JudgeRun:
    """One submission's judge: send the job, then read its events until it is done."""

    def __init__(self, server: JudgeServer, pid: int, events: socket.socket) -> None:
        self.server = server
        self.pid = pid  # as the judge server sees it (its own pid namespace, with bubblewrap)
        self.channel = Channel(events, max_message=256 << 20)
        self.ended = False

    def send_job(self, job: dict[str, Any]) -> None:
        data = (json.dumps(job, allow_nan=False) + "\n").encode()
        self.channel.sock.setblocking(True)
        try:
            self.channel.sock.sendall(data)
        except OSError as exc:
            raise SandboxError(f"the judge did not take its job ({exc.strerror})") from exc
        finally:
            self.channel.sock.setblocking(False)

    def events(self, deadline: float) -> Iterator[dict[str, Any]]:
        """The judge's events; ``{"ev": "lost", ...}`` if it ends, hangs or misbehaves."""
        while True:
            try:
                line = self.channel._read_line(deadline)
            except ChannelTimeout:
                yield {"ev": "lost", "timeout": True, "detail": "the judge ran out of time"}
                return
            except (ChannelClosed, WireError) as exc:
                yield {"ev": "lost", "timeout": False, "detail": str(exc)}
                return
            try:
                event = json.loads(line)
            except ValueError:
                yield {"ev": "lost", "timeout": False, "detail": "the judge sent a malformed event"}
                return
            if type(event) is not dict:
                continue
            yield event
            if event.get("ev") in ("done", "error"):
                return

    def end(self) -> None:
        """Stop the judge and its checkpoints (one process group), whatever they were doing."""
        if self.ended:
            return
        self.ended = True
        self.server.kill(self.pid)
        self.channel.close()


class JudgeServer:
    """A judge fork server: :meth:`start` once, :meth:`spawn` per submission (from any thread)."""

    def __init__(
        self,
        backend: Backend,
        *,
        preload: list[str],
        files: dict[str, bytes],
        uid: int | None,
        memory_mb: int = JUDGE_MEMORY_MB,
    ) -> None:
        self.backend = backend
        self.preload = preload
        self.files = files
        self.uid = uid
        self.memory_mb = memory_mb
        self._proc: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None
        self._folder: Path | None = None
        self.preload_failed: dict[str, str] = {}
        self._lock = threading.RLock()  # one request and its answer at a time
        self._ready = False
        self._failure: str | None = None  # why it did not start, for every thread that waits

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        with self._lock:
            self.launch()
            self.wait_ready()

    def launch(self) -> None:
        """Start the judge server's process; :meth:`wait_ready` waits until it can fork.

        Call both from a thread that outlives the server: bubblewrap's ``--die-with-parent``
        kills the sandbox when the *thread* that started it ends.
        """
        root = Path(tempfile.mkdtemp(prefix="eduproject-judge-"))
        (root / "owner.pid").write_text(str(os.getpid()))  # swept when this grader is gone
        root = prepare_root(root, uid=None)
        self._folder = root
        folder = root / "lesson"
        folder.mkdir(mode=0o755)
        for rel, data in self.files.items():
            path = folder / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(path.parent, 0o755)
            path.write_bytes(data)
            os.chmod(path, 0o644)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        config = {
            "control_fd": theirs.fileno(),
            "preload": self.preload,
            "files": str(folder),
            "memory_mb": self.memory_mb,
            "uid": self.uid,
        }
        argv = [sys.executable, "-I", "-m", "eduproject.runner.judge", json.dumps(config)]
        read_only = (str(folder), *_package_outside(python_roots()))
        log = open(root / "judge.log", "wb")  # noqa: SIM115 -- kept open by the child
        try:
            self._proc = subprocess.Popen(
                self.backend.wrap(root, argv, read_only=read_only),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                pass_fds=(theirs.fileno(),),
                env=scrubbed_env({"MPLBACKEND": "agg"}),
                cwd=root / "work",
                start_new_session=True,
            )
        except OSError as exc:
            raise SandboxError(f"cannot start the judge ({exc})") from exc
        finally:
            theirs.close()
            log.close()
        self._control = ours
        self._ready = False
        self._failure = None

    def wait_ready(self) -> None:
        """Wait until the launched server can fork (at once if it can; any thread may ask)."""
        with self._lock:
            if self._ready:
                return
            ready = None if self._control is None else self._recv(STARTUP_TIMEOUT)
            if ready is None or ready.get("event") != "ready":
                if self._failure is None:
                    self._failure = f"the judge did not start: {self._log_tail()}"
                self.close()
                forget_probe(self.backend)  # the next run checks that bubblewrap still works here
                raise SandboxError(
                    self._failure,
                    hint="run `eduproject grade` again; if it persists, the message above says why",
                )
            self.preload_failed = dict(ready.get("failed") or {})
            self._ready = True

    def spawn(self, learner: socket.socket) -> JudgeRun:
        """Fork a judge that talks to the learner process on ``learner`` (handed over)."""
        with self._lock:
            return self._spawn(learner)

    def _spawn(self, learner: socket.socket) -> JudgeRun:
        if not self.alive:
            self.close()
            self.start()
        self.wait_ready()
        assert self._control is not None
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            socket.send_fds(
                self._control,
                [json.dumps({"op": "judge"}).encode()],
                [learner.fileno(), theirs.fileno()],
            )
        except OSError as exc:
            ours.close()
            raise SandboxError(f"the judge server stopped ({exc})") from exc
        finally:
            theirs.close()
            learner.close()
        started = self._recv(30.0)
        if started is None or started.get("event") != "started":
            ours.close()
            self.close()
            raise SandboxError(f"the judge server did not fork a judge: {started}")
        return JudgeRun(self, int(started["pid"]), ours)

    def kill(self, pid: int) -> None:
        """Kill one judge and its checkpoints (its process group), whatever they are doing."""
        with self._lock:
            if self._control is not None:
                with contextlib.suppress(OSError):
                    self._control.send(json.dumps({"op": "kill", "pid": pid}).encode())

    def _recv(self, timeout: float) -> dict[str, Any] | None:
        assert self._control is not None
        return recv_control(self._control, timeout)

    def _log_tail(self) -> str:
        return "no output" if self._folder is None else log_tail(self._folder / "judge.log")

    def hang_up(self) -> None:
        """Close the control socket: the server ends (without waiting for it; see close)."""
        with self._lock:
            if self._control is not None:
                self._control.close()
                self._control = None
            self._ready = False

    def close(self) -> None:
        with self._lock:
            self.hang_up()
            if self._proc is not None:
                end_process(self._proc)
                self._proc = None
            if self._folder is not None:
                remove_tree(self._folder)
                self._folder = None


class JudgeServers:
    """The judge fork servers of a pool of workers: one per set of lesson files (at most
    four), launched by the first worker that asks, then shared by all of them.

    Launch from threads that outlive the servers (bubblewrap's ``--die-with-parent`` fires
    when the starting *thread* ends): the pool's own worker threads.
    """

    MAX = 4

    def __init__(self, backend: Backend, *, preload: list[str], uid: int | None) -> None:
        self.backend = backend
        self.preload = list(preload)
        self.uid = uid
        self._servers: dict[str, JudgeServer] = {}
        self._lock = threading.Lock()

    def get(self, files: dict[str, bytes], *, wait: bool = True) -> JudgeServer:
        """The server for ``files``, launched if there is none; waited for if ``wait``."""
        key = hashlib.sha256(
            b"".join(
                hashlib.sha256(k.encode() + b"\0" + v).digest() for k, v in sorted(files.items())
            )
        ).hexdigest()
        with self._lock:
            server = self._servers.get(key)
            if server is None:
                while len(self._servers) >= self.MAX:
                    self._servers.pop(next(iter(self._servers))).close()
                server = JudgeServer(self.backend, preload=self.preload, files=files, uid=self.uid)
                server.launch()
                self._servers[key] = server
        if wait:
            try:
                server.wait_ready()
            except BaseException:
                with self._lock:
                    if self._servers.get(key) is server:
                        del self._servers[key]
                raise
        return server

    def hang_up(self) -> None:
        """Every server ends (:meth:`close` then waits for them)."""
        with self._lock:
            servers = list(self._servers.values())
        for server in servers:
            server.hang_up()

    def close(self) -> None:
        with self._lock:
            servers, self._servers = list(self._servers.values()), {}
        for server in servers:
            server.close()
