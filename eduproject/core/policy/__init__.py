"""The course's AI policy: which help learners get, per course, lesson and exercise.

Settings come from ``[policy]`` in ``eduproject.toml`` (the course) and from ``ai-policy``
cells in a lesson's source notebook (the lesson, or one exercise); release writes the
policy in force for each exercise into ``lesson.json``. See docs/format.md, "AI policy"::

    from eduproject.core.policy import course_layer, lesson_policies
    lesson_policy, per_exercise = lesson_policies(lesson, course_layer(config))
    per_exercise["sum_evens"].refusal("hint", checks=0)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from eduproject.core.lesson import Exercise, Lesson
    from eduproject.models.settings import Config

__all__ = [
    "ACTIONS",
    "ACTION_LABELS",
    "AI_ACTIONS",
    "LAYER_KEYS",
    "MAX_HINT_LEVEL",
    "Action",
    "AiPolicy",
    "PolicyLayer",
    "PolicyProblem",
    "course_layer",
    "exercise_policy",
    "layer_from_cell",
    "layer_from_table",
    "lesson_policies",
    "resolve",
]


def course_layer(config: Config | None) -> PolicyLayer:
    """The course's ``[policy]`` table (ConfigError naming the setting when it is wrong)."""
    table: Any = (config.other.get("policy") if config is not None else None) or {}
    try:
        return layer_from_table(table)
    except PolicyProblem as exc:
        where = ", ".join(str(p) for p in config.sources) if config and config.sources else ""
        prefix = f"{where}: " if where else ""
        raise ConfigError(f"{prefix}[policy]: {exc.problem}", hint=exc.fix) from None


def exercise_policy(lesson: Lesson, exercise: Exercise, course: PolicyLayer) -> AiPolicy:
    """The policy in force for ``exercise``: course, then lesson, then exercise settings."""
    return resolve(course, lesson.policy, exercise.policy, graded=exercise.max_score > 0)


def lesson_policies(lesson: Lesson, course: PolicyLayer) -> tuple[AiPolicy, dict[str, AiPolicy]]:
    """The lesson-wide policy (cells outside exercises) and one policy per exercise."""
    return (
        resolve(course, lesson.policy, graded=False),
        {e.id: exercise_policy(lesson, e, course) for e in lesson.exercises},
    )
