"""Shared helpers of the tutor tests: sample-course packs and a scripted OpenAI-style server.

The server is a real HTTP server on loopback in a thread, speaking the OpenAI chat
completions wire format (SSE streaming with a final usage chunk and ``[DONE]``). Each
request pops the next scripted reply, so a test can make the model leak, ramble or
answer cleanly, in order, and then read the requests the router sent.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from eduproject.authoring.parse import load_lesson
from eduproject.core.lesson import Lesson
from eduproject.core.pack import LessonPack
from eduproject.models.config import Config, RouteConfig, Timeouts, TutorConfig
from eduproject.models.families import default_families
from eduproject.models.ledger import Ledger
from eduproject.models.providers import build_providers
from eduproject.models.router import Router

ROOT = Path(__file__).resolve().parents[2]
EXERCISES = ROOT / "exercises"
# A reply that makes the scripted server answer HTTP 500 instead of text.
SERVER_ERROR = "<<500>>"
# A reply starting with this is sent with finish_reason "length" (cut at max_tokens).
CUT_OFF = "<<length>>"


@cache
def sample_lesson(lesson_id: str) -> Lesson:
    return load_lesson(EXERCISES / lesson_id)


@cache
def sample_pack(lesson_id: str) -> LessonPack:
    """The learner pack of a sample-course lesson, guard data included (as release writes it)."""
    return LessonPack.from_lesson(sample_lesson(lesson_id))


@dataclass
class ScriptedServer:
    """Replies in order; ``requests`` holds every JSON body received."""

    replies: list[str]
    model: str = "fake/tutor-model"
    requests: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0
    delay_s: float = 0.0  # between two streamed pieces: a model that writes slowly

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def next_reply(self) -> str:
        return self.replies.pop(0) if self.replies else "I have nothing more to say about this."


def _handler(server: ScriptedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            server.requests.append(body)
            reply = server.next_reply()
            finish = "stop"
            if reply.startswith(CUT_OFF):
                reply, finish = reply.removeprefix(CUT_OFF), "length"
            if reply == SERVER_ERROR:
                self._json(500, {"error": {"message": "scripted failure"}})
                return
            if not body.get("stream"):
                self._json(
                    200,
                    {
                        "model": server.model,
                        "choices": [
                            {"message": {"content": reply}, "finish_reason": "stop", "index": 0}
                        ],
                        "usage": {"prompt_tokens": 50, "completion_tokens": 40},
                    },
                )
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            pieces = [reply[i : i + 12] for i in range(0, len(reply), 12)]
            for piece in pieces:
                self._event(
                    {"model": server.model, "choices": [{"delta": {"content": piece}, "index": 0}]}
                )
                if server.delay_s:
                    time.sleep(server.delay_s)
            self._event(
                {
                    "model": server.model,
                    "choices": [{"delta": {}, "finish_reason": finish, "index": 0}],
                }
            )
            self._event(
                {
                    "model": server.model,
                    "choices": [],
                    "usage": {"prompt_tokens": 50, "completion_tokens": 40},
                }
            )
            self.wfile.write(b"data: [DONE]\n\n")

        def _event(self, data: dict[str, Any]) -> None:
            self.wfile.write(f"data: {json.dumps(data)}\n\n".encode())
            self.wfile.flush()

        def _json(self, status: int, data: dict[str, Any]) -> None:
            raw = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

    return Handler


@contextmanager
def scripted_server(replies: list[str], *, delay_s: float = 0.0) -> Iterator[ScriptedServer]:
    server = ScriptedServer(list(replies), delay_s=delay_s)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(server))
    server.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def route_config(name: str, base_url: str, *, family: str = "smollm2-instruct") -> RouteConfig:
    return RouteConfig(
        name=name,
        provider="openai",
        model="fake/tutor-model",
        family=family,
        base_url=base_url,
        retries=0,
        cooldown_s=0.0,
        cache=False,
        timeouts=Timeouts(connect=2.0, first_token=10.0, total=20.0),
    )


def make_router(tmp: Path, *routes: RouteConfig) -> Router:
    """A real router over real providers, with its ledger in ``tmp`` and no cache."""
    config = Config(
        routes=routes,
        tutor=TutorConfig(routes=(*(r.name for r in routes), "offline")),
        cache_enabled=False,
        ledger_path=tmp / "ledger.sqlite3",
    )
    return Router(
        config,
        ledger=Ledger(config.ledger_path),
        cache=None,
        families=default_families(),
        providers=build_providers(config.routes),
    )
