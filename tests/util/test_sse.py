"""The one SSE reader and writer: what the gateway writes, its client and the providers read."""

from __future__ import annotations

from collections.abc import AsyncIterator

from eduproject.util.sse import parse_sse, sse_event, sse_events


def test_sse_round_trip_skips_keepalives() -> None:
    raw = (
        sse_event("delta", {"text": "a\nb"}) + b": keepalive\n\n" + sse_event("done", {"x": 1})
    ).decode()
    assert list(parse_sse(iter(raw.splitlines()))) == [
        ("delta", '{"text":"a\\nb"}'),
        ("done", '{"x":1}'),
    ]
    assert list(parse_sse(iter(["data: one", "data: two"]))) == [("message", "one\ntwo")]


def test_data_without_the_space_and_unknown_fields() -> None:
    lines = ['data:{"token":1}', "", "id: 7", "retry: 10", "event:output", "data: x", ""]
    assert list(parse_sse(lines)) == [("message", '{"token":1}'), ("output", "x")]


class _Response:
    """What sse_events needs of an httpx response: its lines, as a closable generator."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.closed = False

    async def aiter_lines(self) -> AsyncIterator[str]:
        try:
            for line in self.lines:
                yield line
        finally:
            self.closed = True


async def test_a_response_is_read_the_same_way_and_closed_when_left_early() -> None:
    response = _Response(["event: done", "data: {}", "", "data: [DONE]", "", "data: late", ""])
    seen = []
    events = sse_events(response)
    async for event, data in events:
        seen.append((event, data))
        if data == "[DONE]":
            break
    await events.aclose()
    assert seen == [("done", "{}"), ("message", "[DONE]")]
    assert response.closed


async def test_a_stream_cut_without_its_blank_line_still_gives_its_last_event() -> None:
    events = [e async for e in sse_events(_Response(["data: a", "", "data: b"]))]
    assert events == [("message", "a"), ("message", "b")]
