"""The SQLite ledger and response cache: rows, summary figures, TTL, several processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from eduproject.errors import ModelError
from eduproject.models.cache import CachedAnswer, ResponseCache, cache_key
from eduproject.models.families import RenderedPrompt
from eduproject.models.ledger import Attempt, Ledger
from eduproject.models.providers.base import GenerationParams


def attempt(status: str = "ok", **kwargs: object) -> Attempt:
    fields: dict[str, object] = {
        "task": "hint",
        "route": "a",
        "model": "m",
        "family": "starcoder2",
        "provider": "openai",
        "status": status,
        "latency_s": 1.0,
    }
    fields.update(kwargs)
    return Attempt(**fields)  # type: ignore[arg-type]


def test_summary_figures(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    ids = [
        ledger.record(attempt(latency_s=1.0, cost_usd=0.01)),
        ledger.record(attempt(latency_s=2.0, cost_usd=0.01)),
        ledger.record(attempt(latency_s=3.0, cost_usd=None)),
        ledger.record(attempt(latency_s=4.0, cost_usd=0.02, fallback_used=True)),
        ledger.record(attempt("timeout", latency_s=30.0, cost_usd=0.0)),
        ledger.record(attempt("error", latency_s=0.1, cost_usd=0.0)),
        ledger.record(attempt("rate_limited", latency_s=0.1, cost_usd=0.0)),
        ledger.record(attempt("malformed", latency_s=2.0, cost_usd=0.01)),
        ledger.record(attempt("partial", latency_s=2.0, cost_usd=0.01)),
        ledger.record(attempt(latency_s=0.001, cost_usd=0.0, cache_hit=True)),
    ]
    ledger.record(attempt(task="explain", route="b", model="n", cost_usd=None))
    ledger.mark_accepted(ids[0], True)
    ledger.mark_accepted(ids[1], True)
    ledger.mark_accepted(ids[2], False)

    hint, explain = ledger.summary()
    assert (explain.route, explain.task, explain.requests, explain.unpriced) == (
        "b",
        "explain",
        1,
        1,
    )
    assert (hint.route, hint.model, hint.task, hint.requests) == ("a", "m", "hint", 10)
    assert hint.p50_latency_s == pytest.approx(2.5)  # ok and not cached: 1, 2, 3, 4
    assert hint.p95_latency_s == pytest.approx(3.85)
    assert hint.timeout_rate == pytest.approx(0.1)
    assert hint.error_rate == pytest.approx(0.2)
    assert hint.malformed_rate == pytest.approx(0.1)
    assert hint.partial_rate == pytest.approx(0.1)
    assert hint.fallback_rate == pytest.approx(0.1)
    assert hint.cache_hits == 1
    assert hint.accepted == 2 and hint.accepted_rate == pytest.approx(2 / 6)  # of ok + partial
    assert hint.cost_usd == pytest.approx(0.06)
    assert hint.cost_per_accepted_usd == pytest.approx(0.03)
    assert hint.unpriced == 1  # the unknown price is counted, not added as $0
    assert ledger.attempts()[2].accepted is False and ledger.attempts()[3].accepted is None


def test_mark_accepted_unknown_attempt(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    with pytest.raises(ModelError, match="no ledger attempt with id 42"):
        ledger.mark_accepted(42, True)


def test_several_processes_write_one_ledger(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite3"
    Ledger(path).close()
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from eduproject.models.ledger import Attempt, Ledger
        ledger = Ledger(Path({str(path)!r}))
        for i in range(100):
            ledger.record(Attempt(task="hint", route="r", model="m", family="f",
                                  provider="openai", status="ok", latency_s=0.1))
        """
    )
    workers = [subprocess.Popen([sys.executable, "-c", script]) for _ in range(3)]
    assert [w.wait(timeout=60) for w in workers] == [0, 0, 0]
    (row,) = Ledger(path).summary()
    assert row.requests == 300


PROMPT = RenderedPrompt(prompt="<|im_start|>user\nhi<|im_end|>\n", stop=("<|im_end|>",))
PARAMS = GenerationParams(max_tokens=10, temperature=0.0, stop=("<|im_end|>",))


def test_cache_key_covers_route_model_prompt_and_parameters() -> None:
    key = cache_key("a", "m", PROMPT, PARAMS)
    assert key == cache_key("a", "m", PROMPT, PARAMS)
    assert key != cache_key("b", "m", PROMPT, PARAMS)
    assert key != cache_key("a", "m2", PROMPT, PARAMS)
    assert key != cache_key("a", "m", RenderedPrompt(prompt="other"), PARAMS)
    assert key != cache_key("a", "m", PROMPT, GenerationParams(max_tokens=11, temperature=0.0))
    chat = RenderedPrompt(messages=(), stop=())
    assert cache_key("a", "m", chat, PARAMS) != cache_key(
        "a", "m", RenderedPrompt(prompt=None), PARAMS
    )


def test_cache_ttl(tmp_path: Path) -> None:
    answer = CachedAnswer("hello", "m", "stop", 3, 1)
    cache = ResponseCache(tmp_path / "c.sqlite3", ttl_s=3600)
    cache.put("k", "a", answer)
    assert cache.get("k") == answer
    assert cache.get("other") is None
    expired = ResponseCache(tmp_path / "e.sqlite3", ttl_s=0)
    expired.put("k", "a", answer)
    assert expired.get("k") is None
    cache.clear()
    assert cache.get("k") is None
