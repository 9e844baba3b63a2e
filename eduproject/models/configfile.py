"""Reading model access's tables of one configuration file into a validated :class:`Layer`.

Every table is read through :class:`eduproject.config.Table`, which type-checks each key it
is asked for and rejects whatever is left, naming the file, the table and the key. A route's
provider is looked up in the :class:`~eduproject.models.registry.Registry` (plugins
included): the provider's spec says which keys the route needs and which ``extra`` options
it takes. Merging layers (user file, course file, environment) is
:func:`eduproject.models.config.load_config`'s job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eduproject.config import ConfigFile, Table
from eduproject.errors import ConfigError
from eduproject.models.registry import ProviderSpec, Registry
from eduproject.models.settings import ALL_TASKS, RouteConfig, Timeouts

_ROUTE_KEYS = (
    "name",
    "provider",
    "model",
    "family",
    "base_url",
    "api_key_env",
    "keyring_service",
    "model_path",
    "display_name",
    "chat",
    "stream",
    "context_window",
    "timeouts",
    "retries",
    "backoff_s",
    "max_retry_wait_s",
    "cooldown_s",
    "price_per_million_input",
    "price_per_million_output",
    "price_per_second",
    "cache",
    "extra",
)


def _parse_route(raw: Any, path: Path, index: int, registry: Registry) -> RouteConfig:
    where = f"{path}: [[routes]] entry {index + 1}"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a table", hint="write it as [[routes]] with keys")
    t = Table(raw, where)
    name = t.get("name", str)
    if not name:
        raise ConfigError(f"{where}: missing key 'name'", hint='add name = "my-route"')
    t.where = where = f"{path}: [[routes]] {name!r}"
    provider = t.get("provider", str)
    spec = registry.provider(provider, where=where)
    families = registry.families
    family = t.get("family", str, "")
    if family not in families:
        raise ConfigError(
            f"{where}: key 'family' must be one of {', '.join(families)}, not {family!r}",
            hint="name the model family so prompts are rendered in its own template",
        )
    base_url = t.get("base_url", str, spec.default_base_url)
    if "base_url" in spec.requires and not base_url:
        raise ConfigError(
            f"{where}: missing key 'base_url'",
            hint='for example base_url = "http://127.0.0.1:8000/v1"',
        )
    model_path_raw = t.get("model_path", str)
    model_path = (path.parent / model_path_raw).expanduser() if model_path_raw else None
    if "model_path" in spec.requires and model_path is None:
        raise ConfigError(
            f"{where}: missing key 'model_path' (a .gguf file)",
            hint="download one with `eduproject model pull starcoder2-3b`",
        )
    model = t.get("model", str, "")
    if not model and model_path is not None:
        model = model_path.stem
    if not model:
        raise ConfigError(
            f"{where}: missing key 'model'", hint='for example model = "bigcode/starcoder2-3b"'
        )
    timeouts = _parse_timeouts(t.get("timeouts", dict, {}), where)
    extra = _parse_extra(spec, t.get("extra", dict, {}), where)
    retries = t.get("retries", int, 2)
    context_window = t.get("context_window", int)
    route = RouteConfig(
        name=name,
        provider=provider,
        model=model,
        family=family,
        base_url=base_url.rstrip("/") if base_url else None,
        api_key_env=t.get("api_key_env", str),
        keyring_service=t.get("keyring_service", str),
        model_path=model_path,
        display_name=t.get("display_name", str),
        chat=t.get("chat", bool),
        stream=t.get("stream", bool, True),
        context_window=context_window,
        timeouts=timeouts,
        retries=max(0, retries),
        backoff_s=t.number("backoff_s", 0.5),
        max_retry_wait_s=t.number("max_retry_wait_s", 10.0),
        cooldown_s=t.number("cooldown_s", 30.0),
        price_per_million_input=t.number("price_per_million_input"),
        price_per_million_output=t.number("price_per_million_output"),
        price_per_second=t.number("price_per_second"),
        cache=t.get("cache", bool, True),
        extra=extra,
        source=str(path),
    )
    t.done(_ROUTE_KEYS)
    if (route.price_per_million_input is None) != (route.price_per_million_output is None):
        raise ConfigError(
            f"{where}: set both price_per_million_input and price_per_million_output",
            hint="a route with only one token price would be recorded as unpriced",
        )
    return route


def _parse_timeouts(raw: dict[str, Any], where: str) -> Timeouts:
    t = Table(raw, f"{where}, table 'timeouts'")
    defaults = Timeouts()
    result = Timeouts(
        connect=t.number("connect", defaults.connect, minimum=0.001),
        first_token=t.number("first_token", defaults.first_token, minimum=0.001),
        total=t.number("total", defaults.total, minimum=0.001),
    )
    t.done(("connect", "first_token", "total"))
    return result


def _parse_extra(spec: ProviderSpec, raw: dict[str, Any], where: str) -> dict[str, Any]:
    """The route's ``extra`` table, checked against the provider's own option schema."""
    t = Table(raw, f"{where}, table 'extra' (provider {spec.name})")
    extra = {key: t.get(key, kind) for key, kind in spec.options.items() if t.has(key)}
    t.done(tuple(spec.options))
    if spec.check_options is not None:
        spec.check_options(extra, where)
    return extra


@dataclass
class Layer:
    """What one file says about model access, validated but not yet merged."""

    path: Path
    routes: list[RouteConfig] = field(default_factory=list)
    tasks: dict[str, tuple[str, ...]] = field(default_factory=dict)
    tutor_routes: tuple[str, ...] | None = None
    cache: dict[str, Any] = field(default_factory=dict)
    ledger_path: Path | None = None


def read_layer(file: ConfigFile, registry: Registry) -> Layer:
    """Model access's part of one file: ``[[routes]]``, ``[tasks]``, ``[cache]``,
    ``[ledger]``, and the route lists that are the router's task routes (``[tutor] routes``,
    ``[bench] routes``, ``[complete] routes``). The other keys of ``[tutor]`` and
    ``[complete]`` are the tutor's and the inline completer's sections
    (:mod:`eduproject.tutor.settings`, :mod:`eduproject.completion.settings`)."""
    path = file.path
    layer = Layer(path)
    top = Table(file.tables, f"{path}: top level")
    routes = top.get("routes", list, [])
    layer.routes = [_parse_route(r, path, i, registry) for i, r in enumerate(routes)]
    names = [r.name for r in layer.routes]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate:
        raise ConfigError(f"{path}: two [[routes]] are named {duplicate!r}", hint="rename one")
    tasks = Table(top.get("tasks", dict, {}), f"{path}: table [tasks]")
    for task in ALL_TASKS:
        value = tasks.strings(task)
        if value is not None:
            layer.tasks[task] = value
    tasks.done(ALL_TASKS)
    layer.tutor_routes = _route_list(top, "tutor", path)
    bench = Table(top.get("bench", dict, {}), f"{path}: table [bench]")
    if bench.has("routes"):
        layer.tasks.setdefault("completion", bench.strings("routes") or ())
    bench.done(("routes",))
    complete = _route_list(top, "complete", path)
    if complete is not None:
        layer.tasks.setdefault("complete", complete)
    cache = Table(top.get("cache", dict, {}), f"{path}: table [cache]")
    if cache.has("enabled"):
        layer.cache["enabled"] = cache.get("enabled", bool)
    if cache.has("ttl_s"):
        layer.cache["ttl_s"] = cache.number("ttl_s")
    if cache.has("path"):
        layer.cache["path"] = (path.parent / cache.get("path", str)).expanduser()
    cache.done(("enabled", "ttl_s", "path"))
    ledger = Table(top.get("ledger", dict, {}), f"{path}: table [ledger]")
    if ledger.has("path"):
        layer.ledger_path = (path.parent / ledger.get("path", str)).expanduser()
    ledger.done(("path",))
    return layer


def _route_list(top: Table, name: str, path: Path) -> tuple[str, ...] | None:
    """The ``routes`` of a table shared with another area (whose keys are left to it)."""
    raw = top.get(name, dict, {})
    return Table(raw, f"{path}: table [{name}]").strings("routes") if "routes" in raw else None
