"""The ``echo`` provider: answers in this process by repeating the request's last message.

Everything a provider plugin needs: a class with ``stream()`` (text deltas, then one final
chunk), the option schema of its ``extra`` table, and a ``register(registry)`` hook named by
an entry point of the group ``eduproject.providers`` (see pyproject.toml).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

from eduproject.errors import RouteError
from eduproject.models import (
    ModelFamily,
    ProviderSpec,
    Registry,
    RenderedPrompt,
    RouteConfig,
    Usage,
)
from eduproject.models.providers import Chunk, EndpointKind, GenerationParams

__all__ = ["END_OF_TURN", "EchoProvider", "register"]

# The family's template token, of a shape no other family uses: the router cuts an answer
# at it, and the tutor rejects a reply holding it (eduproject.models.checks).
END_OF_TURN = "[[/ECHO]]"


class EchoProvider:
    """Replies ``"<greeting> <the last message>"``, word by word."""

    endpoint_kinds: frozenset[EndpointKind] = frozenset({"chat", "raw"})
    has_tokenizer = False
    context_limit: int | None = None

    def __init__(self, route: RouteConfig, api_key: str | None, *, transport: object = None):
        self.route = route
        self._api_key = api_key

    async def stream(
        self, rendered: RenderedPrompt, params: GenerationParams
    ) -> AsyncGenerator[Chunk]:
        if self.route.extra.get("reject_key"):
            # A server that quotes the key back: the router must redact it.
            raise RouteError(self.route.name, "http", f"HTTP 401: bad key {self._api_key}")
        asked = rendered.messages[-1].content if rendered.messages else rendered.prompt or ""
        words = f"{self.route.extra.get('greeting', 'Echo:')} {asked}".split()
        for word in words[: params.max_tokens]:
            yield Chunk(text=word + " ")
        yield Chunk(
            final=True,
            finish_reason="stop",
            usage=Usage(prompt_tokens=len(asked.split()), completion_tokens=len(words)),
            model=self.route.model,
        )

    def count_tokens(self, text: str) -> int | None:
        return None

    def secrets(self) -> tuple[str, ...]:
        return (self._api_key,) if self._api_key else ()

    async def aclose(self) -> None:
        return None


def register(registry: Registry) -> None:
    """The plugin's entry point: one provider with its options, one family."""
    registry.add_provider(
        ProviderSpec(
            "echo",
            EchoProvider,
            options={"greeting": str, "reject_key": bool},
            description="repeats the question (an example plugin)",
        )
    )
    registry.add_family(
        ModelFamily(
            name="echo-plain",
            description="plain chat messages; its one template token ends a turn",
            context_window=4096,
            chat=True,
            stop=(END_OF_TURN,),
            leak_tokens=(END_OF_TURN,),
        )
    )
