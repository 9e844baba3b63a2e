"""The tutor a learner's kernel uses: the class gateway's, or its own.

``make_tutor`` is how the panel gets its tutor: the class gateway when one is configured
(``EDUPROJECT_TUTOR_URL`` and ``EDUPROJECT_TUTOR_TOKEN``), or when the kernel runs on a
JupyterHub that has the gateway as its ``eduproject-tutor`` service (found through the hub's
API, with the server's own hub token), else the in-kernel tutor and router from
``eduproject.toml``::

    from eduproject.learner import make_tutor
    tutor = make_tutor(LessonPack.find())
    reply = tutor.hint("sum_evens", code, results, level=1)

The gateway client (and httpx) is imported only when a gateway may be configured.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from eduproject.core.pack import LessonPack
    from eduproject.learner.gateway_client import GatewayTutor
    from eduproject.tutor.tutor import Tutor

__all__ = ["make_tutor"]


def make_tutor(
    pack: LessonPack | None = None, course_dir: Path | None = None
) -> Tutor | GatewayTutor:
    """A :class:`~eduproject.learner.gateway_client.GatewayTutor` when a gateway is found
    (:func:`eduproject.learner.gateway_client.find_gateway`), else ``Tutor.from_config(pack,
    course_dir)``. Both have the same methods and return the same replies."""
    if os.environ.get("EDUPROJECT_TUTOR_URL") or os.environ.get("JUPYTERHUB_API_TOKEN"):
        from eduproject.learner.gateway_client import GatewayTutor, find_gateway

        found = find_gateway()
        if found is not None:
            return GatewayTutor(pack, url=found[0], token=found[1])
    from eduproject.tutor.tutor import Tutor

    return Tutor.from_config(pack, course_dir)
