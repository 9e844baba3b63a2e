"""Shared helpers of the tutor tests: sample-course packs and a scripted model.

The model is the tests' one fake OpenAI-compatible server (tests/support/openai.py). Each
request pops the next scripted reply, so a test can make the model leak, ramble or
answer cleanly, in order, and then read the requests the router sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from eduproject.authoring.parse import load_lesson
from eduproject.core.lesson import Lesson
from eduproject.core.pack import LessonPack
from eduproject.models.config import Config, RouteConfig, Timeouts, TutorConfig
from eduproject.models.families import default_families
from eduproject.models.ledger import Ledger
from eduproject.models.providers import build_providers
from eduproject.models.router import Router
from tests.support.openai import FakeOpenAI, Reply, fake_openai
from tests.support.wire import Call

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


def _reply(text: str, delay_s: float) -> Reply:
    if text == SERVER_ERROR:
        return Reply(status=500)
    if text.startswith(CUT_OFF):
        return Reply(text.removeprefix(CUT_OFF), finish="length", chunk_delay=delay_s)
    return Reply(text, chunk_delay=delay_s)


@contextmanager
def scripted_server(replies: list[str], *, delay_s: float = 0.0) -> Iterator[FakeOpenAI]:
    """The model answers ``replies`` in order (``delay_s`` between streamed pieces: a model
    that writes slowly), then says it has nothing more to say."""
    queue = list(replies)

    def respond(call: Call) -> Reply:
        return _reply(queue.pop(0) if queue else "I have nothing more to say about this.", delay_s)

    with fake_openai(respond) as server:
        yield server


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
