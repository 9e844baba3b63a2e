"""Where learner code runs: sandbox backends, resource limits, and the per-worker zygote.

A :class:`Zygote` is one long-lived process per grading worker, started inside a sandbox
backend. It pre-imports IPython and the lesson's heavy modules once, then forks one fresh
child per submission (see ``zygote.py`` and ``harness.py``). The child drops to an unprivileged uid (when the
grader is root), sets its rlimits and serves the engine; when it ends, the zygote kills every
process it left behind and wipes the sandbox's ``/tmp``.

Backends (one narrow interface, :class:`Backend`):

* :class:`BubblewrapBackend` -- ``bwrap --unshare-net --unshare-pid --unshare-ipc ...``:
  no network, read-only system and Python, a private ``/tmp``, and a writable work folder
  that holds only the submission and the lesson's data files. Nothing of ``build/``,
  ``exercises/``, the gradebook or the bundle is mounted.
* :class:`RlimitsBackend` -- the fallback: rlimits and the uid drop only. Network and
  filesystem are NOT isolated; :attr:`Backend.warning` says so, and the grade command prints it.

    >>> backend = detect_backend()
    >>> backend.description
    'bwrap+uid (network off, private filesystem)'
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eduproject.errors import SandboxError
from eduproject.grading import harness, wire, zygote
from eduproject.grading.channel import Channel, ProtocolViolation

__all__ = [
    "Backend",
    "BubblewrapBackend",
    "ChildExit",
    "Limits",
    "RlimitsBackend",
    "SandboxedChild",
    "Zygote",
    "detect_backend",
    "scrubbed_env",
]

# The learner side: three stdlib-only files, bound read-only into the sandbox together.
SHIPPED = tuple(Path(m.__file__ or "").resolve() for m in (zygote, harness, wire))
INSIDE_CODE = "/sandbox/code"
INSIDE_WORK = "/sandbox/work"
INSIDE_CACHE = "/sandbox/cache"
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


# -- environment ---------------------------------------------------------------------------


def scrubbed_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The whole environment learner code sees: no keys, tokens or grader settings.

    >>> sorted(scrubbed_env())[:3]
    ['HOME', 'IPYTHONDIR', 'LANG']
    """
    python_bin = str(Path(sys.executable).parent)
    env = {
        "PATH": f"{python_bin}:/usr/local/bin:/usr/bin:/bin",
        "HOME": "/tmp",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        "MPLCONFIGDIR": f"{INSIDE_CACHE}/matplotlib",
        "IPYTHONDIR": f"{INSIDE_CACHE}/ipython",
        "PYTHONDONTWRITEBYTECODE": "1",
        # One thread per learner process: fair on shared cores, and safe to fork.
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    env.update(extra or {})
    return env


# -- backends ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Backend:
    """How learner processes are isolated. ``root`` is a worker folder (see ``_prepare_root``)."""

    name: str
    description: str
    warning: str | None
    uid_drop: bool

    def wrap(self, root: Path, argv: list[str], binds: tuple[str, ...] = ()) -> list[str]:
        """``argv`` run in the sandbox; ``binds`` are extra host folders, writable, same path."""
        raise NotImplementedError

    def command(self, root: Path, config: dict[str, Any]) -> list[str]:
        """The zygote's command line."""
        script = f"{INSIDE_CODE}/zygote.py" if self.name == "bwrap" else str(SHIPPED[0])
        return self.wrap(root, [sys.executable, "-I", script, "zygote", json.dumps(config)])

    def work_dir(self, root: Path) -> str:
        raise NotImplementedError

    def cache_dir(self) -> str:
        """Where the zygote keeps caches (matplotlib's font list): writable by root only."""
        raise NotImplementedError

    def tmp_dir(self, root: Path, job: str) -> tuple[Path | None, str]:
        """The child's TMPDIR: (host folder to create for it or None, path as the child sees it)."""
        raise NotImplementedError

    def wipe(self) -> list[str]:
        return []


def _python_roots() -> list[str]:
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    roots.add(str(Path(sys.executable).resolve().parent.parent))
    system = ("/usr", "/bin", "/lib", "/lib64")
    return sorted(r for r in roots if not r.startswith(system))


def _parents(paths: list[str]) -> list[str]:
    """Every ancestor folder of ``paths`` (not ``/``), parents before children, plus INSIDE_CACHE."""
    out: set[str] = {INSIDE_CACHE}
    for path in paths:
        out.update(str(p) for p in Path(path).parents if str(p) != "/")
    return sorted(out, key=lambda p: (p.count("/"), p))


@dataclass(frozen=True)
class BubblewrapBackend(Backend):
    executable: str = "bwrap"

    def wrap(self, root: Path, argv: list[str], binds: tuple[str, ...] = ()) -> list[str]:
        args = [
            self.executable,
            "--unshare-net",
            "--unshare-pid",
            "--unshare-ipc",
            "--unshare-uts",
            "--unshare-cgroup-try",
            "--die-with-parent",
            "--new-session",
            "--hostname",
            "sandbox",
        ]
        for top in ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
            if os.path.islink(top):
                args += ["--symlink", os.readlink(top), top]
            elif os.path.isdir(top):
                args += ["--ro-bind", top, top]
        for etc in ("/etc/ld.so.cache", "/etc/localtime", "/etc/fonts", "/etc/mime.types"):
            args += ["--ro-bind-try", etc, etc]
        args += ["--ro-bind", str(root / "passwd"), "/etc/passwd"]
        args += ["--ro-bind", str(root / "group"), "/etc/group"]
        # bwrap makes missing parent folders 0700: learner code (another uid) could not
        # reach the Python under them. Make them 0755 first.
        for folder in _parents([*_python_roots(), f"{INSIDE_CODE}/x", INSIDE_WORK, INSIDE_CACHE]):
            args += ["--perms", "0755", "--dir", folder]
        for prefix in _python_roots():
            args += ["--ro-bind", prefix, prefix]
        for path in SHIPPED:
            args += ["--ro-bind", str(path), f"{INSIDE_CODE}/{path.name}"]
        args += [
            "--bind", str(root / "work"), INSIDE_WORK,
            "--bind", str(shared_cache()), INSIDE_CACHE,
            "--perms", "1777", "--tmpfs", "/tmp",
            "--proc", "/proc",
            "--dev", "/dev",
            "--perms", "1777", "--tmpfs", "/dev/shm",
            "--chdir", INSIDE_WORK,
        ]  # fmt: skip
        for folder in binds:
            for parent in _parents([folder]):
                if parent != INSIDE_CACHE and not parent.startswith(("/sandbox", "/dev")):
                    args += ["--perms", "0755", "--dir", parent]
            args += ["--bind", folder, folder]
        if self.uid_drop:
            args += ["--cap-drop", "ALL"]
            for cap in ("SETUID", "SETGID", "KILL", "DAC_OVERRIDE", "FOWNER", "CHOWN"):
                args += ["--cap-add", f"CAP_{cap}"]
        return [*args, *argv]

    def work_dir(self, root: Path) -> str:
        return INSIDE_WORK

    def cache_dir(self) -> str:
        return INSIDE_CACHE

    def tmp_dir(self, root: Path, job: str) -> tuple[Path | None, str]:
        return None, "/tmp"  # private to the sandbox, wiped after every child

    def wipe(self) -> list[str]:
        return ["/tmp", "/dev/shm"]


@dataclass(frozen=True)
class RlimitsBackend(Backend):
    def wrap(self, root: Path, argv: list[str], binds: tuple[str, ...] = ()) -> list[str]:
        return argv  # no isolation at all: the warning says so

    def work_dir(self, root: Path) -> str:
        return str(root / "work")

    def cache_dir(self) -> str:
        return str(shared_cache())

    def tmp_dir(self, root: Path, job: str) -> tuple[Path | None, str]:
        return root / "work" / f"{job}-tmp", str(root / "work" / f"{job}-tmp")


def rlimits_backend(reason: str) -> RlimitsBackend:
    """The fallback backend; ``reason`` says why bubblewrap is not used."""
    if os.geteuid() != 0:
        uid_drop, who = False, "the grader's own user (not root: no uid drop)"
    elif not _python_readable_by_others():
        uid_drop = False
        who = f"the grader's own user (Python under {sys.base_prefix} is not readable by others)"
    else:
        uid_drop, who = True, "an unprivileged uid"
    return RlimitsBackend(
        name="rlimits",
        description=f"rlimits only ({reason}; learner code runs as {who})",
        warning=(
            f"SANDBOX WARNING: rlimits only: {reason} -- network NOT isolated, filesystem NOT "
            f"isolated (learner code can read world-readable files such as exercises/); "
            f"learner code runs as {who}. Install bubblewrap (apt-get install bubblewrap)."
        ),
        uid_drop=uid_drop,
    )


def _python_readable_by_others() -> bool:
    """Can another uid reach the interpreter's files (every parent folder o+x)?"""
    for root in _python_roots():
        for folder in [Path(root), *Path(root).parents]:
            if not folder.stat().st_mode & 0o001:
                return False
    return True


@functools.cache
def detect_backend() -> Backend:
    """bubblewrap when it exists and works here, else the loud rlimits-only fallback."""
    exe = shutil.which("bwrap")
    if exe is None:
        return rlimits_backend("bubblewrap not found")
    root = os.geteuid() == 0
    backend = BubblewrapBackend(
        name="bwrap",
        description="bwrap+uid (network off, private filesystem)"
        if root
        else "bwrap (network off, private filesystem; not root: no uid drop)",
        warning=None,
        uid_drop=root,
        executable=exe,
    )
    with tempfile.TemporaryDirectory(prefix="eduproject-probe-") as tmp:
        folder = _prepare_root(Path(tmp), uid=None)
        cmd = [*backend.command(folder, {})[:-5], sys.executable, "-I", "-c", "pass"]
        try:
            probe = subprocess.run(cmd, capture_output=True, timeout=60, env=scrubbed_env())
        except (OSError, subprocess.TimeoutExpired) as exc:
            return rlimits_backend(f"bubblewrap failed to start ({exc})")
    if probe.returncode != 0:
        first = (probe.stderr.decode("utf-8", "replace").strip().splitlines() or ["?"])[0]
        return rlimits_backend(f"bubblewrap failed here ({first})")
    return backend


ROOT_PREFIX = "eduproject-grade-"


@functools.cache
def _sweep_stale_roots() -> None:
    """Remove worker folders left by graders that were killed (kill -9 skips all cleanup)."""
    for root in Path(tempfile.gettempdir()).glob(f"{ROOT_PREFIX}*"):
        try:
            owner = int((root / "owner.pid").read_text())
            os.kill(owner, 0)
        except ProcessLookupError:
            shutil.rmtree(root, ignore_errors=True)
        except (OSError, ValueError):
            continue  # not ours to judge (another user's, or being created right now)


@functools.cache
def shared_cache() -> Path:
    """A host folder for caches that outlive one zygote (built once, read by every learner).

    Only the grader's user (root) writes it; learner processes get a read-only view.
    """
    path = Path(tempfile.gettempdir()) / f"eduproject-sandbox-cache-{os.geteuid()}"
    path.mkdir(mode=0o755, exist_ok=True)
    if path.stat().st_uid != os.geteuid() or path.stat().st_mode & 0o022:
        raise SandboxError(
            f"{path} is not a private cache folder (wrong owner or writable by others)",
            hint=f"remove it (rm -r {path}) and grade again",
        )
    return path


def _prepare_root(root: Path, uid: int | None) -> Path:
    (root / "work").mkdir(mode=0o711, exist_ok=True)
    os.chmod(root, 0o711)
    learner = [] if uid is None else [f"learner:x:{uid}:{uid}:learner:{INSIDE_WORK}:/bin/sh"]
    (root / "passwd").write_text("\n".join(["root:x:0:0:root:/root:/bin/sh", *learner]) + "\n")
    (root / "group").write_text(
        "\n".join(["root:x:0:", *([f"learner:x:{uid}:"] if uid else [])]) + "\n"
    )
    return root


_UIDS = itertools.count()


def _learner_uid() -> int:
    """A uid no account uses, different for every zygote alive on this host.

    Per-zygote uids keep RLIMIT_NPROC (counted per uid) from one worker's fork bomb
    starving another worker, and no two workers' learner processes can signal each other.
    """
    return 200_000 + (os.getpid() * 64 + next(_UIDS)) % 1_000_000


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

    def __init__(self, zygote: Zygote, sock: socket.socket, folders: list[Path]) -> None:
        self.zygote = zygote
        self.channel = Channel(sock, max_message=zygote.limits.max_message)
        self.folders = folders
        self.exit: ChildExit | None = None

    def ask(self, msg: dict[str, Any], timeout: float) -> dict[str, Any]:
        return self.channel.ask(msg, timeout)

    def snapshot(self, timeout: float) -> Snapshot:
        """Fork a copy of the learner process as it is now, with its own channel.

        Raises a :class:`~eduproject.grading.channel.WireError` if the process hangs or is gone.
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

    def end(self, *, kill: bool = False) -> ChildExit:
        """Close the conversation (or kill the process) and return how it ended."""
        if self.exit is None:
            self.channel.close()
            self.exit = self.zygote._reap_child(kill=kill)
            for folder in self.folders:
                shutil.rmtree(folder, ignore_errors=True)
        return self.exit


class Zygote:
    """A fork server for one worker: start once, then :meth:`spawn` one child per submission.

    >>> with Zygote(detect_backend(), preload=["pandas"]) as z:   # doctest: +SKIP
    ...     child = z.spawn({"data/x.csv": b"a,b\\n1,2\\n"})
    ...     child.ask({"op": "run_cell", "code": "print(1)"}, timeout=5)
    ...     child.end()
    """

    def __init__(
        self, backend: Backend, *, preload: list[str] | None = None, limits: Limits | None = None
    ) -> None:
        self.backend = backend
        self.preload = list(preload or [])
        self.limits = limits or Limits()
        self.uid = _learner_uid() if backend.uid_drop else None
        self._root: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None
        self._jobs = itertools.count(1)
        self.preload_failed: dict[str, str] = {}

    def __enter__(self) -> Zygote:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        _sweep_stale_roots()
        root = Path(tempfile.mkdtemp(prefix=ROOT_PREFIX))
        (root / "owner.pid").write_text(str(os.getpid()))
        self._root = _prepare_root(root, self.uid)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        config = {
            "control_fd": theirs.fileno(),
            "preload": self.preload,
            "wipe": self.backend.wipe(),
        }
        cache = self.backend.cache_dir()
        env = scrubbed_env(
            {"MPLCONFIGDIR": f"{cache}/matplotlib", "IPYTHONDIR": f"{cache}/ipython"}
        )
        log = open(root / "zygote.log", "wb")  # noqa: SIM115 -- kept open by the child
        try:
            self._proc = subprocess.Popen(
                self.backend.command(root, config),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                pass_fds=(theirs.fileno(),),
                env=env,
                cwd=root / "work",
                start_new_session=True,
            )
        except OSError as exc:
            raise SandboxError(
                f"cannot start the grading sandbox ({exc})",
                hint="check that bubblewrap and the Python environment are installed",
            ) from exc
        finally:
            theirs.close()
            log.close()
        self._control = ours
        ready = self._recv(STARTUP_TIMEOUT)
        if ready is None or ready.get("event") != "ready":
            self.close()
            raise SandboxError(
                f"the grading sandbox did not start: {self._log_tail(root)}",
                hint="run `eduproject grade` again; if it persists, check the zygote log above",
            )
        self.preload_failed = dict(ready.get("failed") or {})

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
            raise SandboxError(f"the grading sandbox stopped ({exc})") from exc
        finally:
            theirs.close()
        started = self._recv(30.0)
        if started is None or started.get("event") != "started":
            ours.close()
            self.close()
            raise SandboxError(f"the grading sandbox did not fork a learner process: {started}")
        return SandboxedChild(self, ours, [host, *([tmp_host] if tmp_host else [])])

    def _reap_child(self, *, kill: bool) -> ChildExit:
        """End the current child (and everything it left) and return how it ended."""
        if self._control is None:
            return ChildExit(None, signal.SIGKILL, True)
        self._ask_end(kill)
        event = self._recv(20.0)
        if event is None or event.get("event") != "exited":
            self.close()  # the zygote is wedged: the next spawn starts a new one
            return ChildExit(None, signal.SIGKILL, kill)
        return ChildExit(event.get("code"), event.get("signal"), bool(event.get("requested")))

    def _ask_end(self, kill: bool) -> None:
        assert self._control is not None
        with contextlib.suppress(OSError):  # a dead zygote is handled by the caller
            self._control.send(json.dumps({"op": "end", "kill": kill}).encode())

    def _recv(self, timeout: float) -> dict[str, Any] | None:
        assert self._control is not None
        self._control.settimeout(timeout)
        try:
            data = self._control.recv(65536)
        except (TimeoutError, OSError):
            return None
        if not data:
            return None
        try:
            msg = json.loads(data)
        except ValueError:
            return None
        return msg if isinstance(msg, dict) else None

    def _log_tail(self, root: Path) -> str:
        try:
            text = (root / "zygote.log").read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            text = ""
        return text[-2000:] or "no output"

    def close(self) -> None:
        if self._control is not None:
            self._control.close()
            self._control = None
        if self._proc is not None:
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self._proc.pid, signal.SIGKILL)
                self._proc.wait()
            self._proc = None
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None
