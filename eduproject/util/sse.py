"""Server-Sent Events, read and written in one place.

The gateway streams tutor replies as SSE and its client reads them; the model providers read
the SSE streams of OpenAI-compatible servers, TGI and Replicate. All of them go through the
one reader here::

    sse_event("delta", {"text": "Your loop"})   # b'event: delta\\ndata: {"text":"Your loop"}\\n\\n'
    list(parse_sse(["event: delta", 'data: {"text":"a"}', ""]))   # [("delta", '{"text":"a"}')]

Parsing follows the HTML standard for the fields eduproject uses: ``data:`` with or without
the space after the colon (TGI omits it), several ``data:`` lines joined by newlines, comment
lines (keep-alives) skipped, ``event`` "message" unless named. ``id`` and ``retry`` are ignored.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

__all__ = ["parse_sse", "sse_event", "sse_events"]


def sse_event(event: str, data: Any) -> bytes:
    """One Server-Sent Event with ``data`` as JSON on one line."""
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


@dataclass
class _Reader:
    """The parsing state between lines: ``line`` returns a finished event, if any."""

    event: str = "message"
    data: list[str] = field(default_factory=list)

    def line(self, line: str) -> tuple[str, str] | None:
        if not line:
            return self.end()
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            self.data.append(value)
        elif name == "event":
            self.event = value
        return None

    def end(self) -> tuple[str, str] | None:
        """The event being read (a stream may end without its blank line), and a fresh start."""
        done = (self.event, "\n".join(self.data)) if self.data else None
        self.event, self.data = "message", []
        return done


def parse_sse(lines: Iterable[str]) -> Iterator[tuple[str, str]]:
    """``(event, data)`` pairs from SSE text lines (without their line ends)."""
    reader = _Reader()
    for line in lines:
        event = reader.line(line)
        if event is not None:
            yield event
    last = reader.end()
    if last is not None:
        yield last


class _LineStream(Protocol):
    def aiter_lines(self) -> AsyncIterator[str]: ...


async def sse_events(response: _LineStream) -> AsyncGenerator[tuple[str, str]]:
    """``(event, data)`` pairs from a streamed HTTP response (an ``httpx.Response``)."""
    reader = _Reader()
    # aclosing: consumers stop early ([DONE], done events); close the line reader now,
    # not whenever the garbage collector gets to it.
    lines_iter = cast(AsyncGenerator[str], response.aiter_lines())  # an async generator
    async with contextlib.aclosing(lines_iter) as lines:
        async for line in lines:
            event = reader.line(line)
            if event is not None:
                yield event
    last = reader.end()
    if last is not None:
        yield last
