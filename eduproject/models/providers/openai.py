"""OpenAI-compatible servers: vLLM, Ollama, llama.cpp's server, DeepInfra, Together...

Raw prompts go to ``/completions`` (``choices[].text``), chat messages to
``/chat/completions`` (``choices[].delta.content``). Streaming is SSE ending in
``data: [DONE]``; ``stream_options.include_usage`` asks for a last chunk with usage
(turn it off with ``extra.stream_options = false`` for servers that reject it).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator
from typing import Any

from eduproject.errors import RouteErrorKind
from eduproject.models.families import RenderedPrompt
from eduproject.models.providers.base import (
    Chunk,
    GenerationParams,
    HttpProvider,
    drain,
    usage_from,
)
from eduproject.models.types import Usage
from eduproject.util.sse import sse_events


class OpenAIProvider(HttpProvider):
    """Any server that speaks the OpenAI completions and chat completions APIs."""

    chat_path = "/chat/completions"
    completions_path = "/completions"

    def body(self, rendered: RenderedPrompt, params: GenerationParams) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.route.model,
            "max_tokens": params.max_tokens,
            "temperature": params.temperature,
        }
        if rendered.is_chat:
            body["messages"] = rendered.message_dicts()
        else:
            body["prompt"] = rendered.prompt
        limit = self.route.extra.get("max_stop_strings")
        stops = list(params.stop[:limit] if limit is not None else params.stop)
        if stops:
            body["stop"] = stops
        if params.seed is not None:
            body["seed"] = params.seed
        if self.route.stream:
            body["stream"] = True
            if self.route.extra.get("stream_options", True):
                body["stream_options"] = {"include_usage": True}
        return body

    def path(self, rendered: RenderedPrompt) -> str:
        return self.chat_path if rendered.is_chat else self.completions_path

    async def stream(
        self, rendered: RenderedPrompt, params: GenerationParams
    ) -> AsyncGenerator[Chunk]:
        url = self.url(self.path(rendered))
        body = self.body(rendered, params)
        client = self.client()
        if not self.route.stream:
            response = await client.post(url, json=body, headers=self.auth_headers())
            await self.raise_for_status(response)
            data = self.parse_json(response.text, "response")
            text, reason = _choice(data)
            if text:
                yield Chunk(text=text)
            yield self._final(data, reason, None)
            return
        async with client.stream("POST", url, json=body, headers=self.auth_headers()) as response:
            await self.raise_for_status(response)
            finish: str | None = None
            usage: Usage | None = None
            # Eden AI reports `cost` (and the model that answered) on some chunk, not
            # necessarily the last one.
            meta: dict[str, Any] = {}
            done = False
            async with contextlib.aclosing(sse_events(response)) as events:
                async for _event, data in events:
                    if data.strip() == "[DONE]":
                        done = True
                        break
                    obj = self.parse_json(data, "stream")
                    if not isinstance(obj, dict):
                        raise self.error(
                            RouteErrorKind.STREAM_BROKEN,
                            "the server sent a non-object stream event",
                        )
                    if obj.get("error"):
                        raise self.error(
                            RouteErrorKind.HTTP, f"error in stream: {_message(obj['error'])}"
                        )
                    text, chunk_finish = _choice(obj)
                    finish = chunk_finish or finish
                    usage = usage_from(obj.get("usage")) or usage
                    meta.update({k: obj[k] for k in ("cost", "model") if obj.get(k) is not None})
                    if text:
                        yield Chunk(text=text)
                if done:
                    await drain(events)
            if not done and finish is None:
                raise self.error(RouteErrorKind.STREAM_BROKEN, "the stream ended before [DONE]")
            yield self._final(meta, finish, usage)

    def _final(self, data: dict[str, Any], finish: str | None, usage: Usage | None) -> Chunk:
        cost = data.get("cost")
        return Chunk(
            final=True,
            finish_reason=finish,
            usage=usage or usage_from(data.get("usage")),
            cost_usd=float(cost) if isinstance(cost, int | float) else None,
            model=data.get("model") if isinstance(data.get("model"), str) else None,
        )


def _choice(data: Any) -> tuple[str, str | None]:
    choices = data.get("choices") if isinstance(data, dict) else None
    if not choices or not isinstance(choices, list) or not isinstance(choices[0], dict):
        return "", None
    first = choices[0]
    text = first.get("text")
    if text is None:
        holder = first.get("delta") or first.get("message") or {}
        text = holder.get("content") if isinstance(holder, dict) else None
    return (text if isinstance(text, str) else ""), first.get("finish_reason")


def _message(error: Any) -> str:
    if isinstance(error, dict):
        return str(error.get("message") or error)
    return str(error)
