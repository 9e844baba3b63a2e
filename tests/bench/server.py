"""A loopback OpenAI-compatible server with scripted models, run in a thread.

``/v1/chat/completions`` and ``/v1/completions`` stream SSE chunks like vLLM does (content
deltas or text pieces, a finish chunk, a usage chunk, ``[DONE]``). What it answers depends on the request's ``model``: a script is a
function ``(body) -> Reply`` registered under that name. ``Reply.status`` other than 200 sends
an error body; ``first_delay`` sleeps before the response starts (a slow model).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Reply:
    text: str = ""
    status: int = 200
    first_delay: float = 0.0
    prompt_tokens: int = 100
    completion_tokens: int = 20


Script = Callable[[dict[str, Any]], Reply]


class _Handler(BaseHTTPRequestHandler):
    server: ScriptedServer
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        self.server.calls.append(body)
        script = self.server.scripts.get(str(body.get("model")))
        if script is None or not self.path.endswith("/completions"):
            self._json(
                404, {"error": {"message": f"no model {body.get('model')!r} at {self.path}"}}
            )
            return
        reply = script(body)
        if reply.first_delay:
            time.sleep(reply.first_delay)
        if reply.status != 200:
            self._json(reply.status, {"error": {"message": "scripted failure"}})
            return
        # A client that gave up (a timeout) closes the connection: nothing more to say.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._stream(reply, chat=self.path.endswith("/chat/completions"))

    def _json(self, status: int, data: dict[str, Any]) -> None:
        raw = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _stream(self, reply: Reply, *, chat: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        words = reply.text.split(" ")
        for index, word in enumerate(words):
            piece = word if index == 0 else " " + word
            choice = (
                {"index": 0, "delta": {"content": piece}} if chat else {"index": 0, "text": piece}
            )
            self._event({"choices": [choice]})
        self._event({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        usage = {"prompt_tokens": reply.prompt_tokens, "completion_tokens": reply.completion_tokens}
        self._event({"choices": [], "usage": usage})
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()

    def _event(self, data: dict[str, Any]) -> None:
        self.wfile.write(f"data: {json.dumps(data)}\n\n".encode())
        self.wfile.flush()


class ScriptedServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.scripts: dict[str, Script] = {}
        self.calls: list[dict[str, Any]] = []
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def start(self) -> ScriptedServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(timeout=5)
