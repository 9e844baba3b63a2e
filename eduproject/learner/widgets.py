"""The tutor panel under each exercise: core ipywidgets 8 only (JupyterLab 4, Notebook 7, VS Code).

The widgets hold state; :class:`~eduproject.learner.panel_controller.PanelController` holds the
logic. Styling is one CSS file (``static/panel.css``) put into the panel as a ``<style>`` element,
so no custom front-end code is needed.

    import eduproject
    eduproject.panel("sum_evens")       # release puts this cell after each exercise
"""

from __future__ import annotations

import functools
import html
from collections.abc import Callable, Sequence
from importlib import resources
from typing import Any

import ipywidgets as w

from eduproject.learner.jupyter_server import PLACEHOLDER
from eduproject.learner.panel_controller import PanelController, PanelState, response_html

__all__ = ["PLACEHOLDER", "Panel", "ResponseView", "panel", "start", "tutor_session"]


@functools.cache
def panel_css() -> str:
    return resources.files("eduproject.learner").joinpath("static/panel.css").read_text("utf-8")


def style_tag() -> w.HTML:
    return w.HTML(f"<style>{panel_css()}</style>", layout=w.Layout(display="none"))


def _button(description: str, icon: str, tooltip: str, *classes: str) -> w.Button:
    button = w.Button(description=description, icon=icon, tooltip=tooltip)
    for name in ("edu-button", *classes):
        button.add_class(name)
    return button


class ResponseView:
    """Reply area + footer (label, latency, thumbs) bound to a controller's :class:`PanelState`.

    ``stop_button`` (shown while tests or an answer run) belongs to the view too; the panel
    puts it in its button row, the error box under its button.
    """

    def __init__(self, controller: Any) -> None:
        self.controller = controller
        self.stop_button = _button("Stop", "stop", "Stop the running tests or answer", "edu-stop")
        self.stop_button.on_click(lambda _: self.controller.stop())
        self.stop_button.layout.display = "none"
        self.response = w.HTML()
        self.response.add_class("edu-response")
        self.meta = w.HTML()
        self.meta.add_class("edu-meta")
        self.rate_label = w.HTML('<span class="edu-rate-label">Helpful?</span>')
        self.thumbs_up = _button("Yes", "thumbs-up", "This answer helped me", "edu-thumb")
        self.thumbs_down = _button("No", "thumbs-down", "This answer did not help", "edu-thumb")
        self.thumbs_up.on_click(lambda _: self.controller.feedback(True))
        self.thumbs_down.on_click(lambda _: self.controller.feedback(False))
        self.rating = w.HBox([self.rate_label, self.thumbs_up, self.thumbs_down])
        self.rating.add_class("edu-rating")
        self.footer = w.HBox([self.meta, self.rating])
        self.footer.add_class("edu-footer")

    def render(self, state: PanelState) -> None:
        shown = bool(state.heading or state.check_html or state.status or state.error)
        self.response.value = response_html(state)
        self.response.layout.display = None if shown else "none"
        meta = " · ".join(html.escape(part) for part in (state.label, state.latency) if part)
        self.meta.value = f"<span>{meta}</span>" if meta else ""
        self.rating.layout.display = "flex" if state.feedback == "open" else "none"
        self.footer.layout.display = "flex" if meta else "none"
        self.stop_button.layout.display = None if state.busy and state.stoppable else "none"


class Panel:
    """The panel's widgets. ``panel.widget`` is the ipywidgets box; the panel displays itself."""

    def __init__(self, controller: PanelController, *, title: str) -> None:
        self.controller = controller
        self.check_button = _button(
            "Check", "check", "Run the visible tests on your code", "edu-check"
        )
        self.hint_button = _button("Hint", "lightbulb-o", "Get the next hint", "edu-hint")
        self.explain_button = _button(
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
        self.ask_button = _button("Ask", "comment", "Send your question to the tutor")
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
        for button in (self.check_button, self.hint_button, self.explain_button, self.ask_button):
            button.disabled = state.busy
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


@functools.cache
def tutor_session() -> tuple[Any, Any]:
    """The lesson pack next to the notebook and one tutor for this kernel (built on first use):
    the class gateway when JupyterHub configured one, else the in-kernel tutor."""
    from eduproject.core.pack import LessonPack
    from eduproject.learner.tutoring import make_tutor

    pack = LessonPack.find()
    return pack, make_tutor(pack)


@functools.cache
def general_tutor() -> Any:
    """A tutor without a lesson (errors in notebooks outside a released lesson folder)."""
    from eduproject.learner.tutoring import make_tutor

    return make_tutor(None)


def _shell() -> Any:
    from IPython import get_ipython

    return get_ipython()


def executed_cells() -> Sequence[str]:
    """The sources of the cells this kernel ran, oldest first (IPython's raw input history)."""
    shell = _shell()
    if shell is None:
        return ()
    return list(shell.history_manager.input_hist_raw)


def _user_namespace() -> dict[str, Any]:
    shell = _shell()
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
    from eduproject.learner.panel_controller import in_thread

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
