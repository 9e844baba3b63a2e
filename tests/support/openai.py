"""The one fake OpenAI-compatible model of the tests: scripted, slow or failing on demand.

A scenario of the loopback wire server (:mod:`tests.support.wire`) that answers
``/completions`` and ``/chat/completions`` like vLLM does: JSON, or with ``stream: true`` SSE
content deltas (chat) or text pieces, a finish chunk, a usage chunk and ``[DONE]``. What it
says is a :class:`Reply`, chosen per request by a ``respond`` function::

    with fake_openai(["First answer.", Reply(status=500)]) as model:   # in order, then default
        route = RouteConfig(..., base_url=model.base_url)
        ...
    model.requests[0]["messages"]      # every JSON body received

    fake_openai(by_model({"good": lambda call: Reply("ok"), "slow": ...}))   # per route model

Each test area keeps its own scripts (sentinel replies, canned hints); none runs a server.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from starlette.responses import JSONResponse, Response, StreamingResponse

from .wire import Call, WireServer, loopback

__all__ = ["FakeOpenAI", "Reply", "by_model", "fake_openai", "in_order"]


@dataclass(frozen=True)
class Reply:
    """One answer. ``status`` other than 200 sends ``{"error": {"message": error}}``.

    ``first_delay`` waits before the response starts (a slow model), ``chunk_delay`` between
    streamed pieces (a model that writes slowly). Pieces are ``piece`` characters, or with
    ``words`` that many words each. ``finish`` is the finish reason ("length": cut off).
    """

    text: str = ""
    status: int = 200
    error: str = "scripted failure"
    finish: str = "stop"
    first_delay: float = 0.0
    chunk_delay: float = 0.0
    piece: int = 12
    words: int = 0
    prompt_tokens: int = 50
    completion_tokens: int = 40
    model: str | None = None  # the answering model it reports (default: the one asked for)

    def pieces(self) -> list[str]:
        if self.words:
            words = self.text.split(" ")
            groups = [words[i : i + self.words] for i in range(0, len(words), self.words)]
            return [("" if i == 0 else " ") + " ".join(g) for i, g in enumerate(groups)]
        return [self.text[i : i + self.piece] for i in range(0, len(self.text), self.piece)]


Respond = Callable[[Call], Reply]
# One connection per request, as the servers this replaces did: a client (a gateway stopped
# at the end of a test) never keeps an idle connection to the model open past its test.
_CLOSE = {"Connection": "close"}


def in_order(replies: Sequence[Reply | str], default: Reply | str = "") -> Respond:
    """Replies in order, then ``default`` for every later request."""
    queue = list(replies)

    def respond(call: Call) -> Reply:
        reply = queue.pop(0) if queue else default
        return reply if isinstance(reply, Reply) else Reply(reply)

    return respond


def by_model(scripts: Mapping[str, Respond]) -> Respond:
    """The script named by the request's ``model``; an unknown model gets a 404."""

    def respond(call: Call) -> Reply:
        model = str((call.body or {}).get("model"))
        script = scripts.get(model)
        if script is None:
            return Reply(status=404, error=f"no model {model!r} at {call.path}")
        return script(call)

    return respond


@dataclass
class FakeOpenAI:
    """A scripted model on the loopback server; ``calls`` are the requests it received."""

    wire: WireServer
    respond: Respond
    base_url: str = ""
    scenario: str = ""

    @property
    def calls(self) -> list[Call]:
        return [c for c in self.wire.calls if c.scenario == self.scenario]

    @property
    def requests(self) -> list[dict[str, Any]]:
        """The JSON body of every request, in order."""
        return [c.body for c in self.calls]

    @property
    def authorizations(self) -> list[str]:
        return [c.headers.get("authorization", "") for c in self.calls]

    async def handle(self, call: Call) -> Response:
        if not call.path.endswith("/completions"):
            return JSONResponse({"error": {"message": f"no endpoint {call.path}"}}, 404, _CLOSE)
        reply = self.respond(call)
        body: dict[str, Any] = call.body if isinstance(call.body, dict) else {}
        if reply.first_delay:
            await asyncio.sleep(reply.first_delay)
        if reply.status != 200:
            return JSONResponse(
                {"error": {"message": reply.error}}, status_code=reply.status, headers=_CLOSE
            )
        model = reply.model or str(body.get("model", ""))
        chat = call.path.endswith("/chat/completions")
        usage = {
            "prompt_tokens": reply.prompt_tokens,
            "completion_tokens": reply.completion_tokens,
        }
        if not body.get("stream"):
            choice = {"message": {"content": reply.text}} if chat else {"text": reply.text}
            return JSONResponse(
                {
                    "model": model,
                    "choices": [{**choice, "finish_reason": reply.finish, "index": 0}],
                    "usage": usage,
                },
                headers=_CLOSE,
            )
        return StreamingResponse(
            _events(reply, model, chat, usage), media_type="text/event-stream", headers=_CLOSE
        )


async def _events(
    reply: Reply, model: str, chat: bool, usage: dict[str, int]
) -> AsyncIterator[bytes]:
    def event(data: dict[str, Any] | str) -> bytes:
        return f"data: {data if isinstance(data, str) else json.dumps(data)}\n\n".encode()

    for index, piece in enumerate(reply.pieces()):
        if index and reply.chunk_delay:
            await asyncio.sleep(reply.chunk_delay)
        delta = {"delta": {"content": piece}} if chat else {"text": piece}
        yield event({"model": model, "choices": [{**delta, "index": 0, "finish_reason": None}]})
    end = {"delta": {}} if chat else {"text": ""}
    yield event({"model": model, "choices": [{**end, "finish_reason": reply.finish, "index": 0}]})
    yield event({"model": model, "choices": [], "usage": usage})
    yield event("[DONE]")


@contextmanager
def fake_openai(
    respond: Respond | Sequence[Reply | str], default: Reply | str = ""
) -> Iterator[FakeOpenAI]:
    """A scripted model for the ``with`` block: ``respond`` chooses each reply (or a list of
    replies served in order, then ``default``)."""
    wire = loopback()
    chosen = respond if callable(respond) else in_order(respond, default)
    model = FakeOpenAI(wire, chosen)
    model.base_url = wire.scenario(model.handle) + "/v1"
    model.scenario = model.base_url.removesuffix("/v1").rsplit("/", 1)[-1]
    try:
        yield model
    finally:
        wire.handlers.pop(model.scenario, None)
