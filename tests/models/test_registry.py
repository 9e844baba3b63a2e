"""The provider and family registry: built-ins and plugins alike, passed as a value."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from dataclasses import replace
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest

from eduproject.errors import ConfigError
from eduproject.models.config import load_config
from eduproject.models.families import ModelFamily, RenderedPrompt, default_families
from eduproject.models.providers.base import Chunk, EndpointKind, GenerationParams
from eduproject.models.registry import ENTRY_POINT_GROUP, ProviderSpec, Registry
from eduproject.models.router import Router
from eduproject.models.settings import RouteConfig
from eduproject.models.types import ModelRequest

BUILTIN = ["openai", "tgi", "edenai", "replicate", "local"]


class Reverse:
    """An in-process provider: the last message, reversed word by word."""

    endpoint_kinds: frozenset[EndpointKind] = frozenset({"chat"})
    has_tokenizer = False
    context_limit: int | None = None

    def __init__(self, route: RouteConfig, api_key: str | None, **_: Any) -> None:
        self.route = route

    async def stream(
        self, rendered: RenderedPrompt, params: GenerationParams
    ) -> AsyncGenerator[Chunk]:
        assert rendered.messages is not None
        words = rendered.messages[-1].content.split()
        yield Chunk(text=self.route.extra.get("prefix", "") + " ".join(reversed(words)))
        yield Chunk(final=True, finish_reason="stop")

    def count_tokens(self, text: str) -> int | None:
        return None

    def secrets(self) -> tuple[str, ...]:
        return ()

    async def aclose(self) -> None:
        return None


def register_reverse(registry: Registry) -> None:
    registry.add_provider(ProviderSpec("reverse", Reverse, options={"prefix": str}))
    registry.add_family(
        ModelFamily("plain", "plain chat", 2048, chat=True, stop=(), leak_tokens=())
    )


def write(course: Path, text: str) -> Path:
    course.mkdir(exist_ok=True)
    path = course / "eduproject.toml"
    path.write_text(text, encoding="utf-8")
    return course


ROUTE = """\
[[routes]]
name = "rev"
provider = "reverse"
model = "rev-1"
family = "plain"
"""


def test_the_builtin_registry_holds_the_builtin_providers_and_families() -> None:
    registry = Registry.builtin()
    assert list(registry.providers) == BUILTIN
    assert set(registry.families) == set(default_families())
    assert registry.providers["edenai"].default_base_url == "https://api.edenai.run/v3"
    assert registry.providers["local"].requires == ("model_path",)
    assert registry.plugin_errors == []


def test_a_provider_registered_by_value_is_configured_and_serves_requests(
    tmp_path: Path,
) -> None:
    registry = Registry.builtin()
    register_reverse(registry)
    course = write(tmp_path / "course", ROUTE + 'extra = { prefix = "> " }\n')
    config = load_config(course, registry=registry)
    assert config.route("rev").extra == {"prefix": "> "}
    config = replace(config, cache_enabled=False)
    with Router.from_config(config) as router:
        reply = router.complete_sync(ModelRequest(task="ask", instruction="one two three"))
    assert (reply.text, reply.route) == ("> three two one", "rev")


def test_the_provider_owns_its_option_schema(tmp_path: Path) -> None:
    registry = Registry.builtin()
    register_reverse(registry)
    course = write(tmp_path / "course", ROUTE + "extra = { prefix = 3 }\n")
    with pytest.raises(ConfigError, match=r"'prefix' must be a string, not 3"):
        load_config(course, registry=registry)
    write(course, ROUTE + "extra = { suffix = '!' }\n")
    with pytest.raises(ConfigError) as info:
        load_config(course, registry=registry)
    assert "table 'extra' (provider reverse): unknown key 'suffix'" in str(info.value)
    assert "known keys here: prefix" in str(info.value)


def test_without_the_registration_the_provider_and_family_are_unknown(tmp_path: Path) -> None:
    course = write(tmp_path / "course", ROUTE)
    with pytest.raises(ConfigError, match="must be one of openai, tgi, edenai, replicate, local"):
        load_config(course, registry=Registry.builtin())


def test_plugins_load_from_entry_points_and_a_broken_one_is_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    points = [
        # eduproject's own hooks are in the same group; they are not called twice.
        EntryPoint("builtin-providers", "eduproject.models.providers:register", ENTRY_POINT_GROUP),
        EntryPoint("reverse", f"{__name__}:register_reverse", ENTRY_POINT_GROUP),
        EntryPoint("gone", "no_such_plugin_module:register", ENTRY_POINT_GROUP),
        EntryPoint("twice", f"{__name__}:register_reverse", ENTRY_POINT_GROUP),
    ]
    with caplog.at_level(logging.WARNING, logger="eduproject.models"):
        registry = Registry.builtin().load_plugins(points)
    assert list(registry.providers) == [*BUILTIN, "reverse"]
    assert "plain" in registry.families
    assert len(registry.plugin_errors) == 2
    assert "plugin 'gone' (no_such_plugin_module:register" in registry.plugin_errors[0]
    assert "ModuleNotFoundError" in registry.plugin_errors[0]
    assert "provider 'reverse' is registered twice" in registry.plugin_errors[1]
    assert "plugin 'gone'" in caplog.text
    # A route naming a provider we lack says why a plugin may be missing.
    course = write(tmp_path / "course", ROUTE.replace('"reverse"', '"gone"'))
    with pytest.raises(ConfigError) as info:
        load_config(course, registry=registry)
    assert "no_such_plugin_module" in str(info.value)


def test_registering_a_taken_name_is_refused() -> None:
    registry = Registry.builtin()
    with pytest.raises(ConfigError, match="provider 'openai' is registered twice"):
        registry.add_provider(ProviderSpec("openai", Reverse))
    with pytest.raises(ConfigError, match="family 'starcoder2' is registered twice"):
        registry.add_family(default_families()["starcoder2"])


def test_a_factory_that_fails_is_a_config_error_without_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(route: RouteConfig, api_key: str | None, **_: Any) -> Reverse:
        raise ValueError(f"cannot log in with {api_key}")

    registry = Registry.builtin()
    register_reverse(registry)
    registry.add_provider(ProviderSpec("broken", broken))
    monkeypatch.setenv("BROKEN_KEY", "sk-BROKEN-93d1f0a7")
    route = ROUTE.replace('"reverse"', '"broken"') + 'api_key_env = "BROKEN_KEY"\n'
    config = load_config(write(tmp_path / "course", route), registry=registry)
    with pytest.raises(ConfigError) as info:
        Router.from_config(config)
    message = str(info.value)
    assert "route 'rev': provider 'broken' cannot be set up: ValueError" in message
    assert "sk-BROKEN" not in message and "[redacted]" in message
