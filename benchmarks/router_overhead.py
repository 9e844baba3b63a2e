"""What the router adds to a model call: direct httpx vs the router, same server, same run.

A loopback OpenAI-compatible server (its own process, so it does not share our GIL)
streams a short answer. The same requests go, interleaved, through

* a direct ``httpx.AsyncClient`` streaming POST that reads the SSE lines to ``[DONE]``;
* ``Router.complete`` (prompt rendering and fitting, routing, stop filter, malformed
  checks, one ledger row in SQLite), with the cache off;

and then the router answers the same request from its SQLite cache. Goal: <= 5 ms added
at p50, and a cache hit in <= 5 ms.

    .venv/bin/python benchmarks/router_overhead.py [--requests 300]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from eduproject.models.cache import ResponseCache
from eduproject.models.config import Config, RouteConfig
from eduproject.models.families import default_families
from eduproject.models.ledger import Ledger
from eduproject.models.providers import build_providers
from eduproject.models.router import Router
from eduproject.models.types import ModelRequest

CHUNKS = ("A list ", "holds ", "items ", "in order.")


def serve(port: int) -> None:
    """The loopback server (run in a child process)."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import StreamingResponse
    from starlette.routing import Route

    async def completions(request: Request) -> StreamingResponse:
        await request.body()

        async def events() -> AsyncIterator[bytes]:
            for text in CHUNKS:
                choice = {"index": 0, "text": text, "finish_reason": None}
                yield f"data: {json.dumps({'model': 'm', 'choices': [choice]})}\n\n".encode()
            last = {"index": 0, "text": "", "finish_reason": "stop"}
            usage = {"prompt_tokens": 20, "completion_tokens": 8}
            yield f"data: {json.dumps({'model': 'm', 'choices': [last], 'usage': usage})}\n\n".encode()
            yield b"data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    app = Starlette(routes=[Route("/v1/completions", completions, methods=["POST"])])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="critical", access_log=False)


def free_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def wait_ready(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.post(url, json={}, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit("loopback server did not start")


def ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def measure(base: str, requests: int, folder: Path) -> dict[str, list[float]]:
    route = RouteConfig(
        name="bench",
        provider="openai",
        base_url=base,
        model="m",
        family="smollm2-instruct",
        chat=False,
    )
    config = Config(
        routes=(route,),
        ledger_path=folder / "ledger.sqlite3",
        cache_path=folder / "cache.sqlite3",
    )
    router = Router(
        config,
        ledger=Ledger(config.ledger_path),
        cache=ResponseCache(config.cache_path, ttl_s=3600),
        families=default_families(),
        providers=build_providers(config.routes),
    )
    request = ModelRequest(
        task="ask", instruction="What is a list?", max_tokens=32, use_cache=False
    )
    family = default_families()["smollm2-instruct"]
    rendered = family.render(request, chat=False)
    body = {
        "model": "m",
        "prompt": rendered.prompt,
        "max_tokens": 32,
        "temperature": 0.2,
        "stop": list(rendered.stop),
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    times: dict[str, list[float]] = {"direct": [], "router": [], "cache hit": []}
    async with httpx.AsyncClient(timeout=10) as client:

        async def direct() -> str:
            text = []
            async with client.stream("POST", f"{base}/completions", json=body) as response:
                async for line in response.aiter_lines():
                    if line.startswith("data: ") and line != "data: [DONE]":
                        choices = json.loads(line[6:]).get("choices") or [{}]
                        text.append(choices[0].get("text", ""))
            return "".join(text)

        for index in range(requests + 20):  # the first 20 warm up connections and caches
            started = time.perf_counter()
            direct_text = await direct()
            direct_s = time.perf_counter() - started
            started = time.perf_counter()
            response = await router.complete(request)
            router_s = time.perf_counter() - started
            assert response.text == direct_text == "".join(CHUNKS), (response.text, direct_text)
            if index >= 20:
                times["direct"].append(direct_s)
                times["router"].append(router_s)

        cached_request = ModelRequest(task="ask", instruction="What is a list?", max_tokens=32)
        await router.complete(cached_request)  # fills the cache
        for _ in range(requests):
            started = time.perf_counter()
            response = await router.complete(cached_request)
            times["cache hit"].append(time.perf_counter() - started)
            assert response.cached
    await router.aclose()
    router.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    port = free_port()
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port)])
    base = f"http://127.0.0.1:{port}/v1"
    try:
        wait_ready(f"{base}/completions")
        with tempfile.TemporaryDirectory() as tmp:
            times = asyncio.run(measure(base, args.requests, Path(tmp)))
    finally:
        server.terminate()
        server.wait(timeout=10)

    print(f"{args.requests} requests each, interleaved, loopback OpenAI-compatible SSE server")
    print(f"{'':12}{'p50 ms':>10}{'p95 ms':>10}{'mean ms':>10}")
    for name, values in times.items():
        print(
            f"{name:12}{ms(values, 0.5):10.2f}{ms(values, 0.95):10.2f}{1000 * statistics.mean(values):10.2f}"
        )
    added50 = ms(times["router"], 0.5) - ms(times["direct"], 0.5)
    added95 = ms(times["router"], 0.95) - ms(times["direct"], 0.95)
    ratio = ms(times["router"], 0.5) / ms(times["direct"], 0.5)
    print(f"router overhead: +{added50:.2f} ms at p50 (goal <= 5), +{added95:.2f} ms at p95")
    print(f"router / direct at p50: {ratio:.2f}x")
    print(f"cache hit p50: {ms(times['cache hit'], 0.5):.2f} ms (goal <= 5)")


if __name__ == "__main__":
    main()
