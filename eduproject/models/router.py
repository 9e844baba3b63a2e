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
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

import httpx

from eduproject.errors import AllRoutesFailed, ConfigError, RouteError, RouteErrorKind
from eduproject.models.attempts import Progress, Recorder, classify
from eduproject.models.cache import CachedAnswer, ResponseCache, cache_key
from eduproject.models.checks import StopFilter, malformed_reason
from eduproject.models.config import OFFLINE, Config, RouteConfig, load_config
from eduproject.models.families import ModelFamily, RenderedPrompt, extract_code_block
from eduproject.models.fitting import DEFAULT_CHARS_PER_TOKEN, fit_request
from eduproject.models.ledger import Ledger
from eduproject.models.providers.base import GenerationParams, Provider
from eduproject.models.registry import registry_for
from eduproject.models.streams import Emit, LoopThread, ResponseStream, SyncResponseStream
from eduproject.models.types import ModelRequest, ModelResponse, Usage

log = logging.getLogger("eduproject.models")

_RETRYABLE_STATUS = frozenset({408, 500, 502, 503, 504})


@dataclass
class _RouteState:
    """What the router remembers about a route between requests (in this process)."""

    cool_until: float = 0.0
    last_error: str = ""
    chars_per_token: float = DEFAULT_CHARS_PER_TOKEN


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
        # Ledger row -> cache key of the answers this router gave, so that an answer marked
        # not accepted leaves the cache (bounded: only recent answers get rated).
        self._cache_keys: OrderedDict[int, str] = OrderedDict()
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
                raise ConfigError(f"route {route.name!r} has no provider", hint="Registry.build()")

    @classmethod
    def from_config(
        cls,
        config: Config | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> Router:
        """The usual router: ledger and cache files from the config; providers and families
        from the registry the config was read with (built-ins and installed plugins).

        >>> router = Router.from_config()      # doctest: +SKIP
        """
        config = config or load_config()
        registry = registry_for(config)
        # Providers first: a route that cannot be set up leaves no ledger file open.
        providers = registry.build(config.routes, transport=transport)
        return cls(
            config,
            ledger=Ledger(config.ledger_path),
            cache=ResponseCache(config.cache_path, ttl_s=config.cache_ttl_s)
            if config.cache_enabled
            else None,
            families=registry.families,
            providers=providers,
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
        """Text deltas as they arrive; ``.result`` holds the :class:`ModelResponse` after."""
        return ResponseStream(lambda emit: self._run(request, routes, emit))

    def complete_sync(
        self, request: ModelRequest, *, routes: Sequence[str] | None = None
    ) -> ModelResponse:
        """:meth:`complete` for synchronous code, including a running Jupyter kernel."""
        return self._loop.run(self.complete(request, routes=routes))

    def stream_sync(
        self, request: ModelRequest, *, routes: Sequence[str] | None = None
    ) -> SyncResponseStream:
        """:meth:`stream` for synchronous code: iterate for deltas, then read ``.result``."""
        return SyncResponseStream(self._loop, lambda: self.stream(request, routes=routes))

    def mark_accepted(self, attempt_id: int, accepted: bool) -> None:
        """Record in the ledger whether an answer was accepted (tutor, bench, thumbs-up).

        A rejected answer also leaves the response cache: the same request then gets a
        fresh answer instead of the one just turned down.
        """
        if self.ledger is not None:
            self.ledger.mark_accepted(attempt_id, accepted)
        key = self._cache_keys.pop(attempt_id, None)
        if not accepted and key is not None and self.cache is not None:
            self.cache.delete(key)

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
                        RouteErrorKind.UNAVAILABLE,
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
        record = Recorder(self.ledger, route, request, request_id, fallback_used, started, secrets)
        try:
            request, rendered, prompt_tokens, estimated = await self._fit(
                route, family, provider, request
            )
        except RouteError as fit_error:
            record.failure(fit_error, Progress(StopFilter((), ()), started), retries=0)
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
                return self._remember(record.cache_hit(hit, request_started), key)

        retries = 0
        while True:
            progress = Progress(
                StopFilter(rendered.stop, family.leak_tokens, secrets), time.perf_counter()
            )
            try:
                await self._generate(route, provider, rendered, params, progress, emit)
                break
            except asyncio.CancelledError:
                # The caller stopped reading (a tutor guard cut a leaking answer off): the
                # attempt still happened and cost tokens, so it keeps its ledger row.
                stopped = RouteError(name, RouteErrorKind.CANCELLED, "stopped by the caller")
                if progress.parts:
                    record.partial(stopped, progress, prompt_tokens, retries, request_started)
                else:
                    record.failure(
                        stopped, progress, retries=retries, prompt_tokens=(prompt_tokens, estimated)
                    )
                raise
            except (RouteError, httpx.HTTPError, OSError) as exc:
                error = classify(exc, route, progress, secrets)
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
        problem = malformed_reason(
            text, finish, family.leak_tokens, leaked=progress.filter.leaked, cut_ok=request.cut_ok
        )
        if rendered.code_block and problem is None:
            text = extract_code_block(text)
        usage, usage_estimated = self._usage(progress, prompt_tokens, estimated, state, rendered)
        if problem is not None and not progress.shown:
            error = RouteError(name, RouteErrorKind.MALFORMED, problem)
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
            self._remember(response, key)
        return response

    def _remember(self, response: ModelResponse, key: str) -> ModelResponse:
        if response.attempt_id is not None:
            self._cache_keys[response.attempt_id] = key
            while len(self._cache_keys) > 1000:
                self._cache_keys.popitem(last=False)
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
        progress: Progress,
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
                    RouteErrorKind.FIRST_TOKEN_TIMEOUT,
                    f"no first token within {limits.first_token} s",
                ) from None
            raise RouteError(
                route.name, RouteErrorKind.TIMEOUT, f"not finished within {limits.total} s"
            ) from None
        finally:
            await stream.aclose()
        self._show(progress, progress.filter.flush(), emit)

    @staticmethod
    def _show(progress: Progress, text: str, emit: Emit | None) -> None:
        if text and emit is not None:
            emit(text)
            progress.shown = True

    def _retry_delay(self, route: RouteConfig, error: RouteError, retries: int) -> float | None:
        """Seconds to wait before retrying the same route, or None to fall back now."""
        if retries >= route.retries:
            return None
        retryable = error.kind in (
            RouteErrorKind.CONNECT,
            RouteErrorKind.RATE_LIMITED,
            RouteErrorKind.STREAM_BROKEN,
        ) or (error.kind == RouteErrorKind.HTTP and error.status_code in _RETRYABLE_STATUS)
        if not retryable:
            return None
        delay = error.retry_after if error.retry_after is not None else route.backoff_s * 2**retries
        return delay if delay <= route.max_retry_wait_s else None

    def _cool_down(self, name: str, state: _RouteState, error: RouteError) -> None:
        if error.kind in (RouteErrorKind.MALFORMED,):
            return
        route = self._routes[name]
        seconds = max(route.cooldown_s, error.retry_after or 0.0)
        state.cool_until = self._clock() + seconds
        state.last_error = str(error).splitlines()[0]

    def _usage(
        self,
        progress: Progress,
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
