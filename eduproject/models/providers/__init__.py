"""Providers: one class per wire protocol, all behind :class:`Provider`.

The registry is a value: :func:`default_provider_factories` maps the ``provider`` name
used in ``eduproject.toml`` to a factory, and :func:`build_providers` makes one provider
per configured route (keys read from the environment here, and nowhere else)::

    providers = build_providers(config.routes)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import httpx

from eduproject.errors import ConfigError
from eduproject.models.config import RouteConfig
from eduproject.models.keys import resolve_api_key
from eduproject.models.providers.base import Chunk, GenerationParams, Provider
from eduproject.models.providers.edenai import EdenAIProvider
from eduproject.models.providers.local import LocalProvider
from eduproject.models.providers.openai import OpenAIProvider
from eduproject.models.providers.replicate import ReplicateProvider
from eduproject.models.providers.tgi import TGIProvider

__all__ = [
    "Chunk",
    "GenerationParams",
    "Provider",
    "ProviderFactory",
    "build_providers",
    "default_provider_factories",
]

ProviderFactory = Callable[[RouteConfig, "httpx.AsyncBaseTransport | None"], Provider]


def _http(
    cls: type[OpenAIProvider] | type[TGIProvider] | type[ReplicateProvider],
) -> ProviderFactory:
    def make(route: RouteConfig, transport: httpx.AsyncBaseTransport | None) -> Provider:
        return cls(route, resolve_api_key(route), transport=transport)

    return make


def _local(route: RouteConfig, transport: httpx.AsyncBaseTransport | None) -> Provider:
    return LocalProvider(route)


def default_provider_factories() -> dict[str, ProviderFactory]:
    return {
        "openai": _http(OpenAIProvider),
        "edenai": _http(EdenAIProvider),
        "tgi": _http(TGIProvider),
        "replicate": _http(ReplicateProvider),
        "local": _local,
    }


def build_providers(
    routes: Iterable[RouteConfig],
    *,
    factories: Mapping[str, ProviderFactory] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> dict[str, Provider]:
    """One provider per route, keyed by route name."""
    factories = factories or default_provider_factories()
    providers: dict[str, Provider] = {}
    for route in routes:
        factory = factories.get(route.provider)
        if factory is None:
            raise ConfigError(
                f"route {route.name!r}: no provider named {route.provider!r}",
                hint=f"known providers: {', '.join(sorted(factories))}",
            )
        providers[route.name] = factory(route, transport)
    return providers
