"""Sandbox backends: how a learner process is isolated (one narrow interface, :class:`Backend`).

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

import atexit
import contextlib
import functools
import hashlib
import importlib.util
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eduproject.errors import SandboxError
from eduproject.runner import harness, isolation, wire, zygote

__all__ = [
    "Backend",
    "BubblewrapBackend",
    "RlimitsBackend",
    "detect_backend",
    "end_process",
    "forget_probe",
    "log_tail",
    "prepare_root",
    "python_roots",
    "remembered_backend",
    "rlimits_backend",
    "scrubbed_env",
    "shared_cache",
]

# The learner side: four stdlib-only files, bound read-only into the sandbox together.
SHIPPED = tuple(Path(m.__file__ or "").resolve() for m in (zygote, harness, wire, isolation))
INSIDE_CODE = "/sandbox/code"
INSIDE_WORK = "/sandbox/work"
INSIDE_CACHE = "/sandbox/cache"
STARTUP_TIMEOUT = 120.0
# Sizes of the sandbox's memory-backed folders: their pages count against no process limit.
# (Unsized -- half the host's memory each -- with bubblewrap older than 0.7.)
TMPFS_MB = {"/tmp": 256, "/dev/shm": 64}


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
    """How learner processes are isolated. ``root`` is a worker folder (see ``prepare_root``)."""

    name: str
    description: str
    warning: str | None
    uid_drop: bool

    def wrap(
        self,
        root: Path,
        argv: list[str],
        binds: tuple[str, ...] = (),
        read_only: tuple[str, ...] = (),
    ) -> list[str]:
        """``argv`` run in the sandbox; ``binds`` are extra host folders, writable, same path;
        ``read_only`` the same, read-only."""
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


def python_roots() -> list[str]:
    """The folders this Python lives in (venv and base), outside the system folders."""
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    roots.add(str(Path(sys.executable).resolve().parent.parent))
    system = ("/usr", "/bin", "/lib", "/lib64")
    return sorted(r for r in roots if not r.startswith(system))


def _compiled(sources: tuple[Path, ...]) -> list[str]:
    """The grader's bytecode cache of these modules, where it has one. Bound beside them
    (read-only), the zygote loads them instead of compiling ~2,000 lines at each start; a
    stale one is ignored by Python (its header names the source's size and time)."""
    found = []
    for source in sources:
        cached = importlib.util.cache_from_source(str(source))
        if os.path.isfile(cached):
            found.append(cached)
    return found


def _parents(paths: list[str]) -> list[str]:
    """Every ancestor folder of ``paths`` (not ``/``), parents before children, plus INSIDE_CACHE."""
    out: set[str] = {INSIDE_CACHE}
    for path in paths:
        out.update(str(p) for p in Path(path).parents if str(p) != "/")
    return sorted(out, key=lambda p: (p.count("/"), p))


@dataclass(frozen=True)
class BubblewrapBackend(Backend):
    executable: str = "bwrap"
    sized_tmpfs: bool = True  # bubblewrap 0.7 and later size a tmpfs (--size)

    def _tmpfs(self, folder: str) -> list[str]:
        size = ["--size", str(TMPFS_MB[folder] * 2**20)] if self.sized_tmpfs else []
        return ["--perms", "1777", *size, "--tmpfs", folder]

    def wrap(
        self,
        root: Path,
        argv: list[str],
        binds: tuple[str, ...] = (),
        read_only: tuple[str, ...] = (),
    ) -> list[str]:
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
        # The private /tmp comes first: a Python (a venv in a checkout) under /tmp is then
        # bound on top of it instead of being hidden by it.
        args += self._tmpfs("/tmp")
        # bwrap makes missing parent folders 0700: learner code (another uid) could not
        # reach the Python under them. Make them 0755 first.
        inside_cache = f"{INSIDE_CODE}/__pycache__"
        for folder in _parents([*python_roots(), f"{inside_cache}/x", INSIDE_WORK, INSIDE_CACHE]):
            if folder != "/tmp":
                args += ["--perms", "0755", "--dir", folder]
        for prefix in python_roots():
            args += ["--ro-bind", prefix, prefix]
        for path in SHIPPED:
            args += ["--ro-bind", str(path), f"{INSIDE_CODE}/{path.name}"]
        for compiled in _compiled(SHIPPED[1:]):  # the zygote's modules, not its main script
            args += ["--ro-bind", compiled, f"{inside_cache}/{os.path.basename(compiled)}"]
        args += [
            "--bind", str(root / "work"), INSIDE_WORK,
            "--bind", str(shared_cache()), INSIDE_CACHE,
            "--proc", "/proc",
            "--dev", "/dev",
            *self._tmpfs("/dev/shm"),
            "--chdir", INSIDE_WORK,
        ]  # fmt: skip
        for folder, how in [
            *((b, "--bind") for b in binds),
            *((b, "--ro-bind") for b in read_only),
        ]:
            for parent in _parents([folder]):
                if parent != INSIDE_CACHE and not parent.startswith(("/sandbox", "/dev")):
                    args += ["--perms", "0755", "--dir", parent]
            args += [how, folder, folder]
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
    def wrap(
        self,
        root: Path,
        argv: list[str],
        binds: tuple[str, ...] = (),
        read_only: tuple[str, ...] = (),
    ) -> list[str]:
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
    for root in python_roots():
        for folder in [Path(root), *Path(root).parents]:
            if not folder.stat().st_mode & 0o001:
                return False
    return True


_DETECTING = threading.Lock()
_DETECTED: list[Backend] = []  # the answer, once known in this process
_DETECTING_SOON = threading.Lock()
_PROBE: threading.Thread | None = None  # the one detect_backend_soon started


def detect_backend() -> Backend:
    """bubblewrap when it exists and works here, else the loud rlimits-only fallback.

    Found out once per process -- from the probe's memo, else by a probe (a sandbox started
    and ended: a tenth of a second or more); a caller arriving while another thread finds
    out waits for that answer.
    """
    with _DETECTING:
        if not _DETECTED:
            _DETECTED.append(_remembered_bubblewrap() or _probed_backend())
        return _DETECTED[0]


def remembered_backend() -> Backend | None:
    """:func:`detect_backend`'s answer when it is bubblewrap and known without starting a
    sandbox (found working here before, and nothing it depends on changed); else None."""
    with _DETECTING:
        if not _DETECTED:
            remembered = _remembered_bubblewrap()
            if remembered is None:
                return None
            _DETECTED.append(remembered)
        found = _DETECTED[0]
    return found if isinstance(found, BubblewrapBackend) else None


def detect_backend_soon() -> None:
    """Start :func:`detect_backend` on a thread, to overlap it with other start-up work.

    A process that ends meanwhile (a usage error) waits a moment for the probe, so that its
    sandbox and temporary folder do not outlive it.
    """
    global _PROBE
    with _DETECTING_SOON:
        if _PROBE is not None:
            return  # already under way, or done (detect_backend caches the answer)
        _PROBE = threading.Thread(target=_detect_quietly, name="sandbox-probe", daemon=True)
        _PROBE.start()
        atexit.register(_PROBE.join, 10.0)


def _detect_quietly() -> None:
    with contextlib.suppress(Exception):  # a failure shows when a caller asks again
        detect_backend()


def _bubblewrap(exe: str, sized_tmpfs: bool) -> BubblewrapBackend:
    root = os.geteuid() == 0
    return BubblewrapBackend(
        name="bwrap",
        description="bwrap+uid (network off, private filesystem)"
        if root
        else "bwrap (network off, private filesystem; not root: no uid drop)",
        warning=None,
        uid_drop=root,
        executable=exe,
        sized_tmpfs=sized_tmpfs,
    )


def _remembered_bubblewrap() -> BubblewrapBackend | None:
    """bubblewrap as the probe's memo has it, or None (no memo for it as it is now)."""
    exe = shutil.which("bwrap")
    if exe is None:
        return None
    sized = _read_memo(_probe_memo(exe))
    return None if sized is None else _bubblewrap(exe, sized)


def _probed_backend() -> Backend:
    exe = shutil.which("bwrap")
    if exe is None:
        return rlimits_backend("bubblewrap not found")
    try:
        usage = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return rlimits_backend(f"bubblewrap failed to start ({exc})")
    backend = _bubblewrap(exe, "--size" in usage.stdout)
    with tempfile.TemporaryDirectory(prefix="eduproject-probe-") as tmp:
        folder = prepare_root(Path(tmp), uid=None)
        cmd = [*backend.command(folder, {})[:-5], sys.executable, "-I", "-c", "pass"]
        try:
            probe = subprocess.run(cmd, capture_output=True, timeout=60, env=scrubbed_env())
        except (OSError, subprocess.TimeoutExpired) as exc:
            return rlimits_backend(f"bubblewrap failed to start ({exc})")
    if probe.returncode != 0:
        first = (probe.stderr.decode("utf-8", "replace").strip().splitlines() or ["?"])[0]
        return rlimits_backend(f"bubblewrap failed here ({first})")
    _write_memo(_probe_memo(exe), backend.sized_tmpfs)
    return backend


# -- the probe's memo ------------------------------------------------------------------------
#
# A probe starts a sandbox (a twentieth of a second; more while the grader is starting up):
# once it has found bubblewrap working, the answer is kept in the private cache folder under a
# name made of everything it depends on. A new bubblewrap or Python, another kernel, a reboot
# or a change to the user-namespace settings is another name, hence a fresh probe; a sandbox
# that then fails to start anyway forgets the answer (forget_probe), so the next run probes.

_USERNS_SETTINGS = (
    "/proc/sys/kernel/unprivileged_userns_clone",
    "/proc/sys/user/max_user_namespaces",
    "/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
    "/proc/sys/kernel/random/boot_id",
)


def _probe_memo(exe: str) -> Path | None:
    """The memo file for this bubblewrap, Python, user and kernel; None if unreadable."""
    parts: list[object] = [os.geteuid(), os.uname().release, sys.executable, python_roots()]
    try:
        for path in (exe, sys.executable):
            st = os.stat(path)
            parts += [os.path.realpath(path), st.st_ino, st.st_size, st.st_mtime_ns]
        for setting in _USERNS_SETTINGS:
            with contextlib.suppress(FileNotFoundError), open(setting) as fh:
                parts += [setting, fh.read().strip()]
        folder = shared_cache()
    except (OSError, SandboxError):
        return None
    digest = hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:24]
    return folder / f"bwrap-probe-{digest}.json"


