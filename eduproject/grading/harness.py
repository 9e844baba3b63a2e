"""The learner process: runs learner cells with IPython and answers the grader's questions.

Runs on the learner's side of the grading trust boundary, in a child the zygote forked
(``zygote.py``) -- or injected into a Jupyter kernel by the kernel engine. It imports only the
standard library at import time (IPython when a shell is made) and nothing from eduproject
but its sibling ``wire.py``. It never receives test code.

* :class:`Session` answers the grader's requests about learner names (``get``, ``call``,
  ``getattr``, ``getitem``, ``len``, ``iter``/``next``, ``repr``, ``isinstance``) with plain
  data or references (see ``wire.py``).
* :func:`make_shell` and :func:`run_cell`: an IPython ``InteractiveShell`` whose outputs
  (stream, display_data, execute_result, error; nbformat-shaped) are captured and capped.
* :func:`serve`: the JSON-lines loop over the socket to the grader.
"""

from __future__ import annotations

import builtins
import contextlib
import io
import json
import os
import socket
import sys
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if __package__ or TYPE_CHECKING:
    from . import wire
else:  # started in the sandbox: wire.py is bound next to this file
    import wire

MAX_TEXT = 2000  # characters of a repr or an exception message sent back

# -- the session: answering the grader's requests ---------------------------------------------


def _safe_text(fn: Callable[[], Any]) -> str:
    try:
        text = fn()
        text = text if type(text) is str else "<not a string>"
    except BaseException as exc:  # a learner __repr__/__str__ may raise anything
        text = f"<{type(exc).__name__} while formatting>"
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "..."


def describe_exception(exc: BaseException) -> dict[str, str]:
    """Name, nearest builtin base class and message of an exception raised by learner code."""
    t = type(exc)
    base = next(
        (
            type.__dict__["__name__"].__get__(k)
            for k in wire.mro(t)
            if getattr(builtins, type.__dict__["__name__"].__get__(k), None) is k
        ),
        "Exception",
    )
    return {"type": wire.type_name(t), "base": base, "message": _safe_text(lambda: str(exc))}


