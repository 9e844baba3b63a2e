"""One inline completion through the router: the request, the model call, the stop rules.

Shared by the Jupyter server extension (a learner's own server) and the gateway. Every request
that reaches here is one ledger row (task ``complete``) -- a cache hit, a failure and a
request cancelled by the learner's next keystroke included -- and accepting a suggestion sets
that row's ``accepted`` flag::

    completer = Completer(router)
    done = await completer.complete(CompletionInput(prefix="def add(a, b):\\n    "))
    done.text, done.attempt_id      # ('return a + b', 12)
    completer.accept(done.attempt_id)
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from typing import Any

from eduproject.completion.context import (
    CONTEXT_CHARS,
    MAX_TOKENS,
    CompletionInput,
    model_request,
    strip_echo,
    trim_to_block,
)
from eduproject.errors import ModelError
from eduproject.models.router import Router

log = logging.getLogger("eduproject.completion")


@dataclass(frozen=True)
class Completion:
    """A suggestion ("" when the model had none, or failed: ``problem`` then says why)."""

    text: str
    attempt_id: int | None = None
    label: str = ""
    route: str | None = None
    latency_s: float = 0.0
    cached: bool = False
    problem: str = ""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["latency_s"] = round(self.latency_s, 4)
        return data


class Completer:
    """Inline completions with ``router`` (its ``complete`` task routes)."""

    def __init__(
        self, router: Router, *, context_chars: int = CONTEXT_CHARS, max_tokens: int = MAX_TOKENS
    ) -> None:
        self.router = router
        self.context_chars = context_chars
        self.max_tokens = max_tokens

    @property
    def available(self) -> bool:
        """Whether any model route serves completions (``offline`` cannot complete code)."""
        return any(name != "offline" for name in self.router.routes_for("complete"))

    async def complete(self, inp: CompletionInput) -> Completion:
        """Ask the model; cancelling the awaiting task stops the model call too."""
        started = time.perf_counter()
        if not self.available:
            return Completion("", problem="no model route for code completion")
        request = model_request(inp, context_chars=self.context_chars, max_tokens=self.max_tokens)
        try:
            response = await self.router.complete(request)
        except ModelError as exc:
            # The ledger has the failed attempts; the learner just sees no suggestion.
            log.info("completion failed: %s", str(exc).splitlines()[0])
            return Completion(
                "", latency_s=time.perf_counter() - started, problem=str(exc).splitlines()[0]
            )
        text = response.text
        if not self._fills_in_the_middle(response.route):
            text = strip_echo(text, request.prefix)
        text = trim_to_block(text, inp.prefix, inp.suffix)
        return Completion(
            text=text,
            attempt_id=response.attempt_id,
            label=response.label,
            route=response.route,
            latency_s=time.perf_counter() - started,
            cached=response.cached,
        )

    def _fills_in_the_middle(self, route: str) -> bool:
        """Whether ``route`` got a FIM (or plain code) prompt, not an instruction."""
        family = self.router.families[self.router.route(route).family]
        uses_code_prompt = family.code_shaped or family.fim is not None
        return uses_code_prompt and not self.router.uses_chat(route)

    def accept(self, attempt_id: int) -> None:
        """The learner took the suggestion (Tab): the ledger row's ``accepted`` flag."""
        self.router.mark_accepted(attempt_id, True)
