"""A GGUF model in this process through llama-cpp-python (extra ``eduproject[local]``).

The model loads once per process per (file, context size) and stays cached: loading the
bundled SmolLM2 takes a fraction of a second, a 3B StarCoder2 several seconds. llama.cpp
generates in a worker thread; tokens cross into the event loop through a queue, so a
notebook stays responsive and the router's timeouts still apply. One generation runs at a
time per model (a llama.cpp context is not thread-safe).
"""

from __future__ import annotations

import asyncio
import atexit
import importlib
import os
import threading
from collections.abc import AsyncGenerator, Callable, Iterator
from pathlib import Path
from typing import Any

from eduproject.errors import RouteError, RouteErrorKind
from eduproject.models.config import RouteConfig
from eduproject.models.families import RenderedPrompt
from eduproject.models.providers.base import Chunk, EndpointKind, GenerationParams
from eduproject.models.types import Usage

Loader = Callable[[Path, int, int | None, int], Any]

_models: dict[tuple[str, int], tuple[Any, threading.Lock]] = {}
_models_lock = threading.Lock()
_END = object()


@atexit.register
def _close_models() -> None:
    # Free llama.cpp contexts while the library is still loaded; left to garbage
    # collection at interpreter exit they fail noisily ("Exception ignored in __del__").
    with _models_lock:
        for llm, _lock in _models.values():
            llm.close()
        _models.clear()


def load_llama(path: Path, n_ctx: int, n_threads: int | None, n_gpu_layers: int) -> Any:
    """Open a GGUF file with llama-cpp-python (quietly)."""
    llama_cpp = importlib.import_module("llama_cpp")
    return llama_cpp.Llama(
        model_path=str(path),
        n_ctx=n_ctx,
        n_threads=n_threads or os.cpu_count() or 1,
        n_gpu_layers=n_gpu_layers,
        verbose=False,
    )


class LocalProvider:
    """In-process generation; ``count_tokens`` uses the model's own tokenizer."""

    endpoint_kinds: frozenset[EndpointKind] = frozenset({"chat", "raw"})
    has_tokenizer = True

    def __init__(self, route: RouteConfig, *, loader: Loader = load_llama) -> None:
        self.route = route
        self._loader = loader
        self.n_ctx = int(route.extra.get("n_ctx", min(route.context_window or 4096, 4096)))
        self.context_limit: int | None = self.n_ctx

    def secrets(self) -> tuple[str, ...]:
        return ()

    async def aclose(self) -> None:
        # The model stays cached for the process: other routers may share it.
        return None

    def model(self) -> tuple[Any, threading.Lock]:
        """The loaded model and its lock (loads on first use)."""
        path = self.route.model_path
        if path is None or not path.is_file():
            raise RouteError(
                self.route.name,
                RouteErrorKind.UNAVAILABLE,
                f"model file {path} not found",
                hint="download one with `eduproject model pull starcoder2-3b` or fix model_path",
            )
        key = (str(path.resolve()), self.n_ctx)
        with _models_lock:
            if key not in _models:
                try:
                    llm = self._loader(
                        path,
                        self.n_ctx,
                        self.route.extra.get("n_threads"),
                        int(self.route.extra.get("n_gpu_layers", 0)),
                    )
                except ImportError:
                    raise RouteError(
                        self.route.name,
                        RouteErrorKind.UNAVAILABLE,
                        "llama-cpp-python is not installed",
                        hint="pip install 'eduproject[local]'",
                    ) from None
                except (ValueError, RuntimeError) as exc:
                    raise RouteError(
                        self.route.name,
                        RouteErrorKind.UNAVAILABLE,
                        f"llama.cpp cannot load {path.name}: {exc}",
                        hint="check that the file is a complete GGUF model",
                    ) from None
                _models[key] = (llm, threading.Lock())
            return _models[key]

    def count_tokens(self, text: str) -> int | None:
        llm, _ = self.model()
        return len(llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    async def stream(
        self, rendered: RenderedPrompt, params: GenerationParams
    ) -> AsyncGenerator[Chunk]:
        loop = asyncio.get_running_loop()
        llm, lock = await asyncio.to_thread(self.model)
        queue: asyncio.Queue[Any] = asyncio.Queue()
        cancelled = threading.Event()

        def put(item: Any) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, item)

        def work() -> None:
            try:
                with lock:
                    for part in self._generate(llm, rendered, params):
                        if cancelled.is_set():
                            break
                        put(part)
                put(_END)
            except Exception as exc:  # llama.cpp errors come back to the router as values
                put(exc)

        worker = loop.run_in_executor(None, work)
        text_parts: list[str] = []
        finish: str | None = None
        try:
            while True:
                item = await queue.get()
                if item is _END:
                    break
                if isinstance(item, Exception):
                    raise RouteError(
                        self.route.name, RouteErrorKind.UNAVAILABLE, f"llama.cpp failed: {item}"
                    )
                text, finish_part = _part_text(item)
                finish = finish_part or finish
                if text:
                    text_parts.append(text)
                    yield Chunk(text=text)
        finally:
            # Stop the worker at its next token if the router gave up on this stream.
            cancelled.set()
        await worker
        prompt_text = rendered.prompt if rendered.prompt is not None else rendered.text()
        yield Chunk(
            final=True,
            finish_reason=finish,
            usage=Usage(
                prompt_tokens=len(
                    llm.tokenize(prompt_text.encode("utf-8"), add_bos=True, special=True)
                ),
                completion_tokens=len(
                    llm.tokenize("".join(text_parts).encode("utf-8"), add_bos=False, special=True)
                ),
            ),
            model=self.route.model,
        )

    def _generate(
        self, llm: Any, rendered: RenderedPrompt, params: GenerationParams
    ) -> Iterator[Any]:
        common: dict[str, Any] = {
            "max_tokens": params.max_tokens,
            "temperature": params.temperature,
            "stop": list(params.stop),
            "stream": True,
        }
        if params.seed is not None:
            common["seed"] = params.seed
        if rendered.messages is not None:
            return iter(llm.create_chat_completion(messages=rendered.message_dicts(), **common))
        return iter(llm.create_completion(prompt=rendered.prompt or "", **common))


def _part_text(part: Any) -> tuple[str, str | None]:
    choices = part.get("choices") or [{}]
    first = choices[0]
    text = first.get("text")
    if text is None:
        text = (first.get("delta") or {}).get("content")
    return text or "", first.get("finish_reason")
