"""A planted API key must not appear in any artefact: cache, ledger, logs, errors, CLI output.

The servers here are hostile on purpose: they echo the Authorization header back in error
bodies, in stream error events and even in answers.
"""

from __future__ import annotations

import contextlib
import json
import logging
import traceback
from pathlib import Path

import pytest
from starlette.responses import JSONResponse, Response

from eduproject.cli import main
from eduproject.errors import AllRoutesFailed
from eduproject.models.types import ModelRequest
from tests.support.wire import Call, WireServer, openai_events, sse

from .kit import RouterKit, route
from .test_router import closed_port_url

KEY = "sk-LEAK-7f3a9c21e5b8d4"


def echo_error(status: int) -> object:
    async def handler(call: Call) -> Response:
        return JSONResponse(
            {"error": {"message": f"rejected credentials: {call.headers.get('authorization')}"}},
            status_code=status,
        )

    return handler


def echo_in_stream(call_key: str = "authorization") -> object:
    async def handler(call: Call) -> Response:
        seen = call.headers.get(call_key, "")
        events = [json.dumps({"error": {"message": f"stream failed for {seen}"}})]
        return await sse(events)(call)

    return handler


def echo_in_answer() -> object:
    async def handler(call: Call) -> Response:
        seen = call.headers.get("authorization", "")
        # Split the key over chunks so no single delta holds all of it.
        half = len(seen) // 2
        return await sse(openai_events(["Your header was ", seen[:half], seen[half:], " ok."]))(
            call
        )

    return handler


def replicate_failing() -> object:
    async def handler(call: Call) -> Response:
        return JSONResponse(
            {
                "id": "p",
                "status": "failed",
                "error": f"bad token {call.headers.get('authorization')}",
            },
            status_code=201,
        )

    return handler


def all_artefacts(folder: Path) -> str:
    return "\n".join(p.read_bytes().decode("latin-1") for p in folder.rglob("*") if p.is_file())


async def test_planted_key_appears_nowhere(
    wire: WireServer,
    arouters: RouterKit,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("EDU_TEST_KEY", KEY)
    caplog.set_level(logging.DEBUG)
    common = {"api_key_env": "EDU_TEST_KEY", "retries": 1}
    routes = [
        route("http-400", wire.scenario(echo_error(400)), **common),
        route("http-500", wire.scenario(echo_error(500)), **common),
        route("stream-error", wire.scenario(echo_in_stream()), **common),
        route("down", closed_port_url(), **common),
        route(
            "replicate",
            wire.scenario(replicate_failing()),
            provider="replicate",
            model="o/m",
            family="starcoder2",
            stream=False,
            **common,
        ),
        route("echo-answer", wire.scenario(echo_in_answer()), **common),
    ]
    router = arouters(routes)
    names = [r.name for r in routes]
    errors: list[str] = []
    with pytest.raises(AllRoutesFailed) as info:
        await router.complete(ModelRequest(task="ask", instruction="hi"), routes=names[:-1])
    errors += [str(info.value), repr(info.value), *traceback.format_exception(info.value)]
    errors += [str(e) + repr(e) + str(e.hint) for e in info.value.errors]

    stream = router.stream(ModelRequest(task="ask", instruction="hi"), routes=names)
    shown = "".join([d async for d in stream])
    assert stream.result is not None and stream.result.route == "echo-answer"
    assert "[redacted]" in shown and "ok." in shown
    again = await router.complete(
        ModelRequest(task="ask", instruction="hi"), routes=["echo-answer"]
    )
    assert again.cached  # the redacted answer is what the cache holds

    # Every server saw the real key: the test would prove nothing otherwise.
    assert any(c.headers.get("authorization") == f"Bearer {KEY}" for c in wire.calls)
    artefacts = all_artefacts(tmp_path)  # ledger, cache and their WAL files
    assert "rejected credentials" in artefacts  # the errors were recorded, redacted
    for where, text in {
        "files": artefacts,
        "logs": caplog.text,
        "errors": "\n".join(errors),
        "answer": shown + again.text + repr(stream.result),
    }.items():
        assert KEY not in text, f"the key leaked into {where}"
        assert KEY[4:14] not in text, f"part of the key leaked into {where}"


def test_cli_output_never_shows_the_key(
    wire: WireServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    isolated_env: Path,
) -> None:
    monkeypatch.setenv("EDU_TEST_KEY", KEY)
    bad = wire.scenario(echo_error(403))
    echo = wire.scenario(echo_in_answer())
    (isolated_env / "eduproject.toml").write_text(
        f"""
[[routes]]
name = "bad"
provider = "openai"
base_url = "{bad}"
model = "m"
family = "smollm2-instruct"
api_key_env = "EDU_TEST_KEY"
retries = 0

[[routes]]
name = "echo"
provider = "openai"
base_url = "{echo}"
model = "m"
family = "smollm2-instruct"
api_key_env = "EDU_TEST_KEY"

[ledger]
path = "ledger.sqlite3"

[cache]
path = "cache.sqlite3"
""",
        encoding="utf-8",
    )
    outputs = []
    for argv in (
        ["ask", "--route", "bad", "hello"],
        ["ask", "hello"],
        ["routes", "check"],
        ["routes", "check", "--json"],
        ["ledger", "--json"],
        ["ledger"],
    ):
        with (
            pytest.raises(SystemExit)
            if argv[0] == "routes" or argv[-2:] == ["bad", "hello"]
            else contextlib.nullcontext()
        ):
            main(argv)
        captured = capsys.readouterr()
        outputs.append(captured.out + captured.err)
    everything = "\n".join(outputs) + all_artefacts(isolated_env)
    assert "rejected credentials" in everything and "[redacted]" in everything
    assert KEY not in everything and KEY[4:14] not in everything
