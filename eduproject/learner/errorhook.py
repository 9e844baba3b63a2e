"""The **Explain this error** button under a traceback in any cell, once eduproject is loaded.

``enable_error_help()`` (called by ``eduproject.panel`` and ``eduproject.check``) registers an
IPython ``post_run_cell`` callback: after a cell fails, the normal traceback stays exactly as it
is and a small button appears under it; a click asks the tutor's ``explain_error`` about that
error and the cell's code. Errors raised by eduproject itself (a typo in an exercise id, no
lesson.json) are shown as their one-paragraph message instead of a traceback.

    import eduproject
    eduproject.enable_error_help()
"""

from __future__ import annotations

import functools
import logging
import os
import traceback
from collections.abc import Callable
from typing import Any

from eduproject.errors import EduprojectError

__all__ = ["ErrorHelp", "enable_error_help", "error_text"]

log = logging.getLogger(__name__)
Spawn = Callable[[Callable[[], None]], None]
_enabled: set[int] = set()  # ids of shells with the hook (one kernel has one shell)


def enable_error_help(shell: Any = None) -> bool:
    """Install the hook in the running IPython (idempotent); False outside IPython."""
    if shell is None:
        from IPython import get_ipython

        shell = get_ipython()
    if shell is None:
        return False
    if id(shell) in _enabled:
        return True
    shell.events.register("post_run_cell", _after_cell)
    shell.set_custom_exc((EduprojectError,), _show_eduproject_error)
    _enabled.add(id(shell))
    return True


def _show_eduproject_error(
    shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: int | None = None
) -> list[str]:
    # The message already says what happened and what to do; a traceback would only bury it.
    lines = [f"\x1b[1;31m{etype.__name__}\x1b[0m: {value}"]
    shell._showtraceback(etype, value, lines)
    return lines


def _after_cell(result: Any) -> None:
    error = result.error_before_exec or result.error_in_exec
    if error is None or isinstance(error, EduprojectError | KeyboardInterrupt | SystemExit):
        return
    try:
        from IPython.display import display

        from eduproject.learner.jupyter_server import ERROR_HELP_MARKER

        widget = ErrorHelp(error, result.info.raw_cell or "").widget
        bundle = widget._repr_mimebundle_()
        # Marked so that a saved notebook drops the box (its model dies with the kernel).
        bundle["text/plain"] = ERROR_HELP_MARKER
        display(bundle, raw=True)
    except Exception:  # the learner's traceback matters more than our button
        log.exception("could not show the Explain this error button")


@functools.cache
def _internal_dirs() -> tuple[str, ...]:
    """Where IPython's and ipykernel's own frames live (imported only once an error needs it)."""
    import ipykernel
    import IPython

    return tuple(os.path.dirname(m.__file__ or "") + os.sep for m in (IPython, ipykernel))


def _where(filename: str) -> str:
    if "ipykernel_" in filename or filename.startswith("<ipython-input"):
        return "your cell"
    return os.path.basename(filename)


def error_text(error: BaseException) -> str:
    """A short traceback of the learner's frames only (no IPython internals), for the tutor."""
    frames = [
        f
        for f in traceback.extract_tb(error.__traceback__)
        if not f.filename.startswith(_internal_dirs())
    ]
    lines = []
    if frames:
        lines.append("Traceback (most recent call last):")
        for f in frames:
            lines.append(f"  {_where(f.filename)}, line {f.lineno}, in {f.name}")
            if f.line:
                lines.append(f"    {f.line}")
    if isinstance(error, SyntaxError):
        place = f"line {error.lineno}" if error.lineno else "your cell"
        lines.append(f"  {place}: {(error.text or '').rstrip()}")
        lines.append(f"{type(error).__name__}: {error.msg}")
    else:
        lines.extend(traceback.format_exception_only(error)[-1:])
    return "\n".join(line.rstrip("\n") for line in lines)


def _frame_functions(error: BaseException) -> set[str]:
    return {f.name for f in traceback.extract_tb(error.__traceback__)}


TEST_FAILED = "In a test of exercise"


def _is_test_cell_of(exercise: Any, code: str) -> bool:
    """Whether ``code`` (a cell that failed) is one of ``exercise``'s visible test cells."""
    lines = {line.strip() for line in code.splitlines() if line.strip()}
    for test in exercise.tests:
        body = [
            line.strip()
            for line in test.visible_source.splitlines()
            if line.strip() and not line.strip().startswith("#")
        ]
        if body and all(line in lines for line in body):
            return True
    return False


