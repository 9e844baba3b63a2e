"""Providers: one class per wire protocol, all behind :class:`Provider`.

:func:`register` is the built-in ``eduproject.providers`` hook: it puts the five built-in
providers into a :class:`~eduproject.models.registry.Registry` with their option schemas,
exactly as a plugin puts its own (docs/models.md, "Writing a provider"). Provider classes
are imported when a route needs one, so reading a configuration loads neither httpx nor
llama.cpp::

    providers = build_providers(config.routes)      # one provider per route
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from eduproject.errors import ConfigError
from eduproject.models.registry import ProviderFactory, ProviderSpec, Registry, default_registry
from eduproject.models.settings import RouteConfig

if TYPE_CHECKING:
    import httpx

    from eduproject.models.providers.base import Chunk, EndpointKind, GenerationParams, Provider

__all__ = [
    "Chunk",
    "EndpointKind",
    "GenerationParams",
    "Provider",
    "ProviderFactory",
    "build_providers",
    "register",
]

# Names re-exported from .base on first use (base imports httpx).
_FROM_BASE = ("Chunk", "EndpointKind", "GenerationParams", "Provider")


def __getattr__(name: str) -> Any:
    if name in _FROM_BASE:
        return getattr(importlib.import_module("eduproject.models.providers.base"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _lazy(module: str, cls: str) -> ProviderFactory:
    """A factory that imports ``module`` only when a route of this provider is built."""

    def make(
        route: RouteConfig,
        api_key: str | None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> Provider:
        provider_cls = getattr(
            importlib.import_module(f"eduproject.models.providers.{module}"), cls
        )
        provider: Provider = provider_cls(route, api_key, transport=transport)
        return provider

    return make


def _local(
    route: RouteConfig, api_key: str | None, *, transport: httpx.AsyncBaseTransport | None = None
) -> Provider:
    from eduproject.models.providers.local import LocalProvider

    return LocalProvider(route)


def _eden_fallbacks(extra: Mapping[str, Any], where: str) -> None:
    fallbacks = extra.get("fallbacks")
    if fallbacks is not None and (
        len(fallbacks) > 3 or not all(isinstance(f, str) for f in fallbacks)
    ):
        raise ConfigError(
            f"{where}: extra.fallbacks must list at most 3 model names",
            hint='Eden AI accepts up to 3 fallbacks, e.g. ["openai/gpt-4o-mini"]',
        )


def register(registry: Registry) -> None:
    """The built-in providers (the ``eduproject.providers`` hook of eduproject itself)."""
    registry.add_provider(
        ProviderSpec(
            "openai",
            _lazy("openai", "OpenAIProvider"),
            options={"stream_options": bool, "max_stop_strings": int},
            requires=("base_url",),
            description="OpenAI-compatible servers: vLLM, Ollama, llama.cpp, DeepInfra...",
        )
    )
    registry.add_provider(
        ProviderSpec(
            "tgi",
            _lazy("tgi", "TGIProvider"),
            options={"max_stop_strings": int},
            requires=("base_url",),
            description="Hugging Face text-generation-inference",
        )
    )
    registry.add_provider(
        ProviderSpec(
            "edenai",
            _lazy("edenai", "EdenAIProvider"),
            options={"fallbacks": list, "path": str, "max_stop_strings": int},
            default_base_url="https://api.edenai.run/v3",
            check_options=_eden_fallbacks,
            description="Eden AI's OpenAI-compatible v3 API",
        )
    )
    registry.add_provider(
        ProviderSpec(
            "replicate",
            _lazy("replicate", "ReplicateProvider"),
            options={
                "input": dict,
                "max_tokens_key": str,
                "stop_key": str,
                "wait_s": int,
                "poll_s": (int, float),
            },
            default_base_url="https://api.replicate.com/v1",
            description="Replicate's predictions API",
        )
    )
    registry.add_provider(
        ProviderSpec(
            "local",
            _local,
            options={"n_ctx": int, "n_threads": int, "n_gpu_layers": int},
            requires=("model_path",),
            description="a GGUF model in this process (llama-cpp-python)",
        )
    )


def build_providers(
    routes: Iterable[RouteConfig],
    *,
    registry: Registry | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> dict[str, Provider]:
    """One provider per route, keyed by route name (the default registry unless given)."""
    return (registry or default_registry()).build(routes, transport=transport)
