"""Whether the course's AI policy allows a completion here: solution cells of graded exercises.

A released notebook's cell metadata says which exercise a cell belongs to and whether it is a
solution cell, and the front end sends both. A learner can send anything, so the code itself
is looked at too: a cell that defines a name a graded exercise asks for (its stub's function,
class or variable) is that exercise's solution, whatever the request claims::

    decision = decide(pack, default_policy, inp)
    decision.reason      # None, or "Code completion is off in the solution cells of ..."
    decision.exercise    # the exercise the request is counted under
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from eduproject.completion.context import CompletionInput
from eduproject.core.pack import LessonPack
from eduproject.core.policy import AiPolicy
from eduproject.tutor.learner_code import defined_names, stub_names


@dataclass(frozen=True)
class Decision:
    reason: str | None  # None: allowed
    lesson: str | None
    exercise: str | None
    in_solution: bool


def decide(pack: LessonPack | None, default: AiPolicy, inp: CompletionInput) -> Decision:
    """The policy's verdict on ``inp`` (``pack``: the lesson it names, if any)."""
    if pack is None:
        return Decision(default.refusal("complete"), None, None, False)
    exercise = inp.exercise
    if exercise is not None:
        pack.exercise(exercise)  # an unknown id is a TutorError for the caller
    in_solution = inp.role == "solution"
    found = _solution_of(pack, inp)
    if found is not None:
        exercise, in_solution = found, True
    policy = pack.policy_for(exercise)
    reason = policy.refusal("complete", in_solution=in_solution)
    return Decision(reason, pack.lesson, exercise, in_solution)


def decide_anywhere(
    packs: Iterable[LessonPack], default: AiPolicy, inp: CompletionInput
) -> Decision:
    """The verdict on a request that names no lesson: the course's policy, and no code that
    solves a graded exercise of any lesson (where completion in solutions is off)."""
    for pack in packs:
        exercise = _solution_of(pack, inp)
        if exercise is not None:
            reason = pack.policy_for(exercise).refusal("complete", in_solution=True)
            return Decision(reason, pack.lesson, exercise, True)
    return Decision(default.refusal("complete"), None, None, False)


def _solution_of(pack: LessonPack, inp: CompletionInput) -> str | None:
    """The exercise whose stub names the code around the cursor defines (where completion in
    solutions is off), if any."""
    names = defined_names(inp.prefix + inp.suffix)
    if not names:
        return None
    for info in pack.exercises:
        if not info.policy.complete_in_solutions and names & stub_names(info.stub):
            return info.id
    return None


def notebook_policy(pack: LessonPack | None, default: AiPolicy) -> dict[str, Any]:
    """What the front end needs to skip requests the policy would refuse anyway.

    ``{"complete": bool, "reason": str, "exercises": {id: {"complete", "solutions", "reason"}}}``
    """
    lesson = pack.policy if pack is not None else default
    exercises = {}
    for info in pack.exercises if pack is not None else ():
        p = info.policy
        reason = p.refusal("complete") or ""
        exercises[info.id] = {
            "complete": not reason,
            "solutions": p.refusal("complete", in_solution=True) is None,
            "reason": reason or (p.refusal("complete", in_solution=True) or ""),
        }
    reason = lesson.refusal("complete") or ""
    return {"complete": not reason, "reason": reason, "exercises": exercises}
