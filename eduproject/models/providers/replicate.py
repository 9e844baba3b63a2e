"""Replicate's predictions API: create, then stream (SSE) or wait and poll.

``model`` is ``"owner/name"`` (official models, ``POST /models/{owner}/{name}/predictions``)
or ``"owner/name:version"`` (``POST /predictions`` with ``version``). Without streaming the
request asks the server to hold it open (``Prefer: wait``) and polls ``urls.get`` until the
prediction is ``succeeded``, ``failed`` or ``canceled``. The stream sends ``output``,
``error`` and ``done`` events. ``metrics.predict_time`` is the billed compute time, used
by ``price_per_second``.

Input names differ between models: ``extra.max_tokens_key`` (default ``max_new_tokens``),
``extra.stop_key`` (stop strings joined by commas; unset = only client-side stops) and
``extra.input`` (fixed inputs merged in).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any
from urllib.parse import urlsplit

from eduproject.errors import RouteError, RouteErrorKind
from eduproject.models.families import RenderedPrompt
from eduproject.models.providers.base import (
    Chunk,
    GenerationParams,
    HttpProvider,
    drain,
)
from eduproject.models.types import Usage
from eduproject.util.sse import sse_events

_TERMINAL = ("succeeded", "failed", "canceled")


class ReplicateProvider(HttpProvider):
    def input(self, rendered: RenderedPrompt, params: GenerationParams) -> dict[str, Any]:
        extra = self.route.extra
        data: dict[str, Any] = dict(extra.get("input", {}))
        if rendered.messages is not None:
            # Replicate's chat models take a prompt and a system prompt, not messages.
            system = [m.content for m in rendered.messages if m.role == "system"]
            data["prompt"] = "\n\n".join(m.content for m in rendered.messages if m.role != "system")
            if system:
                data["system_prompt"] = "\n\n".join(system)
        else:
            data["prompt"] = rendered.prompt
        data[str(extra.get("max_tokens_key", "max_new_tokens"))] = params.max_tokens
        data["temperature"] = params.temperature
        if params.seed is not None:
            data["seed"] = params.seed
        if extra.get("stop_key") and params.stop:
            data[str(extra["stop_key"])] = ",".join(params.stop)
        return data

    def create_request(
        self, rendered: RenderedPrompt, params: GenerationParams
    ) -> tuple[str, dict[str, Any]]:
        body: dict[str, Any] = {"input": self.input(rendered, params)}
        if self.route.stream:
            body["stream"] = True
        model, _, version = self.route.model.partition(":")
        if version:
            body["version"] = version
            return self.url("/predictions"), body
        return self.url(f"/models/{model}/predictions"), body

    def _headers_for(self, url: str) -> dict[str, str]:
        # URLs come from the server's reply: send the key only to Replicate's own hosts
        # (or to the configured base_url host), never to an arbitrary address.
        host = urlsplit(url).hostname or ""
        base_host = urlsplit(self.route.base_url or "").hostname
        trusted = host == base_host or host == "replicate.com" or host.endswith(".replicate.com")
        return self.auth_headers() if trusted else {}

    async def stream(
        self, rendered: RenderedPrompt, params: GenerationParams
    ) -> AsyncGenerator[Chunk]:
        url, body = self.create_request(rendered, params)
        headers = self._headers_for(url)
        if not self.route.stream:
            headers["Prefer"] = f"wait={int(self.route.extra.get('wait_s', 60))}"
        client = self.client()
        response = await client.post(url, json=body, headers=headers)
        await self.raise_for_status(response)
        prediction = self._prediction(response.text)
        stream_url = (prediction.get("urls") or {}).get("stream")
        if self.route.stream and stream_url:
            async for chunk in self._stream_events(str(stream_url)):
                yield chunk
            yield await self._final(prediction, streamed=True)
            return
        prediction = await self._wait(prediction)
        output = prediction.get("output")
        text = "".join(str(p) for p in output) if isinstance(output, list) else str(output or "")
        if text:
            yield Chunk(text=text)
        yield self._final_from(prediction)

    def _prediction(self, text: str) -> dict[str, Any]:
        data = self.parse_json(text, "response")
        if not isinstance(data, dict):
            raise self.error(RouteErrorKind.HTTP, "the prediction is not a JSON object")
        if data.get("status") in ("failed", "canceled"):
            raise self.error(
                RouteErrorKind.HTTP, f"prediction {data.get('status')}: {data.get('error')}"
            )
        return data

    async def _stream_events(self, url: str) -> AsyncIterator[Chunk]:
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-store"}
        headers.update(self._headers_for(url))
        async with self.client().stream("GET", url, headers=headers) as response:
            await self.raise_for_status(response)
            async with contextlib.aclosing(sse_events(response)) as events:
                async for event, data in events:
                    if event == "output":
                        if data:
                            yield Chunk(text=data)
                    elif event == "error":
                        raise self.error(
                            RouteErrorKind.HTTP, f"prediction failed: {_detail(self, data)}"
                        )
                    elif event == "done":
                        reason = _reason(self, data)
                        if reason in ("error", "canceled"):
                            raise self.error(RouteErrorKind.HTTP, f"prediction ended: {reason}")
                        await drain(events)
                        return
        raise self.error(RouteErrorKind.STREAM_BROKEN, "the stream ended before its done event")

    async def _wait(self, prediction: dict[str, Any]) -> dict[str, Any]:
        poll_s = float(self.route.extra.get("poll_s", 0.5))
        while prediction.get("status") not in _TERMINAL:
            get_url = (prediction.get("urls") or {}).get("get")
            if not get_url:
                raise self.error(RouteErrorKind.HTTP, "the prediction has no urls.get to poll")
            await asyncio.sleep(poll_s)
            poll_s = min(poll_s * 1.5, 5.0)
            response = await self.client().get(
                str(get_url), headers=self._headers_for(str(get_url))
            )
            await self.raise_for_status(response)
            prediction = self._prediction(response.text)
        return prediction

    async def _final(self, prediction: dict[str, Any], *, streamed: bool) -> Chunk:
        """After a stream, read the prediction once more for its metrics (best effort)."""
        get_url = (prediction.get("urls") or {}).get("get")
        if streamed and get_url:
            response = await self.client().get(
                str(get_url), headers=self._headers_for(str(get_url))
            )
            if response.status_code < 400:
                try:
                    return self._final_from(self._prediction(response.text))
                except RouteError:
                    # Metrics are a nicety; the answer has already arrived whole.
                    pass
        return Chunk(final=True, finish_reason="stop")

    def _final_from(self, prediction: dict[str, Any]) -> Chunk:
        metrics = prediction.get("metrics") or {}
        predict_time = metrics.get("predict_time")
        tokens_in, tokens_out = metrics.get("input_token_count"), metrics.get("output_token_count")
        usage = None
        if tokens_in is not None or tokens_out is not None:
            usage = Usage(prompt_tokens=tokens_in, completion_tokens=tokens_out)
        return Chunk(
            final=True,
            finish_reason="stop",
            usage=usage,
            compute_s=float(predict_time) if isinstance(predict_time, int | float) else None,
        )


def _detail(provider: HttpProvider, data: str) -> str:
    try:
        obj = provider.parse_json(data, "stream")
    except RouteError:
        return data[:200]
    if isinstance(obj, dict):
        return str(obj.get("detail") or obj.get("error") or obj)[:200]
    return str(obj)[:200]


def _reason(provider: HttpProvider, data: str) -> str | None:
    if not data.strip():
        return None
    try:
        obj = provider.parse_json(data, "stream")
    except RouteError:
        return None
    return obj.get("reason") if isinstance(obj, dict) else None
