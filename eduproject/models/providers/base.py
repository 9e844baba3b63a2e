"""The one narrow interface every provider implements, and shared HTTP plumbing.

A provider turns a :class:`RenderedPrompt` into a stream of :class:`Chunk` values: text
deltas, then exactly one final chunk with finish reason, usage and any cost the
provider reports. Everything else -- timeouts beyond connect, retries, fallback, stop
strings, malformed checks, cache and ledger -- is the router's job::

    async for chunk in provider.stream(rendered, GenerationParams(max_tokens=64)):
        print(chunk.text, end="")
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import time
import weakref
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import httpx

from eduproject.errors import RouteError, RouteErrorKind
from eduproject.models.config import RouteConfig
from eduproject.models.families import RenderedPrompt
from eduproject.models.keys import missing_key_error, redact
from eduproject.models.types import Usage

EndpointKind = Literal["chat", "raw"]


@dataclass(frozen=True)
class GenerationParams:
    max_tokens: int = 256
    temperature: float = 0.2
    stop: tuple[str, ...] = ()
    seed: int | None = None


@dataclass(frozen=True)
class Chunk:
    """A text delta, or (``final=True``) the closing facts of one generation."""

    text: str = ""
    final: bool = False
    finish_reason: str | None = None
    usage: Usage | None = None
    cost_usd: float | None = None  # as reported by the provider (Eden AI)
    compute_s: float | None = None  # billed compute seconds (Replicate's predict_time)
    model: str | None = None  # the model that actually answered, if the server says


class Provider(Protocol):
    """What the router needs from a provider."""

    route: RouteConfig
    # Which prompt shapes the endpoint takes; the router renders accordingly.
    endpoint_kinds: frozenset[EndpointKind]
    # True when count_tokens gives exact figures (it may then be slow: run it in a thread).
    has_tokenizer: bool
    # Tokens the backend can hold, when it is smaller than the family's window (llama.cpp n_ctx).
    context_limit: int | None

    def stream(self, rendered: RenderedPrompt, params: GenerationParams) -> AsyncGenerator[Chunk]:
        """Generate; raise :class:`RouteError` (or let httpx errors through) on failure."""
        ...

    def count_tokens(self, text: str) -> int | None:
        """Exact token count when the provider has a tokenizer at hand, else None."""
        ...

    def secrets(self) -> tuple[str, ...]:
        """Values that must be redacted from anything written or shown."""
        ...

    async def aclose(self) -> None: ...


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date).

    >>> parse_retry_after("2")
    2.0
    """
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _error_detail(body: bytes) -> str:
    """The server's own error message from a JSON error body, else the text (short)."""
    text = body.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return text[:200]
    if isinstance(data, dict):
        err = data.get("error", data.get("detail", data.get("message")))
        if isinstance(err, dict):
            err = err.get("message") or err.get("detail") or json.dumps(err)
        if err:
            return str(err)[:200]
    return text[:200]


class HttpProvider:
    """Shared parts of the HTTP providers: clients per event loop, headers, errors."""

    endpoint_kinds: frozenset[EndpointKind] = frozenset({"chat", "raw"})
    has_tokenizer = False
    context_limit: int | None = None
    auth_scheme = "Bearer"

    def __init__(
        self,
        route: RouteConfig,
        api_key: str | None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.route = route
        self._api_key = api_key
        self._transport = transport
        # httpx clients are bound to the event loop that first used them; the router may
        # be driven from a notebook's loop and from its own background loop.
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient]
        self._clients = weakref.WeakKeyDictionary()

    def count_tokens(self, text: str) -> int | None:
        return None

    def secrets(self) -> tuple[str, ...]:
        return (self._api_key,) if self._api_key else ()

    def client(self) -> httpx.AsyncClient:
        if self._api_key is None and (self.route.api_key_env or self.route.keyring_service):
            # Fails this route's attempts (naming the variable), not the whole config.
            raise missing_key_error(self.route)
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            t = self.route.timeouts
            client = httpx.AsyncClient(
                timeout=httpx.Timeout(t.total, connect=t.connect),
                transport=self._transport,
                headers={"Accept": "application/json"},
                follow_redirects=False,
            )
            self._clients[loop] = client
        return client

    def auth_headers(self) -> dict[str, str]:
        """Sent per request (never as a client default) so it goes only where we choose."""
        if self._api_key:
            return {"Authorization": f"{self.auth_scheme} {self._api_key}"}
        return {}

    def url(self, path: str) -> str:
        return f"{self.route.base_url}{path}"

    async def aclose(self) -> None:
        loop = asyncio.get_running_loop()
        client = self._clients.pop(loop, None)
        if client is not None:
            await client.aclose()

    def error(self, kind: RouteErrorKind | str, message: str, **kwargs: Any) -> RouteError:
        return RouteError(self.route.name, kind, redact(message, self.secrets()), **kwargs)

    async def raise_for_status(self, response: httpx.Response) -> None:
        """Turn an HTTP error status into a :class:`RouteError` with the server's reason."""
        if response.status_code < 400:
            return
        body = await response.aread()
        detail = _error_detail(body)
        code = response.status_code
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        if code == 429:
            raise self.error(
                RouteErrorKind.RATE_LIMITED,
                f"HTTP 429: {detail}",
                status_code=code,
                retry_after=retry_after,
                hint="slow down, or add another route to fall back to",
            )
        hint = None
        if code in (401, 403):
            hint = f"check the key in {self.route.api_key_env or 'the route configuration'}"
        elif code == 404:
            hint = f"check base_url and model of route {self.route.name!r}"
        raise self.error(
            RouteErrorKind.HTTP,
            f"HTTP {code}: {detail}",
            status_code=code,
            retry_after=retry_after,
            hint=hint,
        )

    def parse_json(self, text: str, what: str) -> Any:
        try:
            return json.loads(text)
        except ValueError:
            kind = RouteErrorKind.STREAM_BROKEN if what == "stream" else RouteErrorKind.HTTP
            raise self.error(kind, f"the server sent invalid JSON in its {what}") from None


async def drain(events: AsyncGenerator[Any], timeout_s: float = 0.25) -> None:
    """Read what is left of a finished stream (the end of the chunked body).

    httpx can only reuse a connection whose response was read to the end; closing it
    early costs a new TCP connection per request. A server that keeps the stream open
    after its end marker is not waited for long.
    """
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout_s):
            async for _ in events:
                pass


def usage_from(data: Mapping[str, Any] | None) -> Usage | None:
    if not isinstance(data, Mapping):
        return None
    prompt, completion = data.get("prompt_tokens"), data.get("completion_tokens")
    if prompt is None and completion is None:
        return None
    return Usage(
        prompt_tokens=int(prompt) if prompt is not None else None,
        completion_tokens=int(completion) if completion is not None else None,
    )
