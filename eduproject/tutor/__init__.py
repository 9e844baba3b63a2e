"""The tutor: hints, explanations and answers with guards, quotas and an offline tutor.

The in-kernel tutor and the class gateway both answer with :class:`Tutor` (``tutor.py``): the
model through the router, checked by the guards (``guards.py``, over the solution
fingerprints of :mod:`eduproject.core.fingerprints`), else the instructor's hints, else the
offline tutor (``offline.py``). ``wire.py`` is the tutor protocol between the gateway and its
client. The learner's kernel picks a tutor with :func:`eduproject.learner.make_tutor`::

    from eduproject.tutor import Tutor
    tutor = Tutor.from_config(LessonPack.find())
    reply = tutor.hint("sum_evens", code, results, level=1)

Nothing here grades: the tutor reads ``lesson.json`` and runs a hint's code only through the
runner. Modules not named here are internal. Names are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from eduproject.tutor.guards import GuardVerdict, check_leak, check_reply
    from eduproject.tutor.quota import Quota
    from eduproject.tutor.tutor import Tutor, TutorReply

_EXPORTS = {
    "GuardVerdict": "eduproject.tutor.guards",
    "Quota": "eduproject.tutor.quota",
    "Tutor": "eduproject.tutor.tutor",
    "TutorReply": "eduproject.tutor.tutor",
    "check_leak": "eduproject.tutor.guards",
    "check_reply": "eduproject.tutor.guards",
}

__all__ = [
    "GuardVerdict",
    "Quota",
    "Tutor",
    "TutorReply",
    "check_leak",
    "check_reply",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'eduproject.tutor' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
