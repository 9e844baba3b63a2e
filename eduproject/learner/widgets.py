"""The tutor panel under each exercise: core ipywidgets 8 only (JupyterLab 4, Notebook 7, VS Code).

The widgets hold state; :class:`~eduproject.learner.panel_controller.PanelController` holds the
logic. Styling is one CSS file (``static/panel.css``) put into the panel as a ``<style>`` element,
so no custom front-end code is needed.

    import eduproject
    eduproject.panel("sum_evens")       # release puts this cell after each exercise
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import ipywidgets as w

from eduproject.learner.jupyter_server import PLACEHOLDER
from eduproject.learner.panel_controller import PanelController
from eduproject.learner.responses import PanelState
from eduproject.learner.view import (
    ResponseView,
    button,
    executed_cells,
    style_tag,
    tutor_session,
)

__all__ = ["PLACEHOLDER", "Panel", "ResponseView", "panel", "start", "tutor_session"]


class Panel:
    """The panel's widgets. ``panel.widget`` is the ipywidgets box; the panel displays itself."""

    def __init__(self, controller: PanelController, *, title: str) -> None:
        self.controller = controller
        self.check_button = button(
            "Check", "check", "Run the visible tests on your code", "edu-check"
        )
        self.hint_button = button("Hint", "lightbulb-o", "Get the next hint", "edu-hint")
        self.explain_button = button(
            "Explain my code", "search", "The tutor explains what your code does now"
        )
        self.question = w.Text(
            placeholder="Ask the tutor about this exercise… (Enter sends)",
            layout=w.Layout(flex="1 1 auto"),
        )
        self.question.add_class("edu-question")
        # Enter in the box sends the question: the front end sends a "submit" message
        # (ipywidgets' on_submit is deprecated, the message is not).
        self.question.on_msg(self._on_question_msg)
        self.ask_button = button("Ask", "comment", "Send your question to the tutor")
        self.remaining = w.HTML()
        self.remaining.add_class("edu-remaining")
        self.policy = w.HTML()  # what the course's AI policy limits ("Hints unlock after ...")
        self.policy.add_class("edu-policy")
        self.view = ResponseView(controller)

        self.check_button.on_click(lambda _: controller.check())
        self.hint_button.on_click(lambda _: controller.hint())
        self.explain_button.on_click(lambda _: controller.explain_code())
        self.ask_button.on_click(lambda _: controller.ask(self.question.value))

        header = w.HBox(
            [w.HTML(f'<span class="edu-title">Tutor · {html.escape(title)}</span>'), self.remaining]
        )
        header.add_class("edu-header")
        actions = w.HBox(
            [self.check_button, self.hint_button, self.explain_button, self.view.stop_button]
        )
        actions.add_class("edu-actions")
        ask = w.HBox([self.question, self.ask_button])
        ask.add_class("edu-ask")
        self.ask_row = ask
        self.widget = w.VBox(
            [style_tag(), header, self.policy, actions, ask, self.view.response, self.view.footer]
        )
        self.widget.add_class("edu-panel")
        controller.on_change = self.render
        self.render(controller.state)

    def render(self, state: PanelState) -> None:
        self.view.render(state)
        for control in (self.check_button, self.hint_button, self.explain_button, self.ask_button):
            control.disabled = state.busy
        self.hint_button.description = state.next_hint_label
        self.remaining.value = html.escape(state.remaining)
        self.policy.value = html.escape(state.policy)
        self.policy.layout.display = None if state.policy else "none"
        for action, part in (
            ("check", self.check_button),
            ("hint", self.hint_button),
            ("explain_code", self.explain_button),
            ("ask", self.ask_row),
        ):
            part.layout.display = "none" if action in state.off else None

    def _on_question_msg(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if isinstance(content, dict) and content.get("event") == "submit":
            self.controller.ask(self.question.value)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = self.widget._repr_mimebundle_(**kwargs)
        # What a notebook shows where the widget cannot be drawn (saved, kernel gone).
        bundle["text/plain"] = PLACEHOLDER
        return bundle


def _user_namespace() -> dict[str, Any]:
    from IPython import get_ipython

    shell = get_ipython()
    return shell.user_ns if shell is not None else {}


def start() -> None:
    """The first cell of a released lesson: load the tutor and say who answers.

    import eduproject
    eduproject.start()      # prints "Tutor ready: ...", returns nothing (no `Out[1]`)
    """
    from eduproject.errors import EduprojectError
    from eduproject.learner.errorhook import enable_error_help

    enable_error_help()
    try:
        pack, tutor = tutor_session()
    except EduprojectError as exc:
        print(
            '"Explain this error" is on. No tutor panels here: '
            + exc.message
            + (f" ({exc.hint})" if exc.hint else "")
        )
        return
    print(f"Tutor ready for {pack.title}: {who_answers(tutor)}")


def who_answers(tutor: Any) -> str:
    """One sentence for learners: which tutor answers Hint, Explain and Ask."""
    describe = getattr(tutor, "describe", None)
    if callable(describe):
        return str(describe())
    return "the tutor answers in the panel under each exercise."


def panel(exercise: str, *, spawn: Callable[[Callable[[], None]], None] | None = None) -> Panel:
    """The tutor panel for ``exercise`` (an id from lesson.json), shown under the cell.

    eduproject.panel("sum_evens")
    """
    from eduproject.learner.errorhook import enable_error_help
    from eduproject.learner.responses import in_thread

    enable_error_help()
    pack, tutor = tutor_session()
    controller = PanelController(
        exercise,
        pack=pack,
        tutor=tutor,
        history=executed_cells,
        namespace=_user_namespace,
        spawn=spawn or in_thread,
    )
    return Panel(controller, title=controller.spec.title or exercise)