class Session:
    """Answers requests about the names in ``namespace`` with plain data or references.

    >>> s = Session({"f": lambda x: x + 1})
    >>> ref = s.handle({"op": "get", "names": ["f"]})["value"]["f"]["$ref"]
    >>> s.handle({"op": "call", "ref": ref, "args": [1], "kwargs": []})
    {'ok': True, 'value': 2}
    """

    def __init__(self, namespace: dict[str, Any]) -> None:
        self.namespace = namespace
        self.objects: dict[int, Any] = {}
        self.codec = wire.Codec(self._make_ref, self._resolve_ref)

    def _make_ref(self, obj: Any) -> dict[str, Any]:
        ref = len(self.objects) + 1
        self.objects[ref] = obj
        t = type(obj)
        out: dict[str, Any] = {"$ref": ref, "type": wire.type_name(t)}
        library = _library_name(obj)
        if library is not None:
            out["import"] = library
        return out

    def _resolve_ref(self, data: dict[str, Any]) -> Any:
        ref = data.get("$ref")
        if type(ref) is not int or ref not in self.objects:
            raise wire.Protocol("unknown reference")
        return self.objects[ref]

    def handle(self, msg: dict[str, Any]) -> dict[str, Any]:
        try:
            op = msg.get("op")
            if op == "get":
                return {"ok": True, "value": self._get(msg["names"])}
            if op == "next":
                try:
                    item = next(self._obj(msg))
                except StopIteration:
                    return {"ok": True, "stop": True}
                return {"ok": True, "value": self.codec.encode(item)}
            handler = _OPS.get(op)  # type: ignore[arg-type]
            if handler is None:
                raise wire.Protocol(f"unknown request {op!r}")
            return {"ok": True, "value": handler(self, msg)}
        except wire.Refused as exc:
            return {
                "ok": False,
                "error": {"type": "TypeError", "base": "TypeError", "message": str(exc)},
            }
        except BaseException as exc:  # learner code may raise anything, SystemExit included
            return {"ok": False, "error": describe_exception(exc)}

    def handle_json(self, text: str, max_size: int) -> str:
        """:meth:`handle` with the request and reply as JSON text (the kernel engine's entry)."""
        try:
            return encode_reply(self.handle(json.loads(text)), max_size)
        except Exception as exc:
            return encode_reply({"ok": False, "error": describe_exception(exc)}, max_size)

    def _get(self, names: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in names:
            if type(name) is str and name in self.namespace:
                try:
                    out[name] = self.codec.encode(self.namespace[name])
                except wire.Refused as exc:
                    out[name] = {"$refused": str(exc)}
        return out

    def _obj(self, msg: dict[str, Any]) -> Any:
        return self._resolve_ref({"$ref": msg.get("ref")})

    def _call(self, msg: dict[str, Any]) -> Any:
        args = self.codec.decode(msg["args"])
        kwargs = {k: v for k, v in self.codec.decode(msg["kwargs"])}
        return self.codec.encode(self._obj(msg)(*args, **kwargs))

    def _getattr(self, msg: dict[str, Any]) -> Any:
        return self.codec.encode(getattr(self._obj(msg), wire.as_str(msg["name"])))

    def _getitem(self, msg: dict[str, Any]) -> Any:
        return self.codec.encode(self._obj(msg)[self.codec.decode(msg["key"])])

    def _len(self, msg: dict[str, Any]) -> Any:
        return len(self._obj(msg))

    def _iter(self, msg: dict[str, Any]) -> Any:
        return self._make_ref(iter(self._obj(msg)))

    def _repr(self, msg: dict[str, Any]) -> Any:
        obj = self._obj(msg)
        return _safe_text(lambda: str(obj) if msg.get("str") else repr(obj))

    def _isinstance(self, msg: dict[str, Any]) -> Any:
        # The real type's MRO, not the learner's metaclass __instancecheck__.
        return self._obj(msg) in wire.mro(type(self.codec.decode(msg["value"])))


_OPS: dict[str, Callable[[Session, dict[str, Any]], Any]] = {
    "call": Session._call,
    "getattr": Session._getattr,
    "getitem": Session._getitem,
    "len": Session._len,
    "iter": Session._iter,
    "repr": Session._repr,
    "isinstance": Session._isinstance,
}


def _library_name(obj: Any) -> list[str] | None:
    """``[module, qualname]`` when ``obj`` is a module or the library object at that name.

    The grader then uses its own copy of that module or object (for the few pure libraries
    it trusts), instead of a proxy into the learner's process.
    """
    if type(obj) is types.ModuleType:
        name = obj.__dict__.get("__name__")
        return [name, ""] if type(name) is str and sys.modules.get(name) is obj else None
    try:
        if isinstance(obj, type):  # type's own getters: a metaclass cannot lie about them
            module = type.__dict__["__module__"].__get__(obj)
            qualname = type.__dict__["__qualname__"].__get__(obj)
        else:
            module, qualname = obj.__module__, obj.__qualname__
    except Exception:
        return None
    if type(module) is not str or type(qualname) is not str or module == "__main__":
        return None
    found: Any = sys.modules.get(module)
    for part in qualname.split("."):
        found = getattr(found, part, None)
    return [module, qualname] if found is obj else None


# -- the learner process: IPython with captured, capped outputs ------------------------------


class Outputs:
    """The nbformat outputs of the running cell, within a budget of characters per submission."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.items: list[dict[str, Any]] = []
        self.enabled = True
        self.truncated = False

    def _take(self, size: int) -> bool:
        if not self.enabled:
            return False
        if size <= self.budget:
            self.budget -= size
            return True
        if not self.truncated:
            self.truncated = True
            self.items.append(
                {
                    "output_type": "stream",
                    "name": "stderr",
                    "parts": [
                        "[output truncated: this notebook printed more than the grader keeps]\n"
                    ],
                }
            )
        self.budget = 0
        return False

    def stream(self, name: str, text: str) -> None:
        if not self._take(len(text)):
            return
        last = self.items[-1] if self.items else None
        if last is not None and last["output_type"] == "stream" and last["name"] == name:
            last["parts"].append(text)  # joined once in take(): += here would be quadratic
        else:
            self.items.append({"output_type": "stream", "name": name, "parts": [text]})

    def take(self) -> list[dict[str, Any]]:
        """The finished outputs of the cell (and a fresh list for the next one)."""
        items, self.items = self.items, []
        for item in items:
            if "parts" in item:
                item["text"] = "".join(item.pop("parts"))
        return items

    def display(
        self, kind: str, data: dict[str, Any], metadata: dict[str, Any], count: int
    ) -> None:
        try:
            text = json.dumps(data, allow_nan=False, default=str)
            meta = json.loads(json.dumps(metadata, allow_nan=False, default=str))
        except ValueError:
            return
        if not self._take(len(text)):
            return
        out: dict[str, Any] = {"output_type": kind, "data": json.loads(text), "metadata": meta}
        if kind == "execute_result":
            out["execution_count"] = count
        self.items.append(out)

    def error(self, ename: str, evalue: str, traceback: list[str]) -> None:
        tb = [line for line in traceback if type(line) is str][-40:]
        if self._take(sum(len(line) for line in tb) + len(evalue)):
            self.items.append(
                {"output_type": "error", "ename": ename, "evalue": evalue, "traceback": tb}
            )

    def clear(self) -> None:
        if self.enabled:
            self.items = []


class Stream(io.TextIOBase):
    """sys.stdout / sys.stderr of the learner process: text goes into :class:`Outputs`."""

    def __init__(self, outputs: Outputs, name: str) -> None:
        self.outputs = outputs
        self.name_ = name

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if type(text) is not str:
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        self.outputs.stream(self.name_, text)
        return len(text)

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def isatty(self) -> bool:
        return False


def make_shell(outputs: Outputs) -> Any:
    """An IPython InteractiveShell whose displays, results and errors land in ``outputs``."""
    from IPython.core.displayhook import DisplayHook
    from IPython.core.displaypub import DisplayPublisher
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets import Type
    from traitlets.config import Config

    class Hook(DisplayHook):
        def start_displayhook(self) -> None:
            pass

        def write_output_prompt(self) -> None:
            pass

        def write_format_data(self, format_dict: Any, md_dict: Any = None) -> None:
            box.outputs.display("execute_result", format_dict, md_dict or {}, self.prompt_count)

        def finish_displayhook(self) -> None:
            pass

    class Publisher(DisplayPublisher):
        def publish(self, data: Any, metadata: Any = None, *args: Any, **kwargs: Any) -> None:
            box.outputs.display("display_data", data, metadata or {}, 0)

        def clear_output(self, wait: bool = False) -> None:
            box.outputs.clear()

    class Shell(InteractiveShell):
        displayhook_class = Type(Hook)
        display_pub_class = Type(Publisher)

        def _showtraceback(self, etype: Any, evalue: Any, stb: Any) -> None:
            name = _safe_text(lambda: type.__dict__["__name__"].__get__(etype))
            box.outputs.error(name, _safe_text(lambda: str(evalue)), list(stb))

        def ask_exit(self) -> None:
            self.exit_now = True  # serve() ends the process after this cell

        def enable_gui(self, gui: Any = None) -> None:
            pass

    config = Config()
    config.HistoryManager.enabled = False
    config.InteractiveShell.colors = "nocolor"
    box = types.SimpleNamespace(outputs=outputs)
    shell: Any = Shell.instance(config=config)
    shell.eduproject_box = box  # the child swaps in its own Outputs after the fork
    return shell


def run_cell(shell: Any, code: str) -> dict[str, Any]:
    """Run one learner cell; return ``{status, outputs, error, execution_count}``."""
    outputs: Outputs = shell.eduproject_box.outputs
    outputs.items = []
    outputs.enabled = True
    result = shell.run_cell(code, store_history=True, silent=False)
    exc = result.error_before_exec or result.error_in_exec
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # learner code may have replaced them
            stream.flush()
    reply: dict[str, Any] = {
        "status": "ok" if exc is None else "error",
        "outputs": outputs.take(),
        "execution_count": result.execution_count,
    }
    if exc is not None:
        reply["error"] = describe_exception(exc)
    return reply


def encode_reply(reply: dict[str, Any], max_size: int) -> str:
    """``reply`` as one line of JSON, or an error reply when it would exceed ``max_size``."""
    try:
        text = json.dumps(reply, allow_nan=False, ensure_ascii=True)
    except Exception as exc:  # e.g. an output the learner built to be unserialisable
        text = json.dumps({"ok": False, "error": describe_exception(exc)})
    if len(text) >= max_size:
        err = {
            "type": "ValueError",
            "base": "ValueError",
            "message": "value too large to send to the grader",
        }
        text = json.dumps({"ok": False, "error": err})
    return text


class _Lines:
    """JSON lines from the grader, with the file descriptors some of them carry (SCM_RIGHTS)."""

    def __init__(self, sock: socket.socket, max_line: int) -> None:
        self.sock = sock
        self.max_line = max_line
        self.buffer = bytearray()
        self.fds: list[int] = []

    def next(self) -> bytes | None:
        while True:
            end = self.buffer.find(b"\n")
            if end >= 0:
                line = bytes(self.buffer[:end])
                del self.buffer[: end + 1]
                return line
            if len(self.buffer) > self.max_line:
                return None
            data, fds, _, _ = socket.recv_fds(self.sock, 1 << 20, 4)
            self.fds.extend(fds)
            if not data:
                return None
            self.buffer += data


def serve(sock: socket.socket, shell: Any, max_line: int, *, snapshot: bool = False) -> None:
    """Answer JSON-line requests on ``sock`` until the grader closes it.

    ``{"op": "fork"}`` (with a socket passed along) forks a *snapshot*: a copy of this process
    as it is now, serving the grader on that socket. The grader runs a test cell's tests on the
    snapshot after every learner cell has run, so hidden test inputs only ever reach a process
    that runs no further learner cell (``snapshot=True``: ``run_cell`` is refused there).
    """
    session = Session(shell.user_ns)
    outputs: Outputs = shell.eduproject_box.outputs
    lines = _Lines(sock, max_line)
    while True:
        line = lines.next()
        if line is None:
            return
        try:
            msg = json.loads(line)
            op = msg.get("op")
            if op == "run_cell" and not snapshot:
                reply = run_cell(shell, msg["code"])
            elif op == "fork" and lines.fds:
                reply = _fork(sock, lines.fds.pop(0), shell, max_line)
            elif op in ("run_cell", "fork"):
                raise ValueError(f"{op} is not possible here")
            else:
                outputs.enabled = False  # output during a test's request is never shown
                reply = session.handle(msg)
                outputs.enabled = True
        except Exception as exc:
            reply = {"ok": False, "error": describe_exception(exc)}
        sock.sendall((encode_reply(reply, max_line) + "\n").encode("ascii"))
        if shell.exit_now:  # exit() / quit(): like ipykernel, the process ends after the cell
            return


def _fork(sock: socket.socket, fd: int, shell: Any, max_line: int) -> dict[str, Any]:
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            sock.close()
            serve(socket.socket(fileno=fd), shell, max_line, snapshot=True)
        except BaseException:
            code = 70
        finally:
            os._exit(code)
    os.close(fd)
    return {"ok": True, "value": pid}
