"""The same engine protocol over a real Jupyter kernel: the reference for the differential test.

The fast path runs learner code in a zygote's forked child (``zygote.py``). This module runs
it in a fresh ipykernel per submission instead -- learner cells are executed by the kernel,
and the grader's requests are answered by ``harness.Session`` injected into the kernel -- while
the engine, its plan, its tests-in-the-grader and its verdicts stay exactly the same. The
differential test grades a whole corpus both ways and requires identical verdicts and scores.

The kernel runs as an unprivileged uid (when the grader is root) in its own work folder, with
the same rlimits but address space, and a scrubbed environment. It has no network or
filesystem isolation (ZeroMQ needs loopback): this engine is a test reference, not a sandbox.

    >>> spawner = KernelSpawner(Limits())                                  # doctest: +SKIP
    >>> result = Engine(lesson, data_files={}, spawner=spawner, limits=Limits()).grade(...)
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from jupyter_client import KernelManager
from jupyter_core.utils import ensure_event_loop

from eduproject.errors import SandboxError
from eduproject.grading import harness, wire
from eduproject.grading.backends import INSIDE_WORK, _prepare_root, detect_backend, scrubbed_env
from eduproject.grading.channel import ChannelClosed, ChannelTimeout, ProtocolViolation
from eduproject.grading.sandbox import ChildExit, Limits, _learner_uid

__all__ = ["KernelProcess", "KernelSpawner"]

# Run by the kernel's launcher as root inside the sandbox: hand the connection file to the
# learner uid, set rlimits, drop privileges, then become the kernel.
_LAUNCHER = """
import json, os, resource, sys
conn, uid, limits = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
for name, key in (("CPU", "cpu_seconds"), ("FSIZE", "file_bytes"), ("NOFILE", "open_files")):
    resource.setrlimit(getattr(resource, "RLIMIT_" + name), (limits[key], limits[key]))
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
if uid != "-":
    uid = int(uid)
    resource.setrlimit(resource.RLIMIT_NPROC, (limits["processes"], limits["processes"]))
    os.chown(conn, uid, uid)
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
# The grader's pid means nothing in the sandbox's pid namespace: no parent polling.
os.environ.pop("JPY_PARENT_PID", None)
os.execv(sys.executable, [sys.executable, "-m", "ipykernel_launcher", "-f", conn])
"""

_INJECT = """
def _eduproject_inject(wire_source, harness_source):
    import sys, types
    wire = types.ModuleType("wire")
    exec(compile(wire_source, "wire.py", "exec"), wire.__dict__)
    sys.modules["wire"] = wire
    harness = types.ModuleType("harness")
    exec(compile(harness_source, "harness.py", "exec"), harness.__dict__)
    return harness.Session(get_ipython().user_ns)
