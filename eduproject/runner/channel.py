"""The grader's end of the conversation with a learner process: JSON lines, deadlines, size caps.

Requests go out as one JSON object per line; replies come back the same way. Everything that
comes back is *untrusted*: a reply longer than ``max_message`` bytes, a line that is not a JSON
object, or no reply before the deadline ends the conversation with a :class:`WireError`
subclass, never with a value. Values inside replies use the tagged encoding of ``wire.py`` (shared with the learner side,
so that both speak exactly one format); the grader decodes them with proxies for references
(see ``verdict.py``).

Requests (grader -> learner process)::

    {"op": "run_cell", "code": str}
    {"op": "get", "names": [str, ...]}
    {"op": "call", "ref": int, "args": [value...], "kwargs": [[str, value], ...]}
    {"op": "getattr", "ref": int, "name": str}      {"op": "getitem", "ref": int, "key": value}
    {"op": "len" | "iter" | "next" | "repr", "ref": int}
    {"op": "isinstance", "ref": int, "value": value}

Replies: ``{"ok": true, "value": value}`` (``"stop": true`` ends an iteration), or
``{"ok": false, "error": {"type", "base", "message"}}``; ``run_cell`` answers with
``{"status": "ok" | "error", "outputs": [...], "execution_count": int, "error"?: {...}}``.
"""

from __future__ import annotations

import json
import select
import socket
import time
from collections.abc import Callable
from typing import Any, Literal, NotRequired, TypedDict

__all__ = [
    "CellReply",
    "Channel",
    "ChannelClosed",
    "ChannelTimeout",
    "ErrorInfo",
    "ProtocolViolation",
    "WireError",
    "recv_control",
]

MAX_MESSAGE = 64 * 2**20


class ErrorInfo(TypedDict):
    type: str  # the learner's exception class, "module.Name"
    base: str  # its nearest builtin exception class, e.g. "ValueError"
    message: str


class CellReply(TypedDict):
    status: Literal["ok", "error"]
    outputs: list[dict[str, Any]]
    execution_count: int | None
    error: NotRequired[ErrorInfo]


class WireError(Exception):
    """The conversation with the learner process ended; no value came back."""


class ChannelTimeout(WireError):
    pass


class ChannelClosed(WireError):
    """The learner process closed its end (it ended, or was ended)."""


class ProtocolViolation(WireError):
    """The learner process sent something that is not a well-formed reply."""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


class Channel:
    """JSON-line requests over a connected stream socket, each with a deadline.

    >>> reply = Channel(sock).ask({"op": "get", "names": ["x"]}, timeout=5)  # doctest: +SKIP
    """

    def __init__(self, sock: socket.socket, *, max_message: int = MAX_MESSAGE) -> None:
        self.sock = sock
        self.max_message = max_message
        self._buffer = bytearray()
        self.received = 0  # bytes of replies so far (the judge bounds what one test may decode)
        sock.setblocking(False)

    def ask(
        self,
        msg: dict[str, Any],
        timeout: float,
        *,
        fds: tuple[int, ...] = (),
        on_request: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Send ``msg`` (with ``fds`` attached, SCM_RIGHTS) and return the reply object.

        Messages that carry an ``"op"`` before the reply are the learner process's own
        requests (it uses an object a test handed to it): ``on_request`` answers each one.
        """
        if self.sock.fileno() < 0:
            raise ChannelClosed("the conversation with the learner process is over")
        deadline = time.monotonic() + max(timeout, 0.0)
        self._send((json.dumps(msg, allow_nan=False) + "\n").encode("utf-8"), deadline, fds)
        while True:
            line = self._read_line(deadline)
            self.received += len(line)
            try:
                reply = json.loads(line, parse_constant=_reject_constant)
            except (ValueError, RecursionError) as exc:
                raise ProtocolViolation(
                    f"the learner process sent a malformed reply ({exc})"
                ) from None
            if type(reply) is not dict:
                raise ProtocolViolation("the learner process sent a reply that is not an object")
            if "op" not in reply:
                return reply
            if on_request is None:
                raise ProtocolViolation("the learner process sent a request out of turn")
            answer = on_request(reply)
            self._send((json.dumps(answer, allow_nan=False) + "\n").encode("utf-8"), deadline)

    def close(self) -> None:
        self.sock.close()

    def _wait(self, event: int, remaining: float) -> bool:
        poller = select.poll()
        poller.register(self.sock, event)
        return bool(poller.poll(max(remaining, 0.0) * 1000))

    def _send(self, data: bytes, deadline: float, fds: tuple[int, ...] = ()) -> None:
        view = memoryview(data)
        if fds:  # requests are small: the first send takes the whole line with the fds
            try:
                view = view[socket.send_fds(self.sock, [view], list(fds)) :]
            except OSError as exc:
                raise ChannelClosed(f"the learner process is gone ({exc.strerror})") from None
        while view:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ChannelTimeout("timed out sending a request")
            if not self._wait(select.POLLOUT, remaining):
                continue
            try:
                sent = self.sock.send(view)
            except BlockingIOError:
                continue
            except OSError as exc:
                raise ChannelClosed(f"the learner process is gone ({exc.strerror})") from None
            view = view[sent:]

    def _read_line(self, deadline: float) -> bytes:
        start = 0
        while True:
            end = self._buffer.find(b"\n", start)
            if end >= 0:
                line = bytes(self._buffer[:end])
                del self._buffer[: end + 1]
                return line
            start = len(self._buffer)
            if start > self.max_message:
                raise ProtocolViolation(
                    f"the learner process sent more than {self.max_message} bytes in one reply"
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ChannelTimeout("timed out waiting for the learner process")
            if not self._wait(select.POLLIN, remaining):
                continue
            try:
                chunk = self.sock.recv(1 << 20)
            except BlockingIOError:
                continue
            except OSError as exc:
                raise ChannelClosed(f"the learner process is gone ({exc.strerror})") from None
            if not chunk:
                raise ChannelClosed("the learner process ended")
            self._buffer += chunk


def recv_control(control: socket.socket, timeout: float) -> dict[str, Any] | None:
    """One JSON message from a zygote's or judge server's control socket (a datagram each).

    None when nothing comes within ``timeout`` seconds, the peer is gone, or what came is not
    a JSON object: the caller treats all three as a sandbox that stopped answering.
    """
    control.settimeout(timeout)
    try:
        data = control.recv(65536)
    except (TimeoutError, OSError):
        return None
    if not data:
        return None
    try:
        msg = json.loads(data)
    except ValueError:
        return None
    return msg if isinstance(msg, dict) else None
