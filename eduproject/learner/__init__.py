"""What runs on the learner's side: in the kernel, and in the learner's Jupyter server.

``check`` runs an exercise's visible tests in the kernel; ``panel`` and ``start`` show the
tutor panel (``widgets.py`` over ``panel_controller.py``); ``enable_error_help`` adds the
"Explain this error" button (``errorhook.py``); ``make_tutor`` picks the class gateway
(``gateway_client.py``) or the in-kernel tutor. In the Jupyter server: the inline completer's
handlers (``completion_server.py``) and the hook that keeps a reopened notebook calm
(``jupyter_server.py``)::

    import eduproject
    eduproject.check("sum_evens")      # eduproject.learner.check.check
    eduproject.panel("sum_evens")      # eduproject.learner.panel

Names are imported on first use: ``check`` loads neither the tutor, the router nor httpx
(tests/test_layers.py). Modules not named here are internal.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from eduproject.learner.check import CheckResult
    from eduproject.learner.errorhook import enable_error_help
    from eduproject.learner.gateway_client import GatewayTutor, find_gateway
    from eduproject.learner.tutoring import make_tutor
    from eduproject.learner.widgets import Panel, panel, start

_EXPORTS = {
    "CheckResult": "eduproject.learner.check",
    "GatewayTutor": "eduproject.learner.gateway_client",
    "Panel": "eduproject.learner.widgets",
    "enable_error_help": "eduproject.learner.errorhook",
    "find_gateway": "eduproject.learner.gateway_client",
    "make_tutor": "eduproject.learner.tutoring",
    "panel": "eduproject.learner.widgets",
    "start": "eduproject.learner.widgets",
}

__all__ = [
    "CheckResult",
    "GatewayTutor",
    "Panel",
    "enable_error_help",
    "find_gateway",
    "make_tutor",
    "panel",
    "start",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'eduproject.learner' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
