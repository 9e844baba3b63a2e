"""Model access: one router through which every model call of eduproject goes.

    from eduproject.models import ModelRequest, Router, load_config

    router = Router.from_config(load_config(course_dir))
    answer = router.complete_sync(ModelRequest(task="hint", instruction="...", context=code))
    print(answer.text, answer.label)

See docs/models.md for configuration, providers, families, the ledger, and how to write a
provider (a :class:`ProviderSpec` registered through the ``eduproject.providers`` entry point).

Names are imported on first use: a module that needs one of them does not pay for the others.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_EXPORTS = {
    "OFFLINE": "eduproject.models.config",
    "Attempt": "eduproject.models.ledger",
    "Config": "eduproject.models.config",
    "Ledger": "eduproject.models.ledger",
    "ModelFamily": "eduproject.models.families",
    "ModelRequest": "eduproject.models.types",
    "ModelResponse": "eduproject.models.types",
    "ProviderSpec": "eduproject.models.registry",
    "Registry": "eduproject.models.registry",
    "RenderedPrompt": "eduproject.models.families",
    "ResponseStream": "eduproject.models.streams",
    "RouteConfig": "eduproject.models.config",
    "Router": "eduproject.models.router",
    "SummaryRow": "eduproject.models.ledger",
    "SyncResponseStream": "eduproject.models.streams",
    "Timeouts": "eduproject.models.config",
    "TutorConfig": "eduproject.models.config",
    "Usage": "eduproject.models.types",
    "default_families": "eduproject.models.families",
    "default_registry": "eduproject.models.registry",
    "find_bundled_smollm2": "eduproject.models.config",
    "load_config": "eduproject.models.config",
}

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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'eduproject.models' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
