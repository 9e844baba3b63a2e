"""The zygote: a fork server, one per grading worker, started inside the sandbox.

It pre-imports IPython and the lesson's heavy modules once, warms IPython's first-use paths,
then forks one fresh child per submission on the grader's request. The child drops to an
unprivileged uid, sets its rlimits, and serves the engine (``harness.serve``) over the socket
it was handed. When the child ends -- or the grader asks to kill it -- the zygote, a child
subreaper, kills every process the learner left behind and wipes the sandbox's ``/tmp``.

Control protocol (JSON over a SOCK_SEQPACKET socket, one message per packet): ``{"event":
"ready"}`` once IPython is warm; ``{"op": "preload", "modules": [...]}`` -> ``{"event":
"preloaded", "failed": {module: error}}`` (the lesson's heavy modules, imported once: a zygote
can be started before its lesson is known);
``{"op": "fork", "job": {...}}`` + the child's socket as SCM_RIGHTS -> ``{"event": "started"}``;
then ``{"op": "end", "kill": bool}`` when the grader is done with the submission ->
``{"event": "exited", "code", "signal", "requested"}`` once every learner process is gone. Shipped into the sandbox with ``harness.py`` and ``wire.py``: stdlib only, nothing from
eduproject.

    python -I zygote.py zygote '{"control_fd": 3, "wipe": ["/tmp"]}'
"""

from __future__ import annotations

import contextlib
import functools
import glob
import importlib.util
import json
import os
import select
import signal
import socket
import sys
import tempfile
from typing import TYPE_CHECKING, Any

if __package__ or TYPE_CHECKING:
    from . import harness, isolation
else:  # started as a script (python -I does not add its folder to sys.path)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import harness
    import isolation

# -- the zygote: one per worker, forks a fresh child per submission --------------------------

PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38
PR_SET_CHILD_SUBREAPER = 36


def _prctl(option: int, value: int) -> None:
    import ctypes

    libc = _libc()
    if libc.prctl(option, value, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), f"prctl({option}) failed")


@functools.cache
def _libc() -> Any:
    import ctypes

    return ctypes.CDLL(None, use_errno=True)


def _freeze() -> None:
    """Children share the zygote's pages: move every object to the permanent generation, so
    that no garbage collection in a child touches (copies) them."""
    import gc

    gc.collect()
    gc.freeze()


def _preload(modules: list[str]) -> dict[str, str]:
    failed = {}
    for name in modules:
        try:
            __import__(name)
        except BaseException as exc:
            failed[name] = f"{type(exc).__name__}: {exc}"
    return failed


