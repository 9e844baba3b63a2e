"""The router: every model call of eduproject goes through here.

For one :class:`ModelRequest` it tries the task's routes in order. Each attempt renders
the prompt in the route's family template (trimmed to fit the context window), answers
from the cache when it can, else streams from the provider under three timeouts
(connect, first token, total), retrying with backoff that honours ``Retry-After``. A
failing route cools down and the next one is tried -- also when a stream fails before
its first token. Stop strings are applied client-side, and malformed answers (empty, cut
at the length limit, a repetition loop, leaked template tokens) count as failures. Every
attempt becomes one ledger row. The pseudo-route ``offline`` is the tutor's business:
the router skips it.

    router = Router.from_config(load_config(course_dir))
    response = router.complete_sync(ModelRequest(task="ask", instruction="What is a list?"))
    print(response.text, response.label)
    router.mark_accepted(response.attempt_id, True)
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

import httpx

from eduproject.errors import AllRoutesFailed, ConfigError, RouteError
from eduproject.models.cache import CachedAnswer, ResponseCache, cache_key
from eduproject.models.checks import StopFilter, malformed_reason
from eduproject.models.config import OFFLINE, Config, RouteConfig, load_config
from eduproject.models.families import (
    ModelFamily,
    RenderedPrompt,
    default_families,
    extract_code_block,
)
from eduproject.models.fitting import DEFAULT_CHARS_PER_TOKEN, fit_request
from eduproject.models.keys import redact
from eduproject.models.ledger import Attempt, Ledger, Status
from eduproject.models.providers import Provider, build_providers
from eduproject.models.providers.base import Chunk, GenerationParams
from eduproject.models.streams import Emit, LoopThread, ResponseStream, SyncResponseStream
from eduproject.models.types import ModelRequest, ModelResponse, Usage

log = logging.getLogger("eduproject.models")

_RETRYABLE_STATUS = frozenset({408, 500, 502, 503, 504})
_LEDGER_STATUS: dict[str, Status] = {
    "timeout": "timeout",
    "first_token_timeout": "timeout",
    "rate_limited": "rate_limited",
    "malformed": "malformed",
}


@dataclass
class _RouteState:
    """What the router remembers about a route between requests (in this process)."""

    cool_until: float = 0.0
    last_error: str = ""
    chars_per_token: float = DEFAULT_CHARS_PER_TOKEN


@dataclass
class _Progress:
    """What one try of one route has produced so far."""

    filter: StopFilter
    started: float
    ttft_s: float | None = None
    final: Chunk | None = None
    raw_chars: int = 0
    shown: bool = False  # some text reached the caller's stream
    parts: list[str] = field(default_factory=list)


class _PartialAnswer(Exception):
    """A stream broke after its first token; carries the partial response."""

    def __init__(self, error: RouteError, response: ModelResponse) -> None:
        super().__init__(str(error))
        self.error = error
        self.response = response


class Router:
    """Routes model requests; see the module docstring.

    Build one with :meth:`from_config`; the constructor takes every part explicitly
    (tests pass their own ledger, cache, families and providers).
    """

    def __init__(
        self,
        config: Config,
        *,
        ledger: Ledger | None,
        cache: ResponseCache | None,
        families: Mapping[str, ModelFamily],
        providers: Mapping[str, Provider],
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.config = config
        self.ledger = ledger
        self.cache = cache
        self.families = dict(families)
        self.providers = dict(providers)
        self._routes = {r.name: r for r in config.routes}
        self._state = {name: _RouteState() for name in self._routes}
        # Injectable so tests can see the backoff delays without waiting them out.
        self._clock = clock
        self._sleep = sleep
        self._loop = LoopThread()
        for route in config.routes:
            if route.family not in self.families:
                raise ConfigError(
                    f"route {route.name!r} names unknown family {route.family!r}",
                    hint=f"known families: {', '.join(sorted(self.families))}",
                )
            if route.name not in self.providers:
                raise ConfigError(f"route {route.name!r} has no provider", hint="build_providers()")

    @classmethod
    def from_config(
        cls,
        config: Config | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> Router:
        """The usual router: ledger and cache files from the config, built-in families.

        >>> router = Router.from_config()      # doctest: +SKIP
        """
        config = config or load_config()
        return cls(
            config,
            ledger=Ledger(config.ledger_path),
            cache=ResponseCache(config.cache_path, ttl_s=config.cache_ttl_s)
            if config.cache_enabled
            else None,
            families=default_families(),
            providers=build_providers(config.routes, transport=transport),
        )

    # ------------------------------------------------------------------ public API

    def routes_for(self, task: str) -> tuple[str, ...]:
        """The configured route names for ``task``, in order, including ``offline``."""
        return self.config.routes_for(task)

    def route(self, name: str) -> RouteConfig:
        return self.config.route(name)

    def uses_chat(self, name: str) -> bool:
        """Whether route ``name`` gets chat messages (else its family's raw template)."""
        route = self.route(name)
        return self._use_chat(route, self.families[route.family], self.providers[name])

    async def complete(
        self, request: ModelRequest, *, routes: Sequence[str] | None = None
    ) -> ModelResponse:
        """The whole answer of the first route that gives a well-formed one.

        Raises :class:`AllRoutesFailed` when none does (a partial answer, if one route
        broke mid-stream and none did better, is returned with ``partial=True``).
        """
        return await self._run(request, routes, None)

    def stream(
        self, request: ModelRequest, *, routes: Sequence[str] | None = None
    ) -> ResponseStream:
        """Text deltas as they arrive; ``.response`` holds the :class:`ModelResponse` after."""
        return ResponseStream(lambda emit: self._run(request, routes, emit))

    def complete_sync(
        self, request: ModelRequest, *, routes: Sequence[str] | None = None
    ) -> ModelResponse:
        """:meth:`complete` for synchronous code, including a running Jupyter kernel."""
        return self._loop.run(self.complete(request, routes=routes))

    def stream_sync(
        self, request: ModelRequest, *, routes: Sequence[str] | None = None
    ) -> SyncResponseStream:
        """:meth:`stream` for synchronous code: iterate for deltas, then read ``.response``."""
        return SyncResponseStream(self._loop, lambda: self.stream(request, routes=routes))

    def mark_accepted(self, attempt_id: int, accepted: bool) -> None:
        """Record in the ledger whether an answer was accepted (tutor, bench, thumbs-up)."""
        if self.ledger is not None:
            self.ledger.mark_accepted(attempt_id, accepted)

    async def aclose(self) -> None:
        for provider in self.providers.values():
            await provider.aclose()

    def close(self) -> None:
        """Close HTTP clients, the private loop, the ledger and the cache."""
        self._loop.close(self.aclose)
        if self.ledger is not None:
            self.ledger.close()
        if self.cache is not None:
            self.cache.close()

    def __enter__(self) -> Router:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ routing

    def _names(self, task: str, routes: Sequence[str] | None) -> list[str]:
        names = [
            n for n in (routes if routes is not None else self.routes_for(task)) if n != OFFLINE
        ]
        for name in names:
            if name not in self._routes:
                raise ConfigError(
                    f"no route named {name!r}",
                    hint=f"configured routes: {', '.join(self._routes) or 'none'}",
                )
        return names

    async def _run(
        self, request: ModelRequest, routes: Sequence[str] | None, emit: Emit | None
    ) -> ModelResponse:
        names = self._names(request.task, routes)
        request_id = uuid.uuid4().hex
        started = time.perf_counter()
        errors: list[RouteError] = []
        best_partial: ModelResponse | None = None
        for index, name in enumerate(names):
            state = self._state[name]
            wait = state.cool_until - self._clock()
            if wait > 0:
                errors.append(
                    RouteError(
                        name,
                        "unavailable",
                        f"cooling down for {wait:.0f} s more after: {state.last_error}",
                    )
                )
                continue
            try:
                return await self._attempt(name, request, request_id, index > 0, emit, started)
            except _PartialAnswer as partial:
                errors.append(partial.error)
                best_partial = best_partial or partial.response
            except RouteError as error:
                errors.append(error)
        if best_partial is not None:
            if emit is not None:
                emit(best_partial.text)
            return best_partial
        raise AllRoutesFailed(request.task, errors)

    def _use_chat(self, route: RouteConfig, family: ModelFamily, provider: Provider) -> bool:
        chat = family.chat if route.chat is None else route.chat
        if chat and "chat" not in provider.endpoint_kinds:
            return False
        return chat or "raw" not in provider.endpoint_kinds

    async def _attempt(
        self,
        name: str,
        request: ModelRequest,
        request_id: str,
        fallback_used: bool,
        emit: Emit | None,
        request_started: float,
    ) -> ModelResponse:
        route, provider = self._routes[name], self.providers[name]
        family, state = self.families[route.family], self._state[name]
        secrets = provider.secrets()
        started = time.perf_counter()
        record = _Recorder(self, route, request, request_id, fallback_used, started, secrets)
        try:
            request, rendered, prompt_tokens, estimated = await self._fit(
                route, family, provider, request
            )
        except RouteError as fit_error:
            record.failure(fit_error, _Progress(StopFilter((), ()), started), retries=0)
            raise
        params = GenerationParams(
            max_tokens=request.max_tokens,
            temperature=request.temperature,
            stop=rendered.stop,
            seed=request.seed,
        )
        key = None
        if self.cache is not None and request.use_cache and route.cache:
            key = cache_key(name, route.model, rendered, params)
            hit = self.cache.get(key)
            if hit is not None:
                if emit is not None:
                    emit(hit.text)
                return record.cache_hit(hit, request_started)

        retries = 0
        while True:
            progress = _Progress(
                StopFilter(rendered.stop, family.leak_tokens, secrets), time.perf_counter()
            )
            try:
                await self._generate(route, provider, rendered, params, progress, emit)
                break
            except (RouteError, httpx.HTTPError, OSError) as exc:
                error = _classify(exc, route, progress, secrets)
            if progress.parts:
                self._cool_down(name, state, error)
                # The stream is over: release the text held back for stop strings.
                rest = progress.filter.flush()
                if progress.shown:
                    self._show(progress, rest, emit)
                response = record.partial(error, progress, prompt_tokens, retries, request_started)
                if progress.shown:
                    return response  # the caller has seen text: no silent switch of answer
                raise _PartialAnswer(error, response)
            delay = self._retry_delay(route, error, retries)
            if delay is None:
                self._cool_down(name, state, error)
                record.failure(
                    error, progress, retries=retries, prompt_tokens=(prompt_tokens, estimated)
                )
                raise error
            retries += 1
            log.info("route %s: %s; retry %d in %.2f s", name, error, retries, delay)
            await self._sleep(delay)

        text = progress.filter.text
        finish = (
            "stop"
            if progress.filter.stopped
            else (progress.final.finish_reason if progress.final else None)
        )
        problem = malformed_reason(text, finish, family.leak_tokens, leaked=progress.filter.leaked)
        if rendered.code_block and problem is None:
            text = extract_code_block(text)
        usage, usage_estimated = self._usage(progress, prompt_tokens, estimated, state, rendered)
        if problem is not None and not progress.shown:
            error = RouteError(name, "malformed", problem)
            record.failure(error, progress, retries=retries, usage=usage)
            raise error
        response = record.success(
            text, finish, progress, usage, usage_estimated, retries, request_started, problem
        )
        state.cool_until = 0.0
        if key is not None and problem is None and self.cache is not None:
            self.cache.put(
                key,
                name,
                CachedAnswer(
                    text, response.model, finish, usage.prompt_tokens, usage.completion_tokens
                ),
            )
        return response

    async def _fit(
        self, route: RouteConfig, family: ModelFamily, provider: Provider, request: ModelRequest
    ) -> tuple[ModelRequest, RenderedPrompt, int, bool]:
        window = route.context_window or family.context_window
        if provider.context_limit is not None:
            window = min(window, provider.context_limit)

        async def count(text: str) -> int | None:
            if not provider.has_tokenizer:
                return None
            return await asyncio.to_thread(provider.count_tokens, text)

        return await fit_request(
            request,
            family,
            chat=self._use_chat(route, family, provider),
            window=window,
            route=route.name,
            count=count,
            chars_per_token=self._state[route.name].chars_per_token,
        )

    async def _generate(
        self,
        route: RouteConfig,
        provider: Provider,
        rendered: RenderedPrompt,
        params: GenerationParams,
        progress: _Progress,
        emit: Emit | None,
    ) -> None:
        loop = asyncio.get_running_loop()
        limits = route.timeouts
        total_deadline = loop.time() + limits.total
        first_deadline = min(loop.time() + limits.first_token, total_deadline)
        stream = provider.stream(rendered, params)
        try:
            async with asyncio.timeout_at(first_deadline) as deadline:
                async for chunk in stream:
                    if chunk.text:
                        if progress.ttft_s is None:
                            progress.ttft_s = time.perf_counter() - progress.started
                            deadline.reschedule(total_deadline)
                        progress.parts.append(chunk.text)
                        progress.raw_chars += len(chunk.text)
                        self._show(progress, progress.filter.feed(chunk.text), emit)
                        if progress.filter.stopped:
                            break  # a stop string: closing the stream ends generation
                    if chunk.final:
                        progress.final = chunk
                        break
        except TimeoutError:
            if progress.ttft_s is None and first_deadline < total_deadline:
                raise RouteError(
                    route.name,
                    "first_token_timeout",
                    f"no first token within {limits.first_token} s",
                ) from None
            raise RouteError(
                route.name, "timeout", f"not finished within {limits.total} s"
            ) from None
        finally:
            await stream.aclose()
        self._show(progress, progress.filter.flush(), emit)

    @staticmethod
    def _show(progress: _Progress, text: str, emit: Emit | None) -> None:
        if text and emit is not None:
            emit(text)
            progress.shown = True

    def _retry_delay(self, route: RouteConfig, error: RouteError, retries: int) -> float | None:
        """Seconds to wait before retrying the same route, or None to fall back now."""
        if retries >= route.retries:
            return None
        retryable = error.kind in ("connect", "rate_limited", "stream_broken") or (
            error.kind == "http" and error.status_code in _RETRYABLE_STATUS
        )
        if not retryable:
            return None
        delay = error.retry_after if error.retry_after is not None else route.backoff_s * 2**retries
        return delay if delay <= route.max_retry_wait_s else None

    def _cool_down(self, name: str, state: _RouteState, error: RouteError) -> None:
        if error.kind in ("malformed",):
            return
        route = self._routes[name]
        seconds = max(route.cooldown_s, error.retry_after or 0.0)
        state.cool_until = self._clock() + seconds
        state.last_error = str(error).splitlines()[0]

    def _usage(
        self,
        progress: _Progress,
        prompt_tokens: int,
        estimated: bool,
        state: _RouteState,
        rendered: RenderedPrompt,
    ) -> tuple[Usage, bool]:
        reported = progress.final.usage if progress.final else None
        prompt = reported.prompt_tokens if reported else None
        completion = reported.completion_tokens if reported else None
        if prompt:
            # Learn this route's characters per token for the next estimates.
            observed = len(rendered.text()) / prompt
            state.chars_per_token = 0.5 * state.chars_per_token + 0.5 * observed
        usage_estimated = False
        if prompt is None:
            prompt, usage_estimated = prompt_tokens, estimated
        if completion is None:
            completion = round(progress.raw_chars / state.chars_per_token)
            usage_estimated = True
        return Usage(prompt_tokens=prompt, completion_tokens=completion), usage_estimated


def _classify(
    exc: Exception, route: RouteConfig, progress: _Progress, secrets: Sequence[str]
) -> RouteError:
    """Any failure of one try as a RouteError whose text carries no secret."""
    if isinstance(exc, RouteError):
        error = exc
    elif isinstance(exc, httpx.ConnectTimeout | httpx.ConnectError):
        error = RouteError(
            route.name,
            "connect",
            f"cannot connect to {route.base_url}: {exc}",
            hint="is the server running? check base_url",
        )
    elif isinstance(exc, httpx.TimeoutException):
        error = RouteError(route.name, "timeout", f"timed out: {exc}")
    elif isinstance(exc, httpx.TransportError | OSError):
        kind = "stream_broken" if progress.ttft_s is not None else "connect"
        error = RouteError(route.name, kind, f"connection failed: {exc or type(exc).__name__}")
    else:
        error = RouteError(route.name, "http", f"{type(exc).__name__}: {exc}")
    error.message = redact(error.message, secrets)
    error.hint = redact(error.hint, secrets) if error.hint else None
    error.args = (error.message,)
    return error


@dataclass
class _Recorder:
    """Writes the ledger row of one attempt and builds its response."""

    router: Router
    route: RouteConfig
    request: ModelRequest
    request_id: str
    fallback_used: bool
    started: float
    secrets: Sequence[str]

    def _write(self, attempt: Attempt) -> int | None:
        ledger = self.router.ledger
        return ledger.record(attempt) if ledger is not None else None

    def _base(self, status: Status, **fields: object) -> Attempt:
        return Attempt(
            task=self.request.task,
            route=self.route.name,
            model=str(fields.pop("model", None) or self.route.model),
            family=self.route.family,
            provider=self.route.provider,
            status=status,
            latency_s=time.perf_counter() - self.started,
            request_id=self.request_id,
            fallback_used=self.fallback_used,
            **fields,  # type: ignore[arg-type]
        )

    def failure(
        self,
        error: RouteError,
        progress: _Progress,
        *,
        retries: int,
        usage: Usage | None = None,
        prompt_tokens: tuple[int, bool] | None = None,
    ) -> None:
        """A failed attempt. ``usage`` when an answer was generated (and so billed), else
        ``prompt_tokens`` as (count, estimated?) of the prompt that was sent."""
        status = _LEDGER_STATUS.get(error.kind, "error")
        # info, not warning: Python's last-resort handler would print warnings into
        # learners' notebooks.
        log.info("%s", redact(str(error).splitlines()[0], self.secrets))
        latency = time.perf_counter() - self.started
        sent = prompt_tokens or (None, False)
        self._write(
            self._base(
                status,
                error=redact(str(error), self.secrets)[:500],
                ttft_s=progress.ttft_s,
                retries=retries,
                prompt_tokens=usage.prompt_tokens if usage else sent[0],
                completion_tokens=usage.completion_tokens if usage else None,
                usage_estimated=usage is None and sent[1],
                cost_usd=_cost(self.route, usage, progress.final, latency),
            )
        )

    def cache_hit(self, hit: CachedAnswer, request_started: float) -> ModelResponse:
        latency = time.perf_counter() - self.started
        attempt_id = self._write(
            self._base(
                "ok",
                model=hit.model,
                finish_reason=hit.finish_reason,
                prompt_tokens=hit.prompt_tokens,
                completion_tokens=hit.completion_tokens,
                ttft_s=latency,
                cost_usd=0.0,  # nothing was generated: a true zero, not an unknown price
                cache_hit=True,
            )
        )
        total = time.perf_counter() - request_started
        return self._response(
            hit.text,
            hit.model,
            Usage(hit.prompt_tokens, hit.completion_tokens),
            total,
            total,
            0.0,
            attempt_id,
            finish_reason=hit.finish_reason,
            cached=True,
        )

    def partial(
        self,
        error: RouteError,
        progress: _Progress,
        prompt_tokens: int,
        retries: int,
        request_started: float,
    ) -> ModelResponse:
        text = progress.filter.text
        latency = time.perf_counter() - self.started
        completion = round(progress.raw_chars / DEFAULT_CHARS_PER_TOKEN)
        usage = Usage(prompt_tokens=prompt_tokens, completion_tokens=completion)
        cost = _cost(self.route, usage, None, latency)
        attempt_id = self._write(
            self._base(
                "partial",
                error=redact(str(error), self.secrets)[:500],
                ttft_s=progress.ttft_s,
                retries=retries,
                prompt_tokens=prompt_tokens,
                completion_tokens=completion,
                usage_estimated=True,
                cost_usd=cost,
            )
        )
        return self._response(
            text,
            self.route.model,
            usage,
            time.perf_counter() - request_started,
            _since(request_started, self.started, progress.ttft_s),
            cost,
            attempt_id,
            partial=True,
        )

    def success(
        self,
        text: str,
        finish: str | None,
        progress: _Progress,
        usage: Usage,
        usage_estimated: bool,
        retries: int,
        request_started: float,
        problem: str | None,
    ) -> ModelResponse:
        latency = time.perf_counter() - self.started
        model = (progress.final.model if progress.final else None) or self.route.model
        cost = _cost(self.route, usage, progress.final, latency)
        attempt_id = self._write(
            self._base(
                "malformed" if problem else "ok",
                model=model,
                error=problem,
                finish_reason=finish,
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
                usage_estimated=usage_estimated,
                ttft_s=progress.ttft_s,
                retries=retries,
                cost_usd=cost,
            )
        )
        return self._response(
            text,
            model,
            usage,
            time.perf_counter() - request_started,
            _since(request_started, self.started, progress.ttft_s),
            cost,
            attempt_id,
            finish_reason=finish,
            malformed=problem,
        )

    def _response(
        self,
        text: str,
        model: str,
        usage: Usage,
        latency_s: float,
        ttft_s: float | None,
        cost: float | None,
        attempt_id: int | None,
        **flags: object,
    ) -> ModelResponse:
        label_model = self.route.display_name or model
        return ModelResponse(
            text=text,
            route=self.route.name,
            model=model,
            family=self.route.family,
            usage=usage,
            latency_s=latency_s,
            ttft_s=ttft_s,
            cost_usd=cost,
            fallback_used=self.fallback_used,
            attempt_id=attempt_id,
            label=f"AI-generated by {label_model} via {self.route.name}",
            **flags,  # type: ignore[arg-type]
        )


def _since(request_started: float, attempt_started: float, ttft: float | None) -> float | None:
    if ttft is None:
        return None
    return attempt_started - request_started + ttft


def _cost(
    route: RouteConfig, usage: Usage | None, final: Chunk | None, latency: float
) -> float | None:
    """USD for one attempt: provider-reported cost wins; None means unpriced."""
    if final is not None and final.cost_usd is not None:
        return final.cost_usd
    if route.price_per_second is not None:
        seconds = final.compute_s if final is not None and final.compute_s is not None else latency
        return seconds * route.price_per_second
    if route.price_per_million_input is not None and route.price_per_million_output is not None:
        prompt = (usage.prompt_tokens or 0) if usage else 0
        completion = (usage.completion_tokens or 0) if usage else 0
        return (
            prompt * route.price_per_million_input + completion * route.price_per_million_output
        ) / 1e6
    return None