def failed_test_text(error: BaseException, exercise: str) -> str:
    """The error of a failed test cell, for the tutor: the failing check, the learner frames
    (where the learner's function raised, if it did), never the test cell's line number."""
    frames = [
        f
        for f in traceback.extract_tb(error.__traceback__)
        if not f.filename.startswith(_internal_dirs())
    ]
    lines = [f"{TEST_FAILED} {exercise!r} (the test is right; your code is checked):"]
    test_frame = frames[0] if frames else None
    if test_frame is not None and test_frame.line:
        lines.append(f"    {test_frame.line}")
    for f in frames[1:]:
        lines.append(f"  in your function {f.name}, line {f.lineno}")
        if f.line:
            lines.append(f"    {f.line}")
    if isinstance(error, AssertionError) and not str(error) and test_frame is not None:
        lines.append(f"AssertionError: the check `{(test_frame.line or '').strip()}` was false")
    else:
        lines.extend(traceback.format_exception_only(error)[-1:])
    return "\n".join(line.rstrip("\n") for line in lines)


class ErrorHelp:
    """The button and reply area under one failed cell. The tutor is built on the first click."""

    def __init__(self, error: BaseException, code: str, *, spawn: Spawn | None = None) -> None:
        import ipywidgets as w

        from eduproject.learner.view import ResponseView, button, style_tag

        self.error = error
        self.text = error_text(error)
        self.code = code
        self.spawn = spawn
        self.pack: Any = None
        self.controller: Any = None
        self.button = button(
            "Explain this error",
            "question-circle",
            "The tutor explains this error",
            "edu-explain-error",
        )
        self.button.on_click(lambda _: self.explain())
        self.view = ResponseView(None)
        self.view.response.layout.display = "none"
        self.view.footer.layout.display = "none"
        buttons = w.HBox([self.button, self.view.stop_button])
        self.widget = w.VBox([style_tag(), buttons, self.view.response, self.view.footer])
        self.widget.add_class("edu-error-help")

    def explain(self) -> None:
        if self.controller is None:
            self.controller = self._controller()
            if self.controller is None:
                return
        exercise, code, text = self._context()
        tutor = self.controller.tutor
        self.controller.stream(
            "About this error",
            lambda: tutor.explain_error_stream(text, code, exercise),
        )

    def _controller(self) -> Any:
        from eduproject.learner.responses import (
            PanelState,
            ResponseController,
            in_thread,
            response_html,
        )

        try:
            self.pack, tutor = _session()
        except EduprojectError as exc:  # e.g. a broken lesson.json: say what to do
            state = PanelState(heading="About this error", error=exc.message)
            self.view.response.value = response_html(state)
            self.view.response.layout.display = None
            return None
        controller = ResponseController(
            tutor, on_change=self.view.render, spawn=self.spawn or in_thread
        )
        self.view.controller = controller
        return controller

    def _context(self) -> tuple[str | None, str, str]:
        """The exercise this error belongs to (if any), the code to show the tutor, and the
        error as the tutor should read it."""
        from eduproject.learner.view import executed_cells
        from eduproject.tutor.learner_code import defined_names, latest_code, stub_names

        exercises = self.pack.exercises if self.pack is not None else ()
        tested = next((ex for ex in exercises if _is_test_cell_of(ex, self.code)), None)
        if tested is not None:
            # A test cell failed: the exercise's guard applies, and what to change is the
            # learner's function, not the test's assert line.
            own = latest_code(executed_cells(), stub_names(tested.stub)) or tested.stub
            return tested.id, own, failed_test_text(self.error, tested.id)
        involved = defined_names(self.code) | _frame_functions(self.error)
        for ex in exercises:
            names = stub_names(ex.stub)
            if names & involved:
                if names & defined_names(self.code):
                    return ex.id, self.code, self.text
                # The error shows in a cell that only calls the exercise's function: add its code.
                own = latest_code(executed_cells(), names) or ""
                return ex.id, f"{own}\n\n{self.code}".strip(), self.text
        return None, self.code, self.text


def _session() -> tuple[Any, Any]:
    """The lesson's pack and tutor; outside a lesson folder, no pack and a general tutor."""
    from eduproject.core.pack import PACK_NAME
    from eduproject.learner.view import general_tutor, tutor_session

    try:
        return tutor_session()
    except EduprojectError as exc:
        # Only "there is no lesson here" means a general tutor; a broken lesson.json is reported.
        if not exc.message.startswith(f"no {PACK_NAME} found"):
            raise
        return None, general_tutor()