__eduproject_session__ = _eduproject_inject({wire!r}, {harness!r})
del _eduproject_inject
"""


def _source(module: Any) -> str:
    return Path(module.__file__).read_text(encoding="utf-8")


class _LockedDownKernel(KernelManager):
    """A KernelManager whose kernel goes through the sandbox and the privilege-dropping launcher."""

    wrap: Any = None  # (argv) -> argv inside the sandbox

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        cmd = super().format_kernel_cmd(extra_arguments)
        return list(self.wrap(cmd))


class KernelProcess:
    """One submission's kernel, in the grading sandbox, speaking the engine's protocol.

    ZeroMQ talks over unix sockets (``ipc`` transport) in a private folder bound into the
    sandbox at its own path, so the kernel needs no network: it runs under the same
    bubblewrap backend as the zygote (no address-space limit: the kernel's own size varies).
    """

    def __init__(
        self, limits: Limits, files: dict[str, bytes], preload: list[str] | None = None
    ) -> None:
        self.limits = limits
        backend = detect_backend()
        self.uid = _learner_uid() if backend.uid_drop else None
        self.root = _prepare_root(Path(tempfile.mkdtemp(prefix="eduproject-kernel-")), self.uid)
        self.work = self.root / "work"
        self.private = self.root / "private"
        self.private.mkdir(mode=0o700)
        for rel, data in files.items():
            path = self.work / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        if self.uid is not None:
            for path in [self.work, self.private, *self.work.rglob("*")]:
                os.chown(path, self.uid, self.uid)
        self.exit: ChildExit | None = None
        self.km = _LockedDownKernel(
            transport="ipc",
            ip=str(self.private / "ipc"),
            connection_file=str(self.private / "kernel.json"),
        )
        child_limits = json.dumps(
            {k: v for k, v in limits.for_child().items() if k != "memory_bytes"}
        )
        uid = "-" if self.uid is None else str(self.uid)

        def wrap(cmd: list[str]) -> list[str]:
            conn = cmd[cmd.index("-f") + 1]
            launcher = [sys.executable, "-c", _LAUNCHER, conn, uid, child_limits]
            return backend.wrap(self.root, launcher, binds=(str(self.private),))

        self.km.wrap = wrap
        work = INSIDE_WORK if backend.name == "bwrap" else str(self.work)
        env = scrubbed_env(
            {
                "HOME": work,
                "PWD": work,
                "MPLCONFIGDIR": str(self.private / "matplotlib"),
                "IPYTHONDIR": str(self.private / "ipython"),
                "JUPYTER_RUNTIME_DIR": str(self.private / "runtime"),
                "TMPDIR": str(self.private),
            }
        )
        try:
            quiet = subprocess.DEVNULL
            self.km.start_kernel(cwd=str(self.work), env=env, stdout=quiet, stderr=quiet)
            self.kc = self.km.client()
            self.kc.start_channels()
            self.kc.wait_for_ready(timeout=60)
        except Exception as exc:
            self._shutdown()
            raise SandboxError(f"the Jupyter kernel did not start ({exc})") from exc
        # Like the zygote: the lesson's heavy modules are imported before any learner cell.
        imports = "".join(f"import {name}\n" for name in preload or [])
        inject = imports + _INJECT.format(wire=_source(wire), harness=_source(harness))
        reply = self._execute(inject, timeout=120, silent=True)
        if reply["status"] != "ok":
            self._shutdown()
            raise SandboxError(f"cannot set up the grading session in the kernel: {reply}")

    # -- the engine's protocol -------------------------------------------------------------

    def ask(self, msg: dict[str, Any], timeout: float) -> dict[str, Any]:
        if msg.get("op") == "run_cell":
            return self._execute(str(msg["code"]), timeout=timeout, silent=False)
        request = json.dumps(msg)
        expression = f"__eduproject_session__.handle_json({request!r}, {self.limits.max_message})"
        reply = self._execute("", timeout=timeout, silent=True, expressions={"r": expression})
        result = reply.get("expressions", {}).get("r", {})
        if result.get("status") != "ok":
            raise ProtocolViolation(f"the kernel could not answer: {result.get('evalue', '?')}")
        try:
            answer = json.loads(ast.literal_eval(result["data"]["text/plain"]))
        except (ValueError, SyntaxError, KeyError) as exc:
            raise ProtocolViolation(f"malformed reply from the kernel ({exc})") from None
        if type(answer) is not dict:
            raise ProtocolViolation("the kernel's reply is not an object")
        return answer

    def snapshot(self, timeout: float) -> None:
        return None  # a kernel cannot be copied: the engine runs tests in place

    def end(self, *, kill: bool = False) -> ChildExit:
        if self.exit is None:
            code = self._returncode()
            self.exit = (
                ChildExit(None, signal.SIGKILL, True)
                if kill and code is None
                else _exit_from(code if code is not None else 0)
            )
            self._shutdown()
        return self.exit

    # -- kernel messaging ------------------------------------------------------------------

    def _returncode(self) -> int | None:
        process = getattr(self.km.provisioner, "process", None)
        return None if process is None else process.poll()

    def _execute(
        self, code: str, *, timeout: float, silent: bool, expressions: dict[str, str] | None = None
    ) -> dict[str, Any]:
        deadline = time.monotonic() + max(timeout, 0.0)
        msg_id = self.kc.execute(
            code,
            silent=silent,
            store_history=not silent,
            user_expressions=expressions or {},
            allow_stdin=False,
        )
        outputs: list[dict[str, Any]] = []
        idle = False
        reply: dict[str, Any] | None = None
        while not (idle and reply is not None):
            if time.monotonic() > deadline:
                raise ChannelTimeout("timed out waiting for the kernel")
            if self._returncode() is not None:
                raise ChannelClosed("the kernel ended")
            if reply is None:
                try:
                    shell = self.kc.get_shell_msg(timeout=0.02)
                    if shell["parent_header"].get("msg_id") == msg_id:
                        reply = shell["content"]
                except queue.Empty:
                    pass
            try:
                message = self.kc.get_iopub_msg(timeout=0.02)
            except queue.Empty:
                continue
            if message["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = message["msg_type"], message["content"]
            if kind == "status" and content.get("execution_state") == "idle":
                idle = True
            elif kind == "clear_output":
                outputs.clear()
            elif kind in ("stream", "display_data", "execute_result", "error"):
                outputs.append(_output(kind, content))
        return _cell_reply(reply, outputs)

    def _shutdown(self) -> None:
        with contextlib.suppress(Exception):  # the kernel may be long gone
            if hasattr(self, "kc"):
                self.kc.stop_channels()
            self.km.shutdown_kernel(now=True)
        # jupyter_client's blocking API made an event loop for this thread; close it, or it
        # leaks its self-pipe sockets (a new one is made when the next kernel needs one).
        loop = ensure_event_loop()
        if not loop.is_running():
            loop.close()
        shutil.rmtree(self.root, ignore_errors=True)


def _output(kind: str, content: dict[str, Any]) -> dict[str, Any]:
    if kind == "stream":
        return {"output_type": "stream", "name": content["name"], "text": content["text"]}
    if kind == "error":
        return {
            "output_type": "error",
            "ename": content["ename"],
            "evalue": content["evalue"],
            "traceback": content["traceback"],
        }
    out = {"output_type": kind, "data": content["data"], "metadata": content.get("metadata", {})}
    if kind == "execute_result":
        out["execution_count"] = content.get("execution_count")
    return out


def _cell_reply(reply: dict[str, Any] | None, outputs: list[dict[str, Any]]) -> dict[str, Any]:
    assert reply is not None
    merged: list[dict[str, Any]] = []
    for out in outputs:  # consecutive stream pieces become one output, as in the harness
        last = merged[-1] if merged else None
        if (
            out["output_type"] == "stream"
            and last
            and last["output_type"] == "stream"
            and last["name"] == out["name"]
        ):
            last["text"] += out["text"]
        else:
            merged.append(out)
    cell: dict[str, Any] = {
        "status": "ok" if reply.get("status") == "ok" else "error",
        "outputs": merged,
        "execution_count": reply.get("execution_count"),
        "expressions": reply.get("user_expressions", {}),
    }
    if cell["status"] == "error":
        ename = str(reply.get("ename", "Exception"))
        base = ename if isinstance(getattr(builtins, ename, None), type) else "Exception"
        cell["error"] = {"type": ename, "base": base, "message": str(reply.get("evalue", ""))}
    return cell


def _exit_from(code: int) -> ChildExit:
    if code < 0:
        return ChildExit(None, -code, False)
    return ChildExit(code, None, False)


class KernelSpawner:
    """A :class:`~eduproject.grading.engine.Spawner` that starts a fresh kernel per submission.

    ``preload``: modules imported in each kernel before the learner's cells, as the zygote does
    (see ``engine.preload_for``), so that cold imports count against neither engine's timeouts.
    """

    def __init__(self, limits: Limits, preload: list[str] | None = None) -> None:
        self.limits = limits
        self.preload = list(preload or [])

    def spawn(self, files: dict[str, bytes]) -> KernelProcess:
        return KernelProcess(self.limits, files, self.preload)
