"""The bookkeeping of one attempt: its progress, its ledger row, its response and cost.

An attempt is one route tried for one request (retries included). The router decides
what to try; this module records what happened -- one ledger row per attempt, errors
redacted -- and builds the :class:`ModelResponse` with the route's label.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx

from eduproject.errors import RouteError, RouteErrorKind
from eduproject.models.cache import CachedAnswer
from eduproject.models.checks import StopFilter
from eduproject.models.config import RouteConfig
from eduproject.models.fitting import DEFAULT_CHARS_PER_TOKEN
from eduproject.models.keys import redact
from eduproject.models.ledger import Attempt, Ledger, Status
from eduproject.models.providers.base import Chunk
from eduproject.models.types import ModelRequest, ModelResponse, Usage

log = logging.getLogger("eduproject.models")

LEDGER_STATUS: dict[RouteErrorKind, Status] = {
    RouteErrorKind.TIMEOUT: "timeout",
    RouteErrorKind.FIRST_TOKEN_TIMEOUT: "timeout",
    RouteErrorKind.RATE_LIMITED: "rate_limited",
    RouteErrorKind.MALFORMED: "malformed",
}


@dataclass
class Progress:
    """What one try of one route has produced so far."""

    filter: StopFilter
    started: float
    ttft_s: float | None = None
    final: Chunk | None = None
    raw_chars: int = 0
    shown: bool = False  # some text reached the caller's stream
    parts: list[str] = field(default_factory=list)


def classify(
    exc: Exception, route: RouteConfig, progress: Progress, secrets: Sequence[str]
) -> RouteError:
    """Any failure of one try as a RouteError whose text carries no secret."""
    if isinstance(exc, RouteError):
        error = exc
    elif isinstance(exc, httpx.ConnectTimeout | httpx.ConnectError):
        error = RouteError(
            route.name,
            RouteErrorKind.CONNECT,
            f"cannot connect to {route.base_url}: {exc}",
            hint="is the server running? check base_url",
        )
    elif isinstance(exc, httpx.TimeoutException):
        error = RouteError(route.name, RouteErrorKind.TIMEOUT, f"timed out: {exc}")
    elif isinstance(exc, httpx.TransportError | OSError):
        kind = (
            RouteErrorKind.STREAM_BROKEN if progress.ttft_s is not None else RouteErrorKind.CONNECT
        )
        error = RouteError(route.name, kind, f"connection failed: {exc or type(exc).__name__}")
    else:
        error = RouteError(route.name, RouteErrorKind.HTTP, f"{type(exc).__name__}: {exc}")
    error.message = redact(error.message, secrets)
    error.hint = redact(error.hint, secrets) if error.hint else None
    error.args = (error.message,)
    return error


@dataclass
class Recorder:
    """Writes the ledger row of one attempt and builds its response."""

    ledger: Ledger | None
    route: RouteConfig
    request: ModelRequest
    request_id: str
    fallback_used: bool
    started: float
    secrets: Sequence[str]

    def _write(self, attempt: Attempt) -> int | None:
        return self.ledger.record(attempt) if self.ledger is not None else None

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
        progress: Progress,
        *,
        retries: int,
        usage: Usage | None = None,
        prompt_tokens: tuple[int, bool] | None = None,
    ) -> None:
        """A failed attempt. ``usage`` when an answer was generated (and so billed), else
        ``prompt_tokens`` as (count, estimated?) of the prompt that was sent."""
        status = LEDGER_STATUS.get(error.kind, "error")
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
                cost_usd=attempt_cost(self.route, usage, progress.final, latency),
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
        progress: Progress,
        prompt_tokens: int,
        retries: int,
        request_started: float,
    ) -> ModelResponse:
        text = progress.filter.text
        latency = time.perf_counter() - self.started
        completion = round(progress.raw_chars / DEFAULT_CHARS_PER_TOKEN)
        usage = Usage(prompt_tokens=prompt_tokens, completion_tokens=completion)
        cost = attempt_cost(self.route, usage, None, latency)
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
        progress: Progress,
        usage: Usage,
        usage_estimated: bool,
        retries: int,
        request_started: float,
        problem: str | None,
    ) -> ModelResponse:
        latency = time.perf_counter() - self.started
        model = (progress.final.model if progress.final else None) or self.route.model
        cost = attempt_cost(self.route, usage, progress.final, latency)
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


def attempt_cost(
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
