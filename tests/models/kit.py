"""Helpers for building routers in tests: routes with fast timeouts, a hand-moved clock,
recorded backoff sleeps, and a router factory on temporary ledger and cache files."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eduproject.models.cache import ResponseCache
from eduproject.models.config import Config, RouteConfig, Timeouts
from eduproject.models.families import default_families
from eduproject.models.ledger import Ledger
from eduproject.models.providers import build_providers
from eduproject.models.router import Router


def route(name: str, base_url: str | None = None, **kwargs: Any) -> RouteConfig:
    """A test route: openai provider, SmolLM2 family (ChatML), fast timeouts, no backoff."""
    defaults: dict[str, Any] = {
        "provider": "openai",
        "model": f"model-{name}",
        "family": "smollm2-instruct",
        "chat": False,
        "timeouts": Timeouts(connect=2.0, first_token=5.0, total=10.0),
        "retries": 0,
        "backoff_s": 0.01,
        "cooldown_s": 30.0,
    }
    defaults.update(kwargs)
    return RouteConfig(name=name, base_url=base_url, **defaults)


@dataclass
class FakeClock:
    """Monotonic time the test moves by hand (cooldowns)."""

    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Sleeps:
    """Records backoff delays instead of waiting them out."""

    delays: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@dataclass
class RouterKit:
    tmp: Path
    clock: FakeClock = field(default_factory=FakeClock)
    sleeps: Sleeps = field(default_factory=Sleeps)
    routers: list[Router] = field(default_factory=list)

    def __call__(
        self,
        routes: Sequence[RouteConfig],
        *,
        tasks: dict[str, tuple[str, ...]] | None = None,
        cache: bool = True,
        **config: Any,
    ) -> Router:
        cfg = Config(
            routes=tuple(routes),
            tasks=tasks or {},
            ledger_path=self.tmp / "ledger.sqlite3",
            cache_path=self.tmp / "cache.sqlite3",
            **config,
        )
        router = Router(
            cfg,
            ledger=Ledger(cfg.ledger_path),
            cache=ResponseCache(cfg.cache_path, ttl_s=cfg.cache_ttl_s) if cache else None,
            families=default_families(),
            providers=build_providers(cfg.routes),
            clock=self.clock,
            sleep=self.sleeps,
        )
        self.routers.append(router)
        return router
