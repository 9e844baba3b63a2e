"""The panel shows the policy ("Hints unlock after 2 checks") and counts its Checks in the kernel."""

from __future__ import annotations

from dataclasses import replace

from eduproject.core.pack import ExerciseInfo, LessonPack, VisibleTest
from eduproject.core.policy import AiPolicy
from eduproject.learner.panel_controller import PanelController
from eduproject.learner.widgets import Panel
from eduproject.tutor.tutor import Tutor

STUB = "def double(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()"
CODE = "def double(x):\n    return x + x\n"


def _pack(policy: AiPolicy) -> LessonPack:
    info = ExerciseInfo(
        "double",
        "Double",
        "# Double",
        STUB,
        ("Think of multiplication.", "What is x + x?", "Return 2 * x."),
        (),
        (VisibleTest("doubles", 1.0, False, "assert double(2) == 4"),),
        policy=policy,
    )
    return LessonPack("fns", "Functions", "v", (info,))


def _controller(policy: AiPolicy) -> PanelController:
    namespace: dict[str, object] = {}
    exec(CODE, namespace)  # the learner ran their cell
    return PanelController(
        "double",
        pack=_pack(policy),
        tutor=Tutor(_pack(policy)),
        history=lambda: [CODE],
        namespace=lambda: namespace,
        spawn=lambda job: job(),
    )


def test_hints_unlock_after_the_panels_checks() -> None:
    controller = _controller(AiPolicy(hints_after_checks=2, hint_max_level=2))
    state = controller.state
    assert state.policy == "Hints unlock after 2 checks (2 to go). Hints go up to level 2."
    controller.hint()
    assert (state.heading, state.error) == (
        "Hint 1 of 2",
        "Hints unlock after 2 checks: press Check twice more.",
    )
    controller.check()
    assert controller.last_check is not None
    assert state.policy.startswith("Hints unlock after 2 checks (1 to go).")
    controller.check()
    assert state.policy == "Hints go up to level 2."
    controller.hint()
    assert (state.heading, state.error, state.label) == (
        "Hint 1 of 2",
        "",
        "Offline tutor (no model)",
    )
    controller.hint()
    assert state.heading == "Hint 2 of 2" and state.next_hint_label == "Hint again"
    controller.hint()
    assert state.heading == "Hint 2 of 2" and not state.error  # never asks past the top level


def test_buttons_of_actions_turned_off_are_not_shown() -> None:
    controller = _controller(AiPolicy(ask=False, explain_code=False))
    panel = Panel(controller, title="Double")
    assert controller.state.off == ("explain_code", "ask")
    assert controller.state.policy == "Off for this exercise: Explain my code, Ask."
    assert panel.explain_button.layout.display == "none"
    assert panel.ask_row.layout.display == "none"
    assert panel.check_button.layout.display is None and panel.policy.value.startswith("Off")
    controller.ask("What is x?")
    assert controller.state.error == "Your instructor turned Ask off for this exercise."


def test_exam_mode_in_the_panel() -> None:
    controller = _controller(
        replace(AiPolicy(), exam=True, hint=False, ask=False, explain_code=False)
    )
    assert controller.state.policy == "Exam mode: AI help is off. Check still works."
    controller.check()
    assert controller.last_check is not None  # Check still works
    controller.hint()
    assert controller.state.error == "AI help is off during the exam. Check still works."
