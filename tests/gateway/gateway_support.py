"""Shared parts of the gateway tests: a small course, a fake model, and a real server.

``fake_model`` is the tests' one fake OpenAI-compatible server (tests/support/openai.py),
scripted for the gateway: replies in order, then ``default``; it can echo the request's
``Authorization`` header into its text and errors (a hostile or broken model server), to
prove the provider key never reaches a learner, a log or a database.

``running_gateway(service)`` serves a :class:`TutorService` with the real uvicorn server on a
free loopback port in a thread, the way ``eduproject serve`` does.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from eduproject.gateway.server import make_server
from eduproject.gateway.service import TutorService
from eduproject.util.net import listen
from tests.support.lessons import SUM_EVENS
from tests.support.openai import FakeOpenAI, Reply, fake_openai
from tests.support.wire import Call

LESSON = "fns"
CELLS = [("md", "# Functions\nA short lesson."), *SUM_EVENS]
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


@contextmanager
def fake_model(
    replies: list[str] | None = None,
    *,
    default: str = CLEAN,
    model: str = "fake/tutor-model",
    chunk_delay_s: float = 0.0,
) -> Iterator[FakeOpenAI]:
    """Scripted replies in order, then ``default``; ``requests`` holds each JSON body."""
    queue = list(replies or [])

    def respond(call: Call) -> Reply:
        text = queue.pop(0) if queue else default
        auth = call.headers.get("authorization", "")
        if text == SERVER_ERROR:
            # A broken server that quotes the request's key back in its error.
            return Reply(status=500, error=f"internal error for {auth}")
        if text == ECHO_AUTH:
            text = f"{CLEAN} Debug: the header was {auth} for this request."
        return Reply(text, piece=24, chunk_delay=chunk_delay_s, model=model)

    with fake_openai(respond) as fake:
        yield fake


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
    sock = listen("127.0.0.1", 0)
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
    fake: FakeOpenAI | None

    def client(self, who: str, **options: Any) -> httpx.Client:
        token = self.admin if who == "admin" else self.tokens[who]
        return httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=30.0,
            **options,
        )


StartGateway = Callable[..., AbstractContextManager[Gateway]]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def sse_events(response: httpx.Response) -> list[tuple[str, dict[str, Any]]]:
    """The events of a finished SSE response, data decoded."""
    from eduproject.util.sse import parse_sse

    return [(e, json.loads(d)) for e, d in parse_sse(response.text.splitlines())]
