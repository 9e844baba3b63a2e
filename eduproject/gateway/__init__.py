"""The class gateway: one tutor service for a class, with tokens, allowances and the
instructor's view (docs/gateway.md).

``TutorService`` (``service.py``) answers the tutor protocol (:mod:`eduproject.tutor.wire`)
over HTTP (``create_app`` in ``app.py``, served by ``serve`` in ``server.py``); learners reach
it through :class:`eduproject.learner.GatewayTutor`::

    from eduproject.gateway import TutorService, create_app

Modules not named here are internal. Names are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from eduproject.gateway.app import create_app
    from eduproject.gateway.server import make_server, serve
    from eduproject.gateway.service import TutorService

_EXPORTS = {
    "TutorService": "eduproject.gateway.service",
    "create_app": "eduproject.gateway.app",
    "make_server": "eduproject.gateway.server",
    "serve": "eduproject.gateway.server",
}

__all__ = [
    "TutorService",
    "create_app",
    "make_server",
    "serve",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'eduproject.gateway' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
