"""Eden AI's OpenAI-compatible v3 API: chat only, server-side ``fallbacks``, reported cost.

``model`` is ``"provider/model"``; ``extra.fallbacks`` lists up to three more models Eden
AI tries itself. The USD ``cost`` it reports wins over any price in the configuration,
and the model that actually answered (after a fallback) goes into the ledger.
"""

from __future__ import annotations

from typing import Any

from eduproject.models.families import RenderedPrompt
from eduproject.models.providers.base import EndpointKind, GenerationParams
from eduproject.models.providers.openai import OpenAIProvider


class EdenAIProvider(OpenAIProvider):
    endpoint_kinds: frozenset[EndpointKind] = frozenset({"chat"})

    def path(self, rendered: RenderedPrompt) -> str:
        return str(self.route.extra.get("path", "/chat/completions"))

    def body(self, rendered: RenderedPrompt, params: GenerationParams) -> dict[str, Any]:
        body = super().body(rendered, params)
        fallbacks = self.route.extra.get("fallbacks")
        if fallbacks:
            body["fallbacks"] = list(fallbacks)
        return body
