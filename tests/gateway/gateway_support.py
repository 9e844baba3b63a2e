"""Shared parts of the gateway tests: a small course, a fake model, and a real server.

``FakeModel`` is a real OpenAI-compatible HTTP server on loopback in a thread (chat and
completions, streamed or not). It answers scripted replies in order, then ``default``; it can
echo the request's ``Authorization`` header into its text and errors (a hostile or broken
model server), to prove the provider key never reaches a learner, a log or a database.

``running_gateway(service)`` serves a :class:`TutorService` with the real uvicorn server on a
free loopback port in a thread, the way ``eduproject serve`` does.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from eduproject.gateway.server import bind, make_server
from eduproject.gateway.service import TutorService

LESSON = "fns"
SOLUTION = '''def sum_evens(numbers):
    """Return the sum of the even numbers in `numbers`."""
    ### BEGIN SOLUTION
    total = 0
    for n in numbers:
        if n % 2 == 0:
            total += n
    return total
    ### END SOLUTION'''
TESTS = """### TEST basics points=1
assert sum_evens([1, 2, 3, 4]) == 6
assert sum_evens([]) == 0
### TEST negatives points=1
assert sum_evens([-2, -3]) == -2
### BEGIN HIDDEN TESTS
assert sum_evens(list(range(101))) == 2550
### END HIDDEN TESTS"""
HINTS = """1. Which numbers are even? Think about what dividing by two leaves over.
2. Start a running total at zero and add to it inside a loop.
3. Loop over the numbers and add only the even ones to the total."""
CELLS = [
    ("md", "# Functions\nA short lesson."),
    ("md exercise=sum_evens", "# Sum of evens\nWrite `sum_evens(numbers)`."),
    ("code solution", SOLUTION),
    ("code tests", TESTS),
    ("md hints", HINTS),
]
# The learner's code: adds every number, so `basics` fails.
CODE = (
    "def sum_evens(numbers):\n"
    '    """Return the sum of the even numbers in `numbers`."""\n'
    "    total = 0\n"
    "    for n in numbers:\n"
    "        total += n\n"
    "    return total\n"
)
CLEAN = (
    "Your loop adds every number to the total, which is why the test `basics` gets 10 "
    "instead of 6. Only some numbers should be added. Think about how you can tell whether "
    "a number is even: what is left over when you divide it by two? Check that inside the "
    "loop before you add."
)
# The body of another correct solution: none of the reference's code, so only running the
# tests (possible on the server, which has the hidden tests) shows that it gives the answer away.
OTHER_SOLUTION = (
    "Here is a version that works:\n\n```python\nevens = [x for x in numbers if not x & 1]\n"
    "acc = 0\nwhile evens:\n    acc = acc + evens.pop()\nreturn acc\n```\n"
)
OTHER_SOLUTION_CODE = "acc = acc + evens.pop()"
SERVER_ERROR = "<<500>>"
ECHO_AUTH = "<<echo-auth>>"


@dataclass
class FakeModel:
    """Scripted replies in order, then ``default``; ``requests`` holds each JSON body."""

    replies: list[str] = field(default_factory=list)
    default: str = CLEAN
    model: str = "fake/tutor-model"
    chunk_delay_s: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    authorizations: list[str] = field(default_factory=list)
    port: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def next_reply(self) -> str:
        with self.lock:
            return self.replies.pop(0) if self.replies else self.default


