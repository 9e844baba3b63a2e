"""The benchmark's scripted models, on the tests' one fake OpenAI-compatible server.

What a route answers depends on the request's ``model``: a script is a function
``(body) -> Reply`` registered under that name in ``scripts`` (changeable while the server
runs). Replies stream word by word; ``reply(status=500)`` fails, ``first_delay`` is a slow
model (tests/support/openai.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from tests.support.openai import FakeOpenAI, Reply, fake_openai
from tests.support.wire import Call

Script = Callable[[dict[str, Any]], Reply]


def reply(text: str = "", **options: Any) -> Reply:
    """A benchmark answer: streamed word by word, 100 prompt and 20 completion tokens."""
    return Reply(text, **{"words": 1, "prompt_tokens": 100, "completion_tokens": 20, **options})


@dataclass
class ScriptedModels:
    """The scripted models behind one base URL; ``calls`` holds every request body."""

    server: FakeOpenAI
    scripts: dict[str, Script] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def calls(self) -> list[dict[str, Any]]:
        return self.server.requests


@contextmanager
def scripted_models(scripts: dict[str, Script] | None = None) -> Iterator[ScriptedModels]:
    chosen: dict[str, Script] = dict(scripts or {})

    def respond(call: Call) -> Reply:
        body = call.body if isinstance(call.body, dict) else {}
        script = chosen.get(str(body.get("model")))
        if script is None:
            return Reply(status=404, error=f"no model {body.get('model')!r} at {call.path}")
        return script(body)

    with fake_openai(respond) as server:
        yield ScriptedModels(server, chosen)
