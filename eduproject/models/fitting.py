"""Fit a request into a route's context window minus its output budget.

Token counts come from the provider's tokenizer when it has one (llama.cpp), else from
an estimate: characters / chars-per-token, where chars-per-token is learned from the
route's own usage figures (prompt characters sent / ``prompt_tokens`` reported) and
starts at :data:`DEFAULT_CHARS_PER_TOKEN` (3.5, a fair figure for code and English with
BPE vocabularies of ~50k tokens), plus a few tokens per chat message for the template.

When a prompt is too long, the least important text goes first: the middle of the
code context (its head and tail stay), then the end of the suffix and the start of the
prefix (the code nearest the cursor stays), then the middle of the instruction.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from eduproject.errors import RouteError, RouteErrorKind
from eduproject.models.families import ModelFamily, RenderedPrompt
from eduproject.models.types import ModelRequest

DEFAULT_CHARS_PER_TOKEN = 3.5
TOKENS_PER_MESSAGE = 4
# Room for special tokens servers add (BOS, template ends) that no count sees.
SAFETY_TOKENS = 16
MARKER = "\n...\n"

Counter = Callable[[str], Awaitable[int | None]]


def estimate_tokens(rendered: RenderedPrompt, chars_per_token: float) -> int:
    """The documented estimate: characters / chars-per-token, plus chat template overhead."""
    overhead = TOKENS_PER_MESSAGE * len(rendered.messages or ())
    return math.ceil(len(rendered.text()) / chars_per_token) + overhead


def output_budget(request: ModelRequest, window: int) -> int:
    """``max_tokens``, but never more than half the window (the prompt needs room too)."""
    return max(1, min(request.max_tokens, window // 2))


async def fit_request(
    request: ModelRequest,
    family: ModelFamily,
    *,
    chat: bool,
    window: int,
    route: str,
    count: Counter,
    chars_per_token: float,
) -> tuple[ModelRequest, RenderedPrompt, int, bool]:
    """Shrink ``request`` until it fits; returns (request, rendered, prompt tokens, estimated?).

    Raises :class:`RouteError` (kind ``unavailable``) when even the bare template is too long.
    """
    request = replace(request, max_tokens=output_budget(request, window))
    budget = window - request.max_tokens - SAFETY_TOKENS
    for _ in range(8):
        rendered = family.render(request, chat=chat)
        exact = await count(rendered.prompt if rendered.prompt is not None else rendered.text())
        tokens = exact if exact is not None else estimate_tokens(rendered, chars_per_token)
        if tokens <= budget:
            return request, rendered, tokens, exact is None
        ratio = len(rendered.text()) / max(tokens, 1)
        # No safety factor: overshooting would drop the whole context when most of it
        # must go; the loop recounts and cuts again if this was not enough.
        excess_chars = math.ceil((tokens - budget) * ratio) + len(MARKER)
        shrunk = shrink(request, excess_chars)
        if shrunk is None:
            break
        request = shrunk
    raise RouteError(
        route,
        RouteErrorKind.UNAVAILABLE,
        f"the prompt does not fit the context window of {window} tokens "
        f"with {request.max_tokens} tokens kept for the answer",
        hint="shorten the question or the code, or use a route with a larger context_window",
    )


def shrink(request: ModelRequest, chars: int) -> ModelRequest | None:
    """Remove about ``chars`` characters from the least important fields; None if impossible."""
    changes: dict[str, Any] = {}
    left = chars
    for name, cut in (
        ("context", _cut_middle),
        ("suffix", _keep_head),
        ("prefix", _keep_tail),
        ("system", _cut_middle),
        ("instruction", _cut_middle),
    ):
        if left <= 0:
            break
        value: str = getattr(request, name)
        floor = 200 if name == "instruction" else 0
        removable = max(0, len(value) - floor)
        if removable <= len(MARKER):
            continue
        take = min(left, removable)
        changes[name] = cut(value, len(value) - take)
        left -= take
    if not changes:
        return None
    return replace(request, **changes)


def _cut_middle(text: str, keep: int) -> str:
    if keep <= len(MARKER):
        return ""
    keep -= len(MARKER)
    head = keep // 3
    return text[:head] + MARKER + text[len(text) - (keep - head) :]


def _keep_tail(text: str, keep: int) -> str:
    tail = text[len(text) - keep :] if keep > 0 else ""
    # Start at a line boundary so the model does not see half a statement.
    newline = tail.find("\n")
    return tail[newline + 1 :] if 0 <= newline < len(tail) // 2 else tail


def _keep_head(text: str, keep: int) -> str:
    head = text[:keep] if keep > 0 else ""
    newline = head.rfind("\n")
    return head[: newline + 1] if newline > len(head) // 2 else head
