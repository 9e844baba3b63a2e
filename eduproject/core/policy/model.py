"""The course's AI policy as values: which help a learner may use, where, and when.

A :class:`PolicyLayer` is what one place says (the ``[policy]`` table of ``eduproject.toml``,
a lesson's or an exercise's ``ai-policy`` cell): every setting optional. :func:`resolve` stacks
the layers course < lesson < exercise over the defaults into an :class:`AiPolicy`, where every
setting has a value. Exam mode turned on at any level turns every AI action off below it (Check
stays unless ``exam_keep_check = false``), and no lower level can turn it back off::

    policy = resolve(PolicyLayer(hints_after_checks=2), PolicyLayer(ask=False), graded=True)
    policy.refusal("hint", checks=1)   # 'Hints unlock after 2 checks: press Check 1 more time.'
    policy.refusal("ask")              # 'Your instructor turned Ask off for this exercise.'
    policy.refusal("complete", in_solution=True)   # completion is off in graded solutions

The same values decide everywhere: the gateway refuses (it is the authority), the in-kernel
tutor and the completer honour them, and the panel shows them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal

Action = Literal["check", "hint", "explain_code", "explain_error", "ask", "complete"]
ACTIONS: tuple[Action, ...] = ("check", "hint", "explain_code", "explain_error", "ask", "complete")
AI_ACTIONS: tuple[Action, ...] = ACTIONS[1:]  # everything but Check talks to the tutor
MAX_HINT_LEVEL = 3

# How the learner knows each action (button names in the panel).
ACTION_LABELS: dict[Action, str] = {
    "check": "Check",
    "hint": "Hints",
    "explain_code": "Explain my code",
    "explain_error": "Explain this error",
    "ask": "Ask",
    "complete": "Code completion",
}


@dataclass(frozen=True)
class PolicyLayer:
    """What one level (course, lesson, exercise) says; ``None`` means "as the level above"."""

    check: bool | None = None
    hint: bool | None = None
    hint_max_level: int | None = None
    hints_after_checks: int | None = None
    explain_code: bool | None = None
    explain_error: bool | None = None
    ask: bool | None = None
    complete: bool | None = None
    complete_in_solutions: bool | None = None
    exam: bool | None = None
    exam_keep_check: bool | None = None

    @property
    def empty(self) -> bool:
        return all(getattr(self, f.name) is None for f in fields(self))

    def set_values(self) -> dict[str, Any]:
        """The settings this layer gives (for documentation and round trips)."""
        return {
            f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None
        }


LAYER_KEYS: tuple[str, ...] = tuple(f.name for f in fields(PolicyLayer))


@dataclass(frozen=True)
class AiPolicy:
    """The policy in force for one exercise (or for a lesson's cells outside exercises).

    ``complete_in_solutions`` says whether code completion works inside the exercise's
    solution cells; by default it does only where nothing is graded.
    """

    check: bool = True
    hint: bool = True
    hint_max_level: int = MAX_HINT_LEVEL
    hints_after_checks: int = 0
    explain_code: bool = True
    explain_error: bool = True
    ask: bool = True
    complete: bool = True
    complete_in_solutions: bool = False
    exam: bool = False

    def allows(self, action: Action) -> bool:
        """Whether ``action`` is on at all (unlock conditions aside)."""
        return bool(getattr(self, action))

    def hints_locked_for(self, checks: int) -> int:
        """How many more checks unlock the hints (0: unlocked)."""
        return max(0, self.hints_after_checks - max(0, checks))

    def refusal(
        self,
        action: Action,
        *,
        checks: int = 0,
        level: int | None = None,
        in_solution: bool = False,
    ) -> str | None:
        """``None`` when ``action`` may run now, else the message that says why not.

        ``checks`` is how many times the learner checked this exercise; ``level`` the hint
        level asked for; ``in_solution`` whether a completion is asked inside a solution cell.
        """
        if self.exam and action != "check":
            tail = " Check still works." if self.check else ""
            return f"AI help is off during the exam.{tail}"
        if not self.allows(action):
            if self.exam:
                return "Check is off during the exam."
            return f"Your instructor turned {ACTION_LABELS[action]} off for this exercise."
        if action == "hint":
            missing = self.hints_locked_for(checks)
            if missing:
                return (
                    f"Hints unlock after {_checks(self.hints_after_checks)}: "
                    f"press Check {_times(missing)}."
                )
            if level is not None and level > self.hint_max_level:
                return f"This exercise gives hints up to level {self.hint_max_level} only."
        if action == "complete" and in_solution and not self.complete_in_solutions:
            return "Code completion is off in the solution cells of graded exercises."
        return None

    def notice(self, checks: int = 0) -> str:
        """One line for the panel about what this exercise's policy limits ('' if nothing)."""
        if self.exam:
            return "Exam mode: AI help is off." + (" Check still works." if self.check else "")
        parts = []
        off = [ACTION_LABELS[a] for a in ACTIONS if a != "complete" and not self.allows(a)]
        if off:
            parts.append(f"Off for this exercise: {', '.join(off)}.")
        if self.hint:
            missing = self.hints_locked_for(checks)
            if missing:
                parts.append(
                    f"Hints unlock after {_checks(self.hints_after_checks)} ({missing} to go)."
                )
            if self.hint_max_level < MAX_HINT_LEVEL:
                parts.append(f"Hints go up to level {self.hint_max_level}.")
        return " ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> AiPolicy:
        """Read a released policy; missing keys take their defaults (older lesson.json)."""
        if not isinstance(data, dict):
            return cls()
        known = {f.name: f.type for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, value in data.items():
            if key not in known:
                continue
            if key in ("hint_max_level", "hints_after_checks"):
                if isinstance(value, int) and not isinstance(value, bool):
                    values[key] = value
            elif isinstance(value, bool):
                values[key] = value
        return cls(**values)


def resolve(*layers: PolicyLayer | None, graded: bool = True) -> AiPolicy:
    """Stack ``layers`` (course first, exercise last) over the defaults.

    ``graded``: whether the exercise carries points; completion in its solution cells is then
    off unless a layer turns it on.
    """
    values: dict[str, Any] = {"complete_in_solutions": not graded}
    exam = False
    keep_check = True
    for layer in layers:
        if layer is None:
            continue
        for key, value in layer.set_values().items():
            if key == "exam":
                exam = exam or bool(value)
            elif key == "exam_keep_check":
                keep_check = bool(value)
            else:
                values[key] = value
    policy = AiPolicy(**values)
    if exam:
        off = {action: False for action in AI_ACTIONS}
        policy = replace(policy, **off, check=keep_check, complete_in_solutions=False, exam=True)
    return policy


def _checks(n: int) -> str:
    return f"{n} check{'s' if n != 1 else ''}"


def _times(n: int) -> str:
    return {1: "once more", 2: "twice more"}.get(n, f"{n} more times")
