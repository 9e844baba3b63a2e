"""Each provider against a loopback server speaking its documented wire format."""

from __future__ import annotations

import email.utils
import json
import sys
import types
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from starlette.responses import JSONResponse, Response, StreamingResponse

from eduproject.errors import AllRoutesFailed
from eduproject.models.providers.base import parse_retry_after
from eduproject.models.types import ModelRequest
from tests.support.wire import Call, WireServer, json_reply, openai_events, sse, tgi_events

from .kit import RouterKit, route

ASK = ModelRequest(task="ask", instruction="What is a loop?", max_tokens=20, temperature=0.0)


# ------------------------------------------------------------------ OpenAI-compatible


async def test_openai_without_streaming(wire: WireServer, arouters: RouterKit) -> None:
    reply = {
        "model": "served-model",
        "choices": [{"text": "A loop repeats.", "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 4},
    }
    url = wire.scenario(json_reply(reply))
    router = arouters([route("a", url, stream=False)])
    response = await router.complete(ModelRequest(task="ask", instruction="?", seed=7))
    assert (response.text, response.model, response.usage.completion_tokens) == (
        "A loop repeats.",
        "served-model",
        4,
    )
    (call,) = wire.calls_to(url)
    assert "stream" not in call.body and call.body["seed"] == 7


async def test_openai_sends_key_and_limits_stop_strings(
    wire: WireServer, arouters: RouterKit, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_OPENAI_KEY", "sk-abcdef123456")
    url = wire.scenario(sse(openai_events(["ok"])))
    router = arouters(
        [
            route(
                "a",
                url,
                api_key_env="TEST_OPENAI_KEY",
                extra={"max_stop_strings": 2, "stream_options": False},
            )
        ]
    )
    await router.complete(ASK)
    (call,) = wire.calls_to(url)
    assert call.headers["authorization"] == "Bearer sk-abcdef123456"
    assert len(call.body["stop"]) == 2 and "stream_options" not in call.body


async def test_missing_key_names_the_variable(wire: WireServer, arouters: RouterKit) -> None:
    url = wire.scenario(sse(openai_events(["ok"])))
    router = arouters([route("a", url, api_key_env="NOT_SET_ANYWHERE")])
    with pytest.raises(
        AllRoutesFailed, match="no API key in the environment variable NOT_SET_ANYWHERE"
    ):
        await router.complete(ASK)
    assert wire.calls_to(url) == []


async def test_unauthorized_hint_points_at_the_key(
    wire: WireServer, arouters: RouterKit, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_OPENAI_KEY", "sk-wrong-000000")
    url = wire.scenario(json_reply({"error": {"message": "invalid api key"}}, status=401))
    router = arouters([route("a", url, api_key_env="TEST_OPENAI_KEY")])
    with pytest.raises(AllRoutesFailed) as info:
        await router.complete(ASK)
    (error,) = info.value.errors
    assert (error.kind, error.status_code) == ("http", 401)
    assert error.hint is not None and "TEST_OPENAI_KEY" in error.hint


# ------------------------------------------------------------------ TGI


async def test_tgi_streams_tokens_and_maps_details(wire: WireServer, arouters: RouterKit) -> None:
    events = tgi_events(["def", " f", "():"], finish="length")
    # TGI writes `data:` without a space; special tokens carry no answer text.
    special = json.dumps(
        {
            "token": {"id": 0, "text": "<|endoftext|>", "special": True},
            "generated_text": None,
            "details": None,
        }
    )

    async def handler(call: Call) -> Response:
        async def body() -> AsyncIterator[bytes]:
            yield f"data:{special}\n\n".encode()
            for event in events:
                yield f"data:{event}\n\n".encode()

        return StreamingResponse(body(), media_type="text/event-stream")

    url = wire.scenario(handler)
    router = arouters([route("tgi", url, provider="tgi", family="starcoder2", chat=None)])
    stream = router.stream(
        ModelRequest(
            task="completion", prefix="# f\n", suffix="\nprint(f())", max_tokens=3, temperature=0.0
        )
    )
    text = "".join([d async for d in stream])
    assert text == "def f():"
    response = stream.result
    assert response is not None and response.malformed == "cut at the length limit"
    assert response.usage.completion_tokens == 3
    (call,) = wire.calls_to(url)
    assert call.path == "/generate_stream"
    assert call.body["inputs"] == "<fim_prefix># f\n<fim_suffix>\nprint(f())<fim_middle>"
    params = call.body["parameters"]
    assert params["max_new_tokens"] == 3 and len(params["stop"]) == 4
    assert "temperature" not in params  # TGI rejects 0; greedy is its default


async def test_tgi_non_streaming_generate(wire: WireServer, arouters: RouterKit) -> None:
    reply = {
        "generated_text": " return 1",
        "details": {"finish_reason": "eos_token", "generated_tokens": 3},
    }
    url = wire.scenario(json_reply(reply))
    router = arouters([route("tgi", url, provider="tgi", family="starcoder2", stream=False)])
    response = await router.complete(ModelRequest(task="completion", prefix="def one():\n   "))
    assert response.text == " return 1" and response.finish_reason == "stop"
    assert wire.calls_to(url)[0].path == "/generate"


async def test_tgi_error_event_fails_the_attempt(wire: WireServer, arouters: RouterKit) -> None:
    event = json.dumps({"error": "Input validation error", "error_type": "validation"})
    url = wire.scenario(sse([event]))
    router = arouters([route("tgi", url, provider="tgi", family="starcoder2")])
    with pytest.raises(AllRoutesFailed, match="error in stream: Input validation error"):
        await router.complete(ModelRequest(task="completion", prefix="x = "))


async def test_tgi_stream_without_details_is_partial(wire: WireServer, arouters: RouterKit) -> None:
    url = wire.scenario(sse(tgi_events(["a", "b"], details=False)))
    router = arouters([route("tgi", url, provider="tgi", family="starcoder2")])
    response = await router.complete(ModelRequest(task="completion", prefix="x = "))
    assert response.partial and response.text == "ab"
    (row,) = router.ledger.attempts()  # type: ignore[union-attr]
    assert row.status == "partial" and "ended before its final details" in (row.error or "")


async def test_tgi_rate_limit_status(wire: WireServer, arouters: RouterKit) -> None:
    url = wire.scenario(
        json_reply({"error": "Model is overloaded", "error_type": "overloaded"}, status=429)
    )
    router = arouters([route("tgi", url, provider="tgi", family="starcoder2")])
    with pytest.raises(AllRoutesFailed, match="rate_limited: HTTP 429: Model is overloaded"):
        await router.complete(ModelRequest(task="completion", prefix="x = "))


# ------------------------------------------------------------------ Eden AI


async def test_edenai_sends_fallbacks_and_reports_cost(
    wire: WireServer, arouters: RouterKit, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_EDEN_KEY", "eden-key-987654")
    events = openai_events(
        ["A loop ", "repeats."],
        chat=True,
        usage={"prompt_tokens": 9, "completion_tokens": 3},
        extra_final={"cost": 0.00042, "model": "mistral/mistral-small-latest"},
    )
    url = wire.scenario(sse(events))
    eden = route(
        "eden",
        url,
        provider="edenai",
        model="openai/gpt-4o-mini",
        family="qwen2.5-coder-instruct",
        chat=False,  # Eden AI is chat-only: the router must still send messages
        api_key_env="TEST_EDEN_KEY",
        price_per_million_input=100.0,
        price_per_million_output=100.0,
        extra={"fallbacks": ["mistral/mistral-small-latest"]},
    )
    router = arouters([eden])
    response = await router.complete(ASK)
    assert response.text == "A loop repeats."
    assert response.cost_usd == 0.00042  # the reported cost wins over configured prices
    assert response.model == "mistral/mistral-small-latest"  # who actually answered
    (call,) = wire.calls_to(url)
    assert call.path == "/chat/completions"
    assert call.body["model"] == "openai/gpt-4o-mini"
    assert call.body["fallbacks"] == ["mistral/mistral-small-latest"]
    assert call.body["messages"][-1]["role"] == "user"
    assert call.headers["authorization"] == "Bearer eden-key-987654"
    (row,) = router.ledger.attempts()  # type: ignore[union-attr]
    assert (row.model, row.cost_usd) == ("mistral/mistral-small-latest", 0.00042)


# ------------------------------------------------------------------ Replicate


def replicate_server(wire: WireServer, *, mode: str) -> tuple[str, list[str]]:
    """A scripted Replicate: create -> (stream | poll) -> prediction with metrics."""
    state: dict[str, int] = {"polls": 0}
    seen: list[str] = []

    async def handler(call: Call) -> Response:
        seen.append(f"{call.method} {call.path}")
        base = wire.url(call.scenario)
        urls = {
            "get": f"{base}/predictions/p1",
            "stream": f"{base}/stream/p1",
            "cancel": f"{base}/predictions/p1/cancel",
        }
        if call.method == "POST":
            status = "processing" if mode == "poll" else "starting"
            return JSONResponse(
                {"id": "p1", "status": status, "output": None, "urls": urls}, status_code=201
            )
        if call.path == "/stream/p1":
            if mode == "stream-error":
                return await sse(
                    [("output", "Half"), ("error", '{"detail": "CUDA out of memory"}')]
                )(call)
            return await sse(
                [("output", "A loop"), ("output", " repeats\nsteps."), ("done", "{}")]
            )(call)
        state["polls"] += 1
        if mode == "poll" and state["polls"] < 2:
            return JSONResponse({"id": "p1", "status": "processing", "urls": urls})
        if mode == "failed":
            return JSONResponse(
                {"id": "p1", "status": "failed", "error": "bad input", "urls": urls}
            )
        return JSONResponse(
            {
                "id": "p1",
                "status": "succeeded",
                "output": ["A loop", " repeats."],
                "urls": urls,
                "metrics": {"predict_time": 2.5, "input_token_count": 11, "output_token_count": 4},
            }
        )

    return wire.scenario(handler), seen


async def test_replicate_streams_over_sse(
    wire: WireServer, arouters: RouterKit, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_REPLICATE_TOKEN", "r8_secret_token_42")
    url, seen = replicate_server(wire, mode="stream")
    rep = route(
        "rep",
        url,
        provider="replicate",
        model="cjwbw/starcoder2-15b",
        family="starcoder2",
        api_key_env="TEST_REPLICATE_TOKEN",
        price_per_second=0.001,
        extra={"input": {"top_p": 0.95}, "max_tokens_key": "max_tokens"},
    )
    router = arouters([rep])
    stream = router.stream(ModelRequest(task="completion", prefix="# loop\n", max_tokens=16))
    text = "".join([d async for d in stream])
    assert text == "A loop repeats\nsteps."  # multi-line data joined with newlines
    response = stream.result
    assert response is not None and response.cost_usd == pytest.approx(2.5 * 0.001)
    assert response.usage.prompt_tokens == 11
    assert seen == [
        "POST /models/cjwbw/starcoder2-15b/predictions",
        "GET /stream/p1",
        "GET /predictions/p1",
    ]
    create = wire.calls_to(url)[0]
    assert create.body["stream"] is True
    assert create.body["input"] == {
        "top_p": 0.95,
        "prompt": "# loop\n",
        "max_tokens": 16,
        "temperature": 0.2,
    }
    assert all(
        c.headers.get("authorization") == "Bearer r8_secret_token_42" for c in wire.calls_to(url)
    )


async def test_replicate_waits_and_polls(wire: WireServer, arouters: RouterKit) -> None:
    url, seen = replicate_server(wire, mode="poll")
    rep = route(
        "rep",
        url,
        provider="replicate",
        model="owner/model:abc123",
        family="starcoder2",
        stream=False,
        extra={"poll_s": 0.01},
    )
    router = arouters([rep])
    response = await router.complete(ModelRequest(task="completion", prefix="x"))
    assert response.text == "A loop repeats."
    create = wire.calls_to(url)[0]
    assert create.path == "/predictions" and create.body["version"] == "abc123"
    assert create.headers["prefer"] == "wait=60"
    assert seen.count("GET /predictions/p1") == 2


@pytest.mark.parametrize(
    ("mode", "expected"),
    [("failed", "prediction failed: bad input"), ("stream-error", "CUDA out of memory")],
)
async def test_replicate_failures(
    wire: WireServer, arouters: RouterKit, mode: str, expected: str
) -> None:
    url, _ = replicate_server(wire, mode=mode)
    rep = route(
        "rep",
        url,
        provider="replicate",
        model="o/m",
        family="starcoder2",
        stream=mode != "failed",
        extra={"poll_s": 0.01},
    )
    router = arouters([rep])
    response_or_error: object
    try:
        response_or_error = await router.complete(ModelRequest(task="completion", prefix="x"))
    except AllRoutesFailed as exc:
        response_or_error = exc
    row = router.ledger.attempts()[0]  # type: ignore[union-attr]
    assert expected in (row.error or "")
    if mode == "stream-error":
        # "Half" arrived before the error: a partial answer, flagged as such.
        assert getattr(response_or_error, "partial", False)
    else:
        assert isinstance(response_or_error, AllRoutesFailed)


async def test_replicate_key_only_sent_to_trusted_hosts(
    wire: WireServer, arouters: RouterKit, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_REPLICATE_TOKEN", "r8_secret_token_42")

    async def handler(call: Call) -> Response:
        if call.method == "POST":
            # A stream URL on another host name than base_url's (localhost vs 127.0.0.1).
            other = f"http://localhost:{wire.port}/{call.scenario}"
            urls = {"get": f"{other}/predictions/p1", "stream": f"{other}/stream/p1"}
            return JSONResponse({"id": "p1", "status": "starting", "urls": urls}, status_code=201)
        if call.path == "/stream/p1":
            return await sse([("output", "ok"), ("done", "")])(call)
        return JSONResponse({"id": "p1", "status": "succeeded", "output": "ok"})

    url = wire.scenario(handler)
    rep = route(
        "rep",
        url,
        provider="replicate",
        model="o/m",
        family="starcoder2",
        api_key_env="TEST_REPLICATE_TOKEN",
    )
    router = arouters([rep])
    assert (await router.complete(ModelRequest(task="completion", prefix="x"))).text == "ok"
    calls = wire.calls_to(url)
    assert "authorization" in calls[0].headers
    assert all("authorization" not in c.headers for c in calls[1:])


# ------------------------------------------------------------------ protocol corners


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    future = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    delay = parse_retry_after(future)
    assert delay is not None and 100 < delay <= 120
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


async def test_key_from_a_keyring(
    wire: WireServer, arouters: RouterKit, monkeypatch: pytest.MonkeyPatch
) -> None:
    # keyring is optional: a stand-in module with its one function we call.
    asked: list[tuple[str, str]] = []

    def get_password(service: str, user: str) -> str:
        asked.append((service, user))
        return "kr-secret-5551234"

    monkeypatch.setitem(sys.modules, "keyring", types.SimpleNamespace(get_password=get_password))
    url = wire.scenario(sse(openai_events(["ok"])))
    router = arouters([route("a", url, keyring_service="eduproject")])
    await router.complete(ASK)
    assert asked == [("eduproject", "a")]
    assert wire.calls_to(url)[0].headers["authorization"] == "Bearer kr-secret-5551234"
