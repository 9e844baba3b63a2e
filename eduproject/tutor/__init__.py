"""The tutor: hints, explanations and answers with guards, quotas and an offline tutor.

``make_tutor`` is how the panel gets its tutor: the class gateway when one is configured
(``EDUPROJECT_TUTOR_URL`` and ``EDUPROJECT_TUTOR_TOKEN``, set per learner by JupyterHub),
else the in-kernel tutor and router from ``eduproject.toml``::

    from eduproject.tutor import make_tutor
    tutor = make_tutor(LessonPack.find())
    reply = tutor.hint("sum_evens", code, results, level=1)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from eduproject.gateway.client import GatewayTutor
    from eduproject.tutor.pack import LessonPack
    from eduproject.tutor.tutor import Tutor

__all__ = ["make_tutor"]


def make_tutor(
    pack: LessonPack | None = None, course_dir: Path | None = None
) -> Tutor | GatewayTutor:
    """A :class:`~eduproject.gateway.client.GatewayTutor` when ``EDUPROJECT_TUTOR_URL`` and
    ``EDUPROJECT_TUTOR_TOKEN`` are both set, else ``Tutor.from_config(pack, course_dir)``.
    Both have the same methods and return the same replies."""
    url = os.environ.get("EDUPROJECT_TUTOR_URL", "").strip()
    token = os.environ.get("EDUPROJECT_TUTOR_TOKEN", "").strip()
    if url and token:
        from eduproject.gateway.client import GatewayTutor

        return GatewayTutor(pack, url=url, token=token)
    from eduproject.tutor.tutor import Tutor

    return Tutor.from_config(pack, course_dir)
