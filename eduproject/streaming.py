"""One streaming shape for every streamed answer of eduproject.

A stream is iterated for its text deltas; once the last one is read, ``stream.result`` holds
the final value (a :class:`~eduproject.models.types.ModelResponse` from the router, a
:class:`~eduproject.tutor.tutor.TutorReply` from the tutor)::

    stream = tutor.hint_stream("sum_evens", code, results, level=1)
    for delta in stream:
        print(delta, end="")
    print(stream.result.label)

``result`` is None until the stream has ended, and stays None when it was stopped early
(``close()``, or leaving a ``with`` block). The router's async stream has the same shape with
``async for``. :class:`TextStream` gives the shape to a generator that returns its result.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import Generic, Protocol, TypeVar, cast

__all__ = ["Stream", "TextStream"]

R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)


class Stream(Protocol[R_co]):
    """What every synchronous stream offers (router and tutor alike)."""

    def __iter__(self) -> Iterator[str]: ...

    @property
    def result(self) -> R_co | None: ...

    def close(self) -> None: ...


class TextStream(Generic[R]):
    """Text deltas from a generator; its return value becomes :attr:`result`.

    >>> def answer():
    ...     yield "Hel"
    ...     yield "lo"
    ...     return 42
    >>> stream = TextStream(answer())
    >>> "".join(stream), stream.result
    ('Hello', 42)
    """

    def __init__(self, generator: Generator[str, None, R]) -> None:
        self._generator = generator
        self._result: R | None = None
        self._ended = False  # ran to its end (not stopped): the result is there
        self._closed = False

    @property
    def result(self) -> R | None:
        """The final value once the last delta has been read; None before, or if stopped."""
        return self._result

    def __iter__(self) -> TextStream[R]:
        return self

    def __next__(self) -> str:
        if self._closed:
            raise StopIteration
        try:
            return next(self._generator)
        except StopIteration as stop:
            self._closed = self._ended = True
            self._result = stop.value
            raise StopIteration from None

    def close(self) -> None:
        """Stop early: the generator is closed (its ``finally`` blocks run now)."""
        self._closed = True
        self._generator.close()

    def finish(self) -> R:
        """Read the rest and return the result (a blocking call made of a streaming one)."""
        for _ in self:
            pass
        if not self._ended:
            raise RuntimeError("the stream was stopped before its end: it has no result")
        return cast(R, self._result)  # R itself may include None: _ended says it is set

    def relay(self) -> Generator[str, None, R]:
        """This stream inside another generator: ``return (yield from stream.relay())``."""
        yield from self
        return self.finish()

    def __enter__(self) -> TextStream[R]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
