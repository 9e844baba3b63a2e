"""The course's AI policy: which help learners get, per course, lesson and exercise.

Settings come from ``[policy]`` in ``eduproject.toml`` (the course) and from ``ai-policy``
cells in a lesson's source notebook (the lesson, or one exercise); release writes the
policy in force for each exercise into ``lesson.json``. See docs/format.md, "AI policy"::

    from eduproject.core.lesson import lesson_policies
    from eduproject.core.policy import course_layer
    lesson_policy, per_exercise = lesson_policies(lesson, course_layer(config))
    per_exercise["sum_evens"].refusal("hint", checks=0)
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from eduproject.config import Section, Table, read_section
from eduproject.core.policy.model import (
    ACTION_LABELS,
    ACTIONS,
    AI_ACTIONS,
    LAYER_KEYS,
    MAX_HINT_LEVEL,
    Action,
    AiPolicy,
    PolicyLayer,
    resolve,
)
from eduproject.core.policy.parse import PolicyProblem, layer_from_cell, layer_from_table
from eduproject.errors import ConfigError


class CourseSettings(Protocol):
    """What :func:`course_layer` reads of a course's settings (``eduproject.toml``): the tables
    of other areas (a :class:`~eduproject.config.Tables` names the file in messages)."""

    @property
    def other(self) -> Mapping[str, Any]: ...


__all__ = [
    "ACTIONS",
    "ACTION_LABELS",
    "AI_ACTIONS",
    "LAYER_KEYS",
    "MAX_HINT_LEVEL",
    "Action",
    "AiPolicy",
    "CourseSettings",
    "PolicyLayer",
    "PolicyProblem",
    "course_layer",
    "layer_from_cell",
    "layer_from_table",
    "resolve",
]


def _read_table(t: Table, course_dir: Path) -> PolicyLayer:
    """The ``[policy]`` section's reader: the same settings as an ``ai-policy`` cell."""
    try:
        return layer_from_table(t.take_rest())
    except PolicyProblem as exc:
        raise ConfigError(f"{t.place()}: {exc.problem}", hint=exc.fix) from None


# The course's [policy] table of eduproject.toml, read through eduproject.config.
SECTION = Section("policy", _read_table)


def course_layer(config: CourseSettings | None) -> PolicyLayer:
    """The course's ``[policy]`` table (ConfigError naming the file and the setting when it
    is wrong)."""
    return read_section(config.other if config is not None else {}, SECTION, Path())
