"""LTI 1.3 grade passback: the tool's keys (``keys.py``), the LMS's services (``platform.py``)
and ``eduproject lti sync`` (``sync.py``). See docs/classroom.md.

Modules not named here are internal. Names are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from eduproject.lti.keys import SigningKey, make_keys
    from eduproject.lti.sync import SyncReport, sync_lesson

_EXPORTS = {
    "SigningKey": "eduproject.lti.keys",
    "SyncReport": "eduproject.lti.sync",
    "make_keys": "eduproject.lti.keys",
    "sync_lesson": "eduproject.lti.sync",
}

__all__ = [
    "SigningKey",
    "SyncReport",
    "make_keys",
    "sync_lesson",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'eduproject.lti' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
