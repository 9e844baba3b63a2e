"""``eduproject routes check``: one tiny generation per route, straight to its provider.

Probes bypass the router's cache and ledger (a health check is not a request to count)
but use the route's family template and timeouts::

    checks = asyncio.run(check_routes(router))
    for c in checks:
        print(c.route, c.status, c.latency_s, c.model)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from eduproject.errors import RouteError
from eduproject.models.keys import redact
from eduproject.models.providers.base import GenerationParams
from eduproject.models.router import Router
from eduproject.models.types import ModelRequest

PROBE = ModelRequest(task="ask", instruction="Reply with the single word OK.", max_tokens=8)


@dataclass(frozen=True)
class RouteCheck:
    route: str
    provider: str
    model: str
    ok: bool
    status: str  # "ok" or the RouteError kind
    latency_s: float | None
    detail: str = ""


async def check_route(router: Router, name: str) -> RouteCheck:
    route = router.route(name)
    provider = router.providers[name]
    family = router.families[route.family]
    rendered = family.render(PROBE, chat=router.uses_chat(name))
    params = GenerationParams(max_tokens=PROBE.max_tokens, temperature=0.0, stop=rendered.stop)
    started = time.perf_counter()
    model, text = route.model, ""
    try:
        async with asyncio.timeout(route.timeouts.total):
            async for chunk in provider.stream(rendered, params):
                text += chunk.text
                model = chunk.model or model
    except (RouteError, httpx.HTTPError, OSError, TimeoutError) as exc:
        kind = exc.kind if isinstance(exc, RouteError) else type(exc).__name__
        message = str(exc).splitlines()[0] if str(exc) else kind
        # The table already names the route and the kind.
        message = message.removeprefix(f"route {name!r}: {kind}: ")
        return RouteCheck(
            name,
            route.provider,
            model,
            False,
            kind,
            None,
            redact(message, provider.secrets()),
        )
    latency = time.perf_counter() - started
    reply = redact(text, provider.secrets()).strip()
    return RouteCheck(name, route.provider, model, True, "ok", latency, repr(reply[:40]))


async def check_routes(router: Router, names: Sequence[str] | None = None) -> list[RouteCheck]:
    """Probe routes one after another (in parallel they would distort the latencies)."""
    result = []
    for name in names or [r.name for r in router.config.routes]:
        result.append(await check_route(router, name))
    return result