def _read_memo(memo: Path | None) -> bool | None:
    """``sized_tmpfs`` of a bubblewrap found working before, or None (probe it)."""
    if memo is None:
        return None
    try:
        data = json.loads(memo.read_text())
    except (OSError, ValueError):
        return None
    works, sized = (data.get("works"), data.get("sized_tmpfs")) if type(data) is dict else (0, 0)
    return sized if works is True and type(sized) is bool else None


def _write_memo(memo: Path | None, sized_tmpfs: bool) -> None:
    if memo is None:
        return
    with contextlib.suppress(OSError):
        part = memo.with_name(f"{memo.name}.{os.getpid()}")
        part.write_text(json.dumps({"works": True, "sized_tmpfs": sized_tmpfs}))
        os.replace(part, memo)


def forget_probe(backend: Backend) -> None:
    """A sandbox of ``backend`` failed to start: if it is bubblewrap, the next process probes
    it again (this one keeps its answer; the failure is reported as it is)."""
    if not isinstance(backend, BubblewrapBackend):
        return
    memo = _probe_memo(backend.executable)
    if memo is not None:
        with contextlib.suppress(OSError):
            memo.unlink()


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


def prepare_root(root: Path, uid: int | None) -> Path:
    (root / "work").mkdir(mode=0o711, exist_ok=True)
    os.chmod(root, 0o711)
    learner = [] if uid is None else [f"learner:x:{uid}:{uid}:learner:{INSIDE_WORK}:/bin/sh"]
    (root / "passwd").write_text("\n".join(["root:x:0:0:root:/root:/bin/sh", *learner]) + "\n")
    (root / "group").write_text(
        "\n".join(["root:x:0:", *([f"learner:x:{uid}:"] if uid else [])]) + "\n"
    )
    return root


def log_tail(path: Path) -> str:
    """The last 2,000 characters a sandboxed server wrote to its log, for an error message."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        text = ""
    return text[-2000:] or "no output"


def end_process(proc: subprocess.Popen[bytes]) -> None:
    """Wait for a sandboxed server whose control socket was closed; kill its group after 5 s.

    The wait is on a pidfd (woken the moment the process ends): ``Popen.wait`` with a
    timeout polls, sleeping up to 50 ms between looks.
    """
    with contextlib.suppress(OSError):  # no pidfd (Linux < 5.3), or already reaped
        pidfd = os.pidfd_open(proc.pid)
        try:
            select.select([pidfd], [], [], 5)
        finally:
            os.close(pidfd)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
