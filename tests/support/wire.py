"""The one loopback HTTP server of the tests, speaking the providers' wire formats.

One uvicorn server runs in a thread for the whole test session (:func:`loopback`). Each test
registers a *scenario* (a URL prefix) with a handler; routes point their ``base_url`` at
``http://127.0.0.1:PORT/<scenario>``. Handlers are real Starlette responses: SSE streams
with delays, abrupt disconnects, 429 with Retry-After, 5xx, broken JSON. A scripted
OpenAI-compatible model on it is :mod:`tests.support.openai`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

Handler = Callable[["Call"], Awaitable[Response]]


@dataclass
class Call:
    """One request the server received."""

    scenario: str
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    request: Request


@dataclass
class WireServer:
    port: int = 0
    handlers: dict[str, Handler] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    _names: itertools.count[int] = field(default_factory=itertools.count)

    def url(self, scenario: str) -> str:
        return f"http://127.0.0.1:{self.port}/{scenario}"

    def scenario(self, handler: Handler | Sequence[Handler], name: str = "") -> str:
        """Register ``handler`` (or a list served in turn, the last repeating); returns the base URL."""
        name = name or f"s{next(self._names)}"
        if isinstance(handler, Sequence):
            handlers = list(handler)
            counter = itertools.count()

            async def in_turn(call: Call) -> Response:
                index = min(next(counter), len(handlers) - 1)
                return await handlers[index](call)

            self.handlers[name] = in_turn
        else:
            self.handlers[name] = handler
        return self.url(name)

    def calls_to(self, base_url: str) -> list[Call]:
        scenario = base_url.rstrip("/").rsplit("/", 1)[-1]
        return [c for c in self.calls if c.scenario == scenario]

    async def dispatch(self, request: Request) -> Response:
        scenario = request.path_params["scenario"]
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        call = Call(
            scenario,
            request.method,
            "/" + request.path_params["rest"],
            {k.lower(): v for k, v in request.headers.items()},
            body,
            request,
        )
        self.calls.append(call)
        handler = self.handlers.get(scenario)
        if handler is None:
            return JSONResponse({"error": f"no scenario {scenario}"}, status_code=404)
        return await handler(call)


_LOOPBACK: list[tuple[WireServer, Callable[[], None]]] = []
_LOOPBACK_LOCK = threading.Lock()


def loopback() -> WireServer:
    """The test session's wire server, started on first use (tests/conftest.py stops it)."""
    with _LOOPBACK_LOCK:
        if not _LOOPBACK:
            _LOOPBACK.append(start_server())
        return _LOOPBACK[0][0]


def stop_loopback() -> None:
    with _LOOPBACK_LOCK:
        while _LOOPBACK:
            _LOOPBACK.pop()[1]()


def start_server() -> tuple[WireServer, Callable[[], None]]:
    wire = WireServer()
    app = Starlette(
        routes=[Route("/{scenario}/{rest:path}", wire.dispatch, methods=["GET", "POST"])]
    )
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    wire.port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="critical", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("loopback server did not start")
        time.sleep(0.01)

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()

    return wire, stop


# ------------------------------------------------------------------ response builders


def sse(
    events: Sequence[str | tuple[str, str]],
    *,
    delay_first: float = 0.0,
    delay: float = 0.0,
    then_fail: bool = False,
) -> Handler:
    """An SSE stream of ``data:`` lines (or ``(event, data)`` pairs).

    ``then_fail`` raises inside the stream after the events: the server drops the
    connection without finishing the chunked body, as a crashed backend does.
    """

    async def handler(call: Call) -> Response:
        async def body() -> AsyncIterator[bytes]:
            for index, item in enumerate(events):
                wait = delay_first if index == 0 else delay
                if wait:
                    await asyncio.sleep(wait)
                event, data = item if isinstance(item, tuple) else ("", item)
                # Multi-line data goes out as several data: lines, as the SSE spec says.
                lines = "".join(f"data: {line}\n" for line in data.split("\n"))
                yield (f"event: {event}\n" if event else "").encode() + lines.encode() + b"\n"
            if then_fail:
                raise ConnectionResetError("backend crashed mid-stream")

        return StreamingResponse(body(), media_type="text/event-stream")

    return handler


def openai_events(
    texts: Sequence[str],
    *,
    chat: bool = False,
    finish: str | None = "stop",
    usage: dict[str, int] | None = None,
    done: bool = True,
    extra_final: dict[str, Any] | None = None,
) -> list[str]:
    """The SSE data lines an OpenAI-compatible server sends for ``texts``."""
    events = []
    for text in texts:
        choice = {"index": 0, "finish_reason": None}
        choice.update({"delta": {"content": text}} if chat else {"text": text})
        events.append(json.dumps({"object": "chunk", "model": "m", "choices": [choice]}))
    if finish is not None:
        choice = {"index": 0, "finish_reason": finish}
        choice.update({"delta": {}} if chat else {"text": ""})
        events.append(json.dumps({"model": "m", "choices": [choice]}))
    if usage is not None or extra_final:
        final: dict[str, Any] = {"model": "m", "choices": []}
        if usage is not None:
            final["usage"] = usage
        final.update(extra_final or {})
        events.append(json.dumps(final))
    if done:
        events.append("[DONE]")
    return events


def tgi_events(
    tokens: Sequence[str], *, finish: str = "eos_token", details: bool = True
) -> list[str]:
    events = []
    for index, text in enumerate(tokens):
        last = index == len(tokens) - 1 and details
        events.append(
            json.dumps(
                {
                    "index": index + 1,
                    "token": {"id": index, "text": text, "logprob": -0.1, "special": False},
                    "generated_text": "".join(tokens) if last else None,
                    "details": {
                        "finish_reason": finish,
                        "generated_tokens": len(tokens),
                        "seed": None,
                    }
                    if last
                    else None,
                }
            )
        )
    return events


def json_reply(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Handler:
    async def handler(call: Call) -> Response:
        return JSONResponse(data, status_code=status, headers=headers)

    return handler


def raw_reply(body: bytes, status: int = 200, media_type: str = "application/json") -> Handler:
    async def handler(call: Call) -> Response:
        return Response(body, status_code=status, media_type=media_type)

    return handler