def _handler(fake: FakeModel) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            fake.requests.append(body)
            reply = fake.next_reply()
            auth = self.headers.get("Authorization", "")
            fake.authorizations.append(auth)
            if reply == SERVER_ERROR:
                # A broken server that quotes the request's key back in its error.
                self._json(500, {"error": {"message": f"internal error for {auth}"}})
                return
            if reply == ECHO_AUTH:
                reply = f"{CLEAN} Debug: the header was {auth} for this request."
            chat = "messages" in body
            if not body.get("stream"):
                choice = {"message": {"content": reply}} if chat else {"text": reply}
                self._json(
                    200,
                    {
                        "model": fake.model,
                        "choices": [{**choice, "finish_reason": "stop", "index": 0}],
                        "usage": {"prompt_tokens": 50, "completion_tokens": 40},
                    },
                )
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            for i in range(0, len(reply), 24):
                piece = reply[i : i + 24]
                delta: dict[str, Any] = {"delta": {"content": piece}} if chat else {"text": piece}
                self._event({"model": fake.model, "choices": [{**delta, "index": 0}]})
                if fake.chunk_delay_s:
                    time.sleep(fake.chunk_delay_s)
            end: dict[str, Any] = {"delta": {}} if chat else {"text": ""}
            self._event(
                {"model": fake.model, "choices": [{**end, "finish_reason": "stop", "index": 0}]}
            )
            self._event(
                {
                    "model": fake.model,
                    "choices": [],
                    "usage": {"prompt_tokens": 50, "completion_tokens": 40},
                }
            )
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
            self.close_connection = True

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
def fake_model(replies: list[str] | None = None, **options: Any) -> Iterator[FakeModel]:
    fake = FakeModel(list(replies or []), **options)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    httpd.daemon_threads = True
    fake.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def write_config(
    course: Path,
    *,
    base_url: str | None,
    allowance: int = 10,
    refill_seconds: float = 180.0,
    max_input_chars: int = 1000,
    api_key_env: str | None = None,
    gateway: str = "",
    price: bool = True,
) -> Path:
    """``eduproject.toml`` for a course with one fake route (or none: offline only)."""
    lines = []
    if base_url is not None:
        lines += [
            "[[routes]]",
            'name = "fake"',
            'provider = "openai"',
            'model = "fake/tutor-model"',
            'family = "smollm2-instruct"',
            f'base_url = "{base_url}"',
            "retries = 0",
            "cooldown_s = 0",
        ]
        if api_key_env:
            lines.append(f'api_key_env = "{api_key_env}"')
        if price:
            lines += ["price_per_million_input = 1.0", "price_per_million_output = 2.0"]
        lines += ["[routes.timeouts]", "connect = 2", "first_token = 10", "total = 20", ""]
    lines += [
        "[tutor]",
        # Without routes the bundled SmolLM2 model would answer: name the offline tutor alone.
        *([] if base_url is not None else ['routes = ["offline"]']),
        f"allowance = {allowance}",
        f"refill_seconds = {refill_seconds}",
        f"max_input_chars = {max_input_chars}",
        "",
        "[cache]",
        "enabled = false",
        "",
        "[ledger]",
        'path = "ledger.sqlite3"',
        "",
        gateway,
    ]
    path = course / "eduproject.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@contextmanager
def running_gateway(service: TutorService) -> Iterator[str]:
    """The service behind the real uvicorn server in a thread; yields its base URL."""
    sock = bind("127.0.0.1", 0)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = make_server(service)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive(), "the gateway thread died while starting"
        assert time.monotonic() < deadline, "the gateway did not start within 20 s"
        time.sleep(0.02)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()
        service.close()


@dataclass
class Gateway:
    """A running gateway: its URL, service, learner tokens (ada, bob) and admin token."""

    url: str
    service: TutorService
    tokens: dict[str, str]
    admin: str
    fake: FakeModel | None

    def client(self, who: str, **options: Any) -> httpx.Client:
        token = self.admin if who == "admin" else self.tokens[who]
        return httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=30.0,
            **options,
        )


StartGateway = Callable[..., AbstractContextManager[Gateway]]


def run_cli(args: list[str], capsys: Any) -> tuple[int, str, str]:
    """``eduproject ARGS`` in this process: (exit code, stdout, stderr)."""
    from eduproject.cli import main

    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def sse_events(response: httpx.Response) -> list[tuple[str, dict[str, Any]]]:
    """The events of a finished SSE response, data decoded."""
    from eduproject.util.sse import parse_sse

    return [(e, json.loads(d)) for e, d in parse_sse(response.text.splitlines())]
