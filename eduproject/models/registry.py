"""The registry of providers and model families: a value, filled by the same hook for all.

A provider is named in ``eduproject.toml`` (``provider = "openai"``); a :class:`ProviderSpec`
says everything eduproject needs to know about that name: which ``extra`` options a route
may set (and their types), which route keys it requires, its default ``base_url``, and the
factory that makes the provider object. Configuration parsing asks the registry, the
router builds providers through it; nothing else lists provider names.

Built-ins and plugins register the same way: a function ``register(registry)`` that calls
:meth:`Registry.add_provider` and :meth:`Registry.add_family`. Plugins publish it as an
entry point of the group ``eduproject.providers`` (docs/models.md, "Writing a provider")::

    [project.entry-points."eduproject.providers"]
    echo = "eduproject_echo:register"

:func:`default_registry` builds a fresh registry each time (built-ins, then every
installed plugin); tests and embedders build their own::

    registry = Registry.builtin()
    registry.add_provider(ProviderSpec("mock", factory=MockProvider))
    config = load_config(course_dir, registry=registry)
"""

from __future__ import annotations

import importlib.metadata
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from eduproject.errors import ConfigError
from eduproject.models.families import ModelFamily
from eduproject.models.settings import Config, RouteConfig

if TYPE_CHECKING:
    import httpx

    from eduproject.models.providers.base import Provider

__all__ = [
    "ENTRY_POINT_GROUP",
    "OptionKind",
    "ProviderFactory",
    "ProviderSpec",
    "RegisterHook",
    "Registry",
    "default_registry",
    "registry_for",
]

log = logging.getLogger("eduproject.models")

ENTRY_POINT_GROUP = "eduproject.providers"
# The types a route's ``extra`` option may take: TOML values only.
OptionKind = type | tuple[type, ...]
RequiredKey = Literal["base_url", "model_path"]


class ProviderFactory(Protocol):
    """Makes the provider of one route. ``api_key`` is the route's key (None without one),
    read by the registry -- a provider never reads the environment itself. The classes of
    the HTTP providers are factories as they are (``HttpProvider(route, key, transport=...)``).
    """

    def __call__(
        self,
        route: RouteConfig,
        api_key: str | None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> Provider: ...


@dataclass(frozen=True)
class ProviderSpec:
    """One provider name and all eduproject needs to know about it.

    ``options`` is the schema of the route's ``extra`` table (unknown keys and wrong types
    are rejected with the file, table and key); ``check_options(extra, where)`` may reject
    values the types let through, raising :class:`ConfigError` with ``where`` in its message.
    """

    name: str
    factory: ProviderFactory
    options: Mapping[str, OptionKind] = field(default_factory=dict)
    requires: tuple[RequiredKey, ...] = ()
    default_base_url: str | None = None
    check_options: Callable[[Mapping[str, Any], str], None] | None = None
    description: str = ""


# A plugin's (or the built-ins') entry point: it adds providers and families to the registry.
RegisterHook = Callable[["Registry"], None]

# The built-in hooks, also published as entry points (pyproject.toml). They are called
# directly, so a source checkout that is not installed still has its providers.
_BUILTIN_HOOKS = (
    "eduproject.models.providers:register",
    "eduproject.models.families:register",
)


class Registry:
    """Providers and families by name. Empty when constructed; see :meth:`builtin`."""

    def __init__(self) -> None:
        self._providers: dict[str, ProviderSpec] = {}
        self._families: dict[str, ModelFamily] = {}
        self._origin: dict[str, str] = {}
        # Plugins that could not be loaded: said when a route names a provider we lack.
        self.plugin_errors: list[str] = []

    # -- filling -----------------------------------------------------------------------

    def add_provider(self, spec: ProviderSpec) -> None:
        """Register ``spec``; a name already taken is a :class:`ConfigError`."""
        self._claim(f"provider {spec.name!r}", spec.name in self._providers)
        self._providers[spec.name] = spec

    def add_family(self, family: ModelFamily) -> None:
        """Register a model family (its prompt template, stop strings, leak tokens)."""
        self._claim(f"family {family.name!r}", family.name in self._families)
        self._families[family.name] = family

    def _claim(self, what: str, taken: bool) -> None:
        if taken:
            raise ConfigError(
                f"{what} is registered twice",
                hint="two installed plugins (or a plugin and eduproject) use the same name; "
                "uninstall one",
            )

    @classmethod
    def builtin(cls) -> Registry:
        """A registry holding eduproject's own providers and families only."""
        registry = cls()
        for value in _BUILTIN_HOOKS:
            module, _, name = value.partition(":")
            hook: RegisterHook = getattr(importlib.import_module(module), name)
            hook(registry)
        return registry

    def load_plugins(
        self, entry_points: Iterable[importlib.metadata.EntryPoint] | None = None
    ) -> Registry:
        """Call every ``eduproject.providers`` entry point (installed ones by default).

        A plugin that fails to load is logged and remembered (:attr:`plugin_errors`), not
        raised: one broken plugin must not take the built-in routes down with it.
        """
        if entry_points is None:
            entry_points = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
        for ep in entry_points:
            if ep.value in _BUILTIN_HOOKS:
                continue
            try:
                hook = ep.load()
                hook(self)
            except Exception as exc:  # a plugin's bug is reported, never fatal here
                dist = ep.dist.name if ep.dist is not None else "an unknown distribution"
                problem = (
                    f"plugin {ep.name!r} ({ep.value}, from {dist}) failed to load: "
                    f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                )
                log.warning("%s", problem)
                self.plugin_errors.append(problem)
        return self

    # -- reading -----------------------------------------------------------------------

    @property
    def providers(self) -> Mapping[str, ProviderSpec]:
        return dict(self._providers)

    @property
    def families(self) -> Mapping[str, ModelFamily]:
        return dict(self._families)

    def provider(self, name: str, *, where: str = "") -> ProviderSpec:
        """The spec of provider ``name``; an unknown name is a :class:`ConfigError`."""
        spec = self._providers.get(name)
        if spec is None:
            prefix = f"{where}: " if where else ""
            hint = "pick the provider that matches the server's API, or install its plugin"
            if self.plugin_errors:
                hint += "; " + "; ".join(self.plugin_errors)
            raise ConfigError(
                f"{prefix}key 'provider' must be one of {', '.join(self._providers)}, not {name!r}",
                hint=hint,
            )
        return spec

    def build(
        self,
        routes: Iterable[RouteConfig],
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> dict[str, Provider]:
        """One provider per route, keyed by route name (keys are read here, nowhere else)."""
        from eduproject.models.keys import redact, resolve_api_key

        providers: dict[str, Provider] = {}
        for route in routes:
            spec = self.provider(route.provider, where=f"route {route.name!r}")
            key = resolve_api_key(route)
            try:
                providers[route.name] = spec.factory(route, key, transport=transport)
            except Exception as exc:  # a plugin's factory: its message, never its traceback
                raise ConfigError(
                    f"route {route.name!r}: provider {spec.name!r} cannot be set up: "
                    f"{redact(f'{type(exc).__name__}: {exc}', [key] if key else [])}",
                    hint="check the route's settings, or report it to the provider's authors",
                ) from None
        return providers


def default_registry() -> Registry:
    """eduproject's providers and families plus those of every installed plugin."""
    return Registry.builtin().load_plugins()


def registry_for(config: Config) -> Registry:
    """The registry ``config`` was checked against (the default one for a hand-made Config)."""
    return config.registry if config.registry is not None else default_registry()
