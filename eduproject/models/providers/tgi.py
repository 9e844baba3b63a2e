"""Hugging Face text-generation-inference: ``/generate`` and ``/generate_stream``.

TGI takes a raw prompt (``inputs``); its stream is SSE events carrying one ``token``
each, the last also carrying ``generated_text`` and ``details`` -- there is no
``[DONE]``, so a stream that ends without ``details`` was cut. TGI accepts at most four
stop sequences by default; the router cuts the rest client-side.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator
from typing import Any

from eduproject.errors import RouteErrorKind
from eduproject.models.families import RenderedPrompt
from eduproject.models.providers.base import (
    Chunk,
    EndpointKind,
    GenerationParams,
    HttpProvider,
    drain,
)
from eduproject.models.types import Usage
from eduproject.util.sse import sse_events

_FINISH = {"eos_token": "stop", "stop_sequence": "stop", "length": "length"}


class TGIProvider(HttpProvider):
    endpoint_kinds: frozenset[EndpointKind] = frozenset({"raw"})

    def body(self, rendered: RenderedPrompt, params: GenerationParams) -> dict[str, Any]:
        limit = self.route.extra.get("max_stop_strings", 4)
        parameters: dict[str, Any] = {
            "max_new_tokens": params.max_tokens,
            "details": True,
            "return_full_text": False,
            "stop": list(params.stop[:limit]),
        }
        # TGI rejects temperature <= 0; greedy decoding is its default.
        if params.temperature > 0:
            parameters["temperature"] = params.temperature
            parameters["do_sample"] = True
        if params.seed is not None:
            parameters["seed"] = params.seed
        return {"inputs": rendered.prompt or rendered.text(), "parameters": parameters}

    async def stream(
        self, rendered: RenderedPrompt, params: GenerationParams
    ) -> AsyncGenerator[Chunk]:
        body = self.body(rendered, params)
        client = self.client()
        if not self.route.stream:
            response = await client.post(
                self.url("/generate"), json=body, headers=self.auth_headers()
            )
            await self.raise_for_status(response)
            data = self.parse_json(response.text, "response")
            if not isinstance(data, dict) or not isinstance(data.get("generated_text"), str):
                raise self.error(RouteErrorKind.HTTP, "the response has no generated_text")
            if data["generated_text"]:
                yield Chunk(text=data["generated_text"])
            yield _final(data.get("details"))
            return
        async with client.stream(
            "POST", self.url("/generate_stream"), json=body, headers=self.auth_headers()
        ) as response:
            await self.raise_for_status(response)
            async with contextlib.aclosing(sse_events(response)) as events:
                async for _event, data in events:
                    obj = self.parse_json(data, "stream")
                    if not isinstance(obj, dict):
                        raise self.error(
                            RouteErrorKind.STREAM_BROKEN,
                            "the server sent a non-object stream event",
                        )
                    if obj.get("error"):
                        kind = (
                            RouteErrorKind.RATE_LIMITED
                            if obj.get("error_type") == "overloaded"
                            else RouteErrorKind.HTTP
                        )
                        raise self.error(kind, f"error in stream: {obj['error']}")
                    token = obj.get("token") or {}
                    if isinstance(token, dict) and not token.get("special") and token.get("text"):
                        yield Chunk(text=str(token["text"]))
                    if obj.get("details") is not None:
                        await drain(events)
                        yield _final(obj["details"])
                        return
            raise self.error(
                RouteErrorKind.STREAM_BROKEN, "the stream ended before its final details"
            )


def _final(details: Any) -> Chunk:
    details = details if isinstance(details, dict) else {}
    reason = details.get("finish_reason")
    generated = details.get("generated_tokens")
    return Chunk(
        final=True,
        finish_reason=_FINISH.get(str(reason), reason),
        usage=Usage(completion_tokens=int(generated)) if generated is not None else None,
    )