def _descendants(root: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read().decode("ascii", "replace")
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if fields and fields[0] != "Z":
            parents.setdefault(int(fields[1]), []).append(int(entry))
    out, todo = [], [root]
    while todo:
        for pid in parents.get(todo.pop(), []):
            out.append(pid)
            todo.append(pid)
    return out


def _reap_except(keep: int) -> None:
    """Reap dead learner processes, but never the submission's main child (watched apart)."""
    for entry in _descendants(os.getpid()):
        if entry != keep:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(entry, os.WNOHANG)


def _reap() -> list[tuple[int, int]]:
    reaped: list[tuple[int, int]] = []
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return reaped
        if pid == 0:
            return reaped
        reaped.append((pid, status))


def _kill_all_learner_processes(wipe: list[str], spare: frozenset[str] = frozenset()) -> bool:
    """SIGKILL every process below the zygote (orphans re-parent to it: it is a subreaper),
    then empty ``wipe`` but for the sandbox's own mounts in ``spare``; False if something
    there could not be removed."""
    for _ in range(200):
        victims = _descendants(os.getpid())
        if not victims:
            break
        for pid in victims:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        _reap()
    _reap()
    # /tmp and /dev/shm of the sandbox: nothing carries to the next learner.
    return all([isolation.empty_folder(folder, spare) for folder in wipe])


def _limit(kind: int, value: int | None) -> None:
    import resource

    if value is not None:
        resource.setrlimit(kind, (value, value))


def _vm_size() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _child(shell: Any, sock_fd: int, job: dict[str, Any]) -> None:
    """In the forked child: isolate, drop privileges, then serve the engine."""
    import resource

    code = 0
    try:
        os.setsid()
        devnull = os.open("/dev/null", os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.close(devnull)
        os.chdir(job["workdir"])
        os.environ["HOME"] = os.environ["PWD"] = job["workdir"]
        # The lesson's helper modules sit beside the notebook: `import helper` finds them there,
        # as it does in Jupyter (first, before the folder this script was started from).
        sys.path.insert(0, job["workdir"])
        limits = job["limits"]
        memory = limits.get("memory_bytes")
        _limit(resource.RLIMIT_AS, None if memory is None else _vm_size() + memory)
        _limit(resource.RLIMIT_CPU, limits.get("cpu_seconds"))
        _limit(resource.RLIMIT_FSIZE, limits.get("file_bytes"))
        _limit(resource.RLIMIT_NOFILE, limits.get("open_files"))
        _limit(resource.RLIMIT_CORE, 0)
        uid = job.get("uid")
        if uid is not None:
            _limit(resource.RLIMIT_NPROC, limits.get("processes"))
        _prctl(PR_SET_NO_NEW_PRIVS, 1)
        if uid is not None:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # after setuid, which clears it
        isolation.deny_shared_kernel_state()  # SysV IPC, mqueues, keyrings: see isolation.py
        _private_tmp(job["tmp"])
        np = sys.modules.get("numpy")
        if np is not None:
            np.random.seed()  # a fresh process would not share the zygote's random state
        outputs = harness.Outputs(job["max_output"])
        shell.eduproject_box.outputs = outputs
        sys.stdout = harness.Stream(outputs, "stdout")
        sys.stderr = harness.Stream(outputs, "stderr")
        sys.argv = [""]
        harness.serve(socket.socket(fileno=sock_fd), shell, job["max_message"])
    except BaseException:
        code = 70
    finally:
        harness._exit(code)


def _private_tmp(tmp: str) -> None:
    """TMPDIR for learner code, and a writable matplotlib config folder seeded with the font
    list the zygote built once (without it, the first plot costs seconds)."""
    os.environ["TMPDIR"] = tmp
    tempfile.tempdir = None
    cache = os.environ.get("MPLCONFIGDIR")
    if cache:
        mine = tempfile.mkdtemp(prefix="matplotlib-")
        for path in glob.glob(os.path.join(cache, "fontlist-*.json")):
            os.symlink(path, os.path.join(mine, os.path.basename(path)))
        os.environ["MPLCONFIGDIR"] = mine


def _build_font_cache() -> None:
    """Build matplotlib's font list in the shared cache once (in a throwaway child)."""
    cache = os.environ.get("MPLCONFIGDIR")
    if not cache or glob.glob(os.path.join(cache, "fontlist-*.json")):
        return
    if importlib.util.find_spec("matplotlib") is None:
        return
    pid = os.fork()
    if pid == 0:
        try:
            import matplotlib.font_manager  # noqa: F401 (importing it writes the cache)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


_WARM_UP = (
    "x = 1",
    "def f(a):\n    return [a, {'k': (a, 2.5)}]\nf(1)",
    "print('warm')",
    "%time y = 1",
    "1 / 0",
    "def",
)


def _warm_up(shell: Any) -> None:
    """Run IPython's first-use paths (compile, display, tracebacks) once, before forking.

    Every child would otherwise pay for them again (about 20 ms per submission).
    """
    for code in _WARM_UP:
        harness.run_cell(shell, code)
    shell.reset(new_session=False)
    shell.execution_count = 1


def zygote_main(config: dict[str, Any]) -> None:
    """Serve fork requests on the control socket (fd ``config["control_fd"]``) until EOF."""
    control = socket.socket(fileno=config["control_fd"])
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    for key, value in config.get("env", {}).items():
        os.environ[key] = value
    _build_font_cache()
    shell = harness.make_shell(harness.Outputs(0))
    _warm_up(shell)
    _freeze()
    wipe = [d for d in config.get("wipe", []) if os.path.isdir(d)]
    spare = isolation.mount_points_under(wipe)  # e.g. a Python bound under /tmp
    _send(control, {"event": "ready", "pid": os.getpid()})
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(control, 65536, 1)
        except OSError:
            data, fds = b"", []
        if not data:
            _kill_all_learner_processes(wipe, spare)
            return
        msg = json.loads(data)
        if msg["op"] == "preload" and not fds:
            failed = _preload([str(m) for m in msg.get("modules", [])])
            _freeze()
            _send(control, {"event": "preloaded", "failed": failed})
            continue
        if msg["op"] != "fork" or len(fds) != 1:
            for fd in fds:
                os.close(fd)
            _send(control, {"event": "error", "message": f"bad request {msg.get('op')!r}"})
            continue
        pid = os.fork()
        if pid == 0:
            control.close()
            _child(shell, fds[0], msg["job"])
        os.close(fds[0])
        _send(control, {"event": "started", "pid": pid})
        ended = _watch(control, pid, wipe, spare)
        _send(control, ended)
        if not ended["clean"]:
            return  # leftovers we cannot remove: the grader starts a fresh sandbox


def _watch(
    control: socket.socket, pid: int, wipe: list[str], spare: frozenset[str]
) -> dict[str, Any]:
    """Wait for the grader's "end", stop the child, then clean up after everything it left.

    The child may have ended long before: the snapshots it forked (``harness.serve``) must
    live on until the grader has run their tests, so nothing is killed before "end".
    """
    kill = True
    while True:
        data = control.recv(65536)
        if not data:
            break  # the grader is gone: kill everything
        msg = json.loads(data)
        if msg.get("op") == "end":
            kill = bool(msg.get("kill"))
            break
        if msg.get("op") == "kill" and type(msg.get("pid")) is int:
            # One hung process of the submission (a snapshot), if it is the learner's.
            if msg["pid"] in _descendants(os.getpid()):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(msg["pid"], signal.SIGKILL)
            _reap_except(pid)
    done, status = os.waitpid(pid, os.WNOHANG)
    requested = False
    if done == 0:
        if not kill:  # the grader closed the child's socket: it ends by itself, or is made to
            done, status = _wait(pid, 5.0)
        if done == 0:
            requested = kill
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
    clean = _kill_all_learner_processes(wipe, spare)
    return {
        "event": "exited",
        "clean": clean,
        "code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
        "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
        "requested": requested,
    }


def _wait(pid: int, timeout: float) -> tuple[int, int]:
    """waitpid with a timeout: (0, 0) if ``pid`` is still running after ``timeout`` seconds."""
    pidfd = os.pidfd_open(pid)
    try:
        select.select([pidfd], [], [], timeout)
    finally:
        os.close(pidfd)
    return os.waitpid(pid, os.WNOHANG)


def _send(control: socket.socket, msg: dict[str, Any]) -> None:
    control.sendall(json.dumps(msg).encode())


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "zygote":
        sys.exit("usage: zygote.py zygote CONFIG_JSON")
    zygote_main(json.loads(sys.argv[2]))
