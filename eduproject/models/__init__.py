"""Model access: one router through which every model call of eduproject goes.

    from eduproject.models import ModelRequest, Router, load_config

    router = Router.from_config(load_config(course_dir))
    answer = router.complete_sync(ModelRequest(task="hint", instruction="...", context=code))
    print(answer.text, answer.label)

See docs/models.md for configuration, providers, families and the ledger.
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
    "find_bundled_smollm2",
    "load_config",
]
