"""Streaming results, async and sync, and the private event loop behind the sync API.

A Jupyter kernel already runs an asyncio loop, so ``asyncio.run`` cannot be used from a
cell. The sync API therefore runs the router's coroutines on its own loop in a daemon
thread and hands results back through thread-safe queues::

    stream = router.stream_sync(request)       # works in a notebook cell
    for delta in stream:
        print(delta, end="")
    stream.result.label

Both streams have the one shape of :mod:`eduproject.streaming`: deltas, then ``.result``.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from typing import Any, TypeVar

from eduproject.errors import ModelError
from eduproject.models.types import ModelResponse

T = TypeVar("T")
Emit = Callable[[str], None]
_DONE = object()


class ResponseStream:
    """Async iterator of text deltas; ``.result`` holds the :class:`ModelResponse` after.

    >>> stream = router.stream(request)          # doctest: +SKIP
    >>> async for delta in stream: ...            # doctest: +SKIP
    >>> stream.result.label                       # doctest: +SKIP
    """

    def __init__(self, run: Callable[[Emit], Awaitable[ModelResponse]]) -> None:
        self._run = run
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._task: asyncio.Future[ModelResponse] | None = None
        self._finished = False
        self.result: ModelResponse | None = None

    def __aiter__(self) -> ResponseStream:
        return self

    async def __anext__(self) -> str:
        if self._finished:
            raise StopAsyncIteration
        if self._task is None:
            self._task = asyncio.ensure_future(self._run(self._queue.put_nowait))
            # Every delta is queued before the task ends, so _DONE always comes last.
            self._task.add_done_callback(lambda _t: self._queue.put_nowait(_DONE))
        item = await self._queue.get()
        if item is _DONE:
            self._finished = True
            self.result = self._task.result()
            raise StopAsyncIteration
        return str(item)

    async def aclose(self) -> None:
        """Stop early (the attempt in flight is cancelled and its stream closed)."""
        self._finished = True
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class LoopThread:
    """An event loop of our own in a daemon thread, started on first use."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=loop.run_forever, name="eduproject-models", daemon=True
                )
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        loop = self.loop()
        if threading.current_thread() is self._thread:
            coro.close()
            raise ModelError(
                "the synchronous model API was called from inside the router's own loop",
                hint="use `await router.complete(...)` in async code",
            )
        return asyncio.run_coroutine_threadsafe(coro, loop).result()

    def close(self, final: Callable[[], Coroutine[Any, Any, None]] | None = None) -> None:
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        if final is not None:
            asyncio.run_coroutine_threadsafe(final(), loop).result()
        asyncio.run_coroutine_threadsafe(loop.shutdown_asyncgens(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


_CLOSE_WAIT_S = 10.0


class SyncResponseStream:
    """Iterator of text deltas for synchronous code; ``.result`` after the last one.

    Stop early with ``close()`` (or by leaving a ``with`` block).
    """

    def __init__(self, loop: LoopThread, make: Callable[[], ResponseStream]) -> None:
        self._loop = loop
        self._make = make
        self._queue: queue.Queue[Any] = queue.Queue()
        self._future: Any = None
        self._finished = False
        self.result: ModelResponse | None = None

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        if self._finished:
            raise StopIteration
        if self._future is None:
            self._future = asyncio.run_coroutine_threadsafe(self._pump(), self._loop.loop())
        item = self._queue.get()
        if item is _DONE:
            self._finished = True
            self.result = self._future.result()
            raise StopIteration
        return str(item)

    async def _pump(self) -> ModelResponse | None:
        stream = self._make()
        try:
            async for delta in stream:
                self._queue.put(delta)
            return stream.result
        finally:
            await stream.aclose()
            self._queue.put(_DONE)

    def close(self) -> None:
        self._finished = True
        if self._future is not None and not self._future.done():
            self._future.cancel()
            # The pump's cleanup (closing the attempt: its ledger row) runs on the loop
            # thread; wait for its sentinel so that what follows sees the ledger complete.
            deadline = time.monotonic() + _CLOSE_WAIT_S
            while (left := deadline - time.monotonic()) > 0:
                try:
                    if self._queue.get(timeout=left) is _DONE:
                        break
                except queue.Empty:
                    break

    def __enter__(self) -> SyncResponseStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
