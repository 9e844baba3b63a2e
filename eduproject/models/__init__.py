"""Model access: one router through which every model call of eduproject goes.

    from eduproject.models import ModelRequest, Router, load_config

    router = Router.from_config(load_config(course_dir))
    answer = router.complete_sync(ModelRequest(task="hint", instruction="...", context=code))
    print(answer.text, answer.label)

See docs/models.md for configuration, providers, families, the ledger, and how to write a
provider (a :class:`ProviderSpec` registered through the ``eduproject.providers`` entry point).
"""

from __future__ import annotations

from eduproject.models.config import (
    OFFLINE,
    Config,
    RouteConfig,
    Timeouts,
    TutorConfig,
    find_bundled_smollm2,
    load_config,
)
from eduproject.models.families import ModelFamily, RenderedPrompt, default_families
from eduproject.models.ledger import Attempt, Ledger, SummaryRow
from eduproject.models.registry import ProviderSpec, Registry, default_registry
from eduproject.models.router import Router
from eduproject.models.streams import ResponseStream, SyncResponseStream
from eduproject.models.types import ModelRequest, ModelResponse, Usage

__all__ = [
    "OFFLINE",
    "Attempt",
    "Config",
    "Ledger",
    "ModelFamily",
    "ModelRequest",
    "ModelResponse",
    "ProviderSpec",
    "Registry",
    "RenderedPrompt",
    "ResponseStream",
    "RouteConfig",
    "Router",
    "SummaryRow",
    "SyncResponseStream",
    "Timeouts",
    "TutorConfig",
    "Usage",
    "default_families",
    "default_registry",
    "find_bundled_smollm2",
    "load_config",
]
