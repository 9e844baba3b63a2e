"""The widgets that the exercise panel and the error button share: the reply area with its
footer and Stop button, the buttons, the stylesheet, and the kernel's one tutor session."""

from __future__ import annotations

import functools
import html
from collections.abc import Sequence
from importlib import resources
from typing import Any

import ipywidgets as w

from eduproject.learner.responses import PanelState, response_html

__all__ = [
    "ResponseView",
    "button",
    "executed_cells",
    "general_tutor",
    "panel_css",
    "style_tag",
    "tutor_session",
]


@functools.cache
def panel_css() -> str:
    return resources.files("eduproject.learner").joinpath("static/panel.css").read_text("utf-8")


def style_tag() -> w.HTML:
    return w.HTML(f"<style>{panel_css()}</style>", layout=w.Layout(display="none"))


def button(description: str, icon: str, tooltip: str, *classes: str) -> w.Button:
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
        self.stop_button = button("Stop", "stop", "Stop the running tests or answer", "edu-stop")
        self.stop_button.on_click(lambda _: self.controller.stop())
        self.stop_button.layout.display = "none"
        self.response = w.HTML()
        self.response.add_class("edu-response")
        self.meta = w.HTML()
        self.meta.add_class("edu-meta")
        self.rate_label = w.HTML('<span class="edu-rate-label">Helpful?</span>')
        self.thumbs_up = button("Yes", "thumbs-up", "This answer helped me", "edu-thumb")
        self.thumbs_down = button("No", "thumbs-down", "This answer did not help", "edu-thumb")
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
