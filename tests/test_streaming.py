"""The one streaming shape (eduproject.streaming) and the kinds that are enums."""

from __future__ import annotations

from collections.abc import Generator

import pytest

from eduproject.errors import RouteError, RouteErrorKind
from eduproject.streaming import TextStream
from eduproject.tutor.tutor import ReplySource


def answer(closed: list[bool]) -> Generator[str, None, int]:
    try:
        yield "Hel"
        yield "lo"
        return 42
    finally:
        closed.append(True)


def test_iterate_then_read_the_result() -> None:
    closed: list[bool] = []
    stream = TextStream(answer(closed))
    assert stream.result is None
    assert list(stream) == ["Hel", "lo"]
    assert stream.result == 42 and stream.finish() == 42 and closed == [True]
    assert list(stream) == []  # an ended stream stays ended


def test_a_stream_stopped_early_has_no_result() -> None:
    closed: list[bool] = []
    with TextStream(answer(closed)) as stream:
        assert next(stream) == "Hel"
    assert closed == [True] and stream.result is None
    with pytest.raises(RuntimeError, match="stopped before its end"):
        stream.finish()


def test_relay_nests_one_stream_in_another_generator() -> None:
    def outer() -> Generator[str, None, int]:
        inner = TextStream(answer([]))
        value = yield from inner.relay()
        yield "!"
        return value + 1

    stream = TextStream(outer())
    assert "".join(stream) == "Hello!" and stream.result == 43


def test_kinds_and_sources_are_string_enums() -> None:
    error = RouteError("r", "http", "HTTP 500: boom")
    assert error.kind is RouteErrorKind.HTTP and error.kind == "http"
    assert str(error) == "route 'r': http: HTTP 500: boom"
    with pytest.raises(ValueError, match="'sideways' is not a valid RouteErrorKind"):
        RouteError("r", "sideways", "?")
    assert ReplySource("offline") is ReplySource.OFFLINE and ReplySource.MODEL == "model"
