"""The tutor panel's logic, in plain Python (the widgets in ``widgets.py`` only show its state).

``PanelController`` runs Check, Hint, Explain my code and Ask for one exercise; every action
updates a :class:`PanelState` and calls ``on_change(state)``. Every action runs through
``spawn`` (a background thread in the panel, inline in tests), so the widget callback returns
at once and the kernel stays free: a **Stop** click arrives while tests or a model answer run.

- The visible tests run one at a time under a time limit (:mod:`timed_check`): a loop that
  never ends costs its test 5 s, never the panel.
- Model answers stream as the tutor releases them -- only text that passed its checks -- and
  carry the "AI-generated" label from their first word. Answers wait their turn in one queue
  per kernel (a model answers one question at a time), and the panel says so.
- Errors never escape as tracebacks: they become a message.

    controller = PanelController("sum_evens", pack=pack, tutor=tutor,
                                 history=lambda: cells, namespace=ns, spawn=lambda job: job())
    controller.hint()
    controller.state.heading     # "Hint 1 of 3"
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from eduproject.core.policy import Action, AiPolicy
from eduproject.errors import EduprojectError
from eduproject.learner.check import CheckResult
from eduproject.learner.responses import (
    ANSWERS,
    TESTING,
    THINKING,
    AnswerQueue,
    PanelState,
    ResponseController,
    Spawn,
    in_thread,
)
from eduproject.learner.timed_check import DEFAULT_TIME_LIMIT_S, TimedCheck
from eduproject.tutor.learner_code import latest_code, stub_names
from eduproject.tutor.offline import HINT_LEVELS

__all__ = ["HINT_LEVELS", "PanelController"]

log = logging.getLogger(__name__)


class PanelController(ResponseController):
    """The actions of the tutor panel under one exercise."""

    def __init__(
        self,
        exercise: str,
        *,
        pack: Any,
        tutor: Any,
        history: Callable[[], Sequence[str]],
        namespace: Callable[[], Mapping[str, Any]],
        on_change: Callable[[PanelState], None] | None = None,
        spawn: Spawn = in_thread,
        time_limit: float = DEFAULT_TIME_LIMIT_S,
        queue: AnswerQueue = ANSWERS,
    ) -> None:
        self.exercise = exercise
        self.pack = pack
        self.spec = pack.exercise(exercise)  # unknown ids fail here, before any widget exists
        self.names = stub_names(self.spec.stub)
        self.history = history
        self.namespace = namespace
        self.time_limit = time_limit  # seconds per visible test
        self._tests: TimedCheck | None = None
        self.last_check: CheckResult | None = None  # the table Check showed last
        super().__init__(tutor, on_change=on_change, spawn=spawn, queue=queue)
        self._show_policy()

    # -- the course's AI policy -----------------------------------------------------

    @property
    def policy(self) -> AiPolicy:
        return self.tutor.policy(self.exercise) if hasattr(self.tutor, "policy") else AiPolicy()

    def _checks(self) -> int:
        return self.tutor.checks(self.exercise) if hasattr(self.tutor, "checks") else 0

    def _show_policy(self) -> None:
        policy = self.policy
        self.state.policy = policy.notice(self._checks())
        self.state.off = tuple(a for a in _PANEL_ACTIONS if not policy.allows(a))

    def _refused(self, action: Action, heading: str, level: int | None = None) -> bool:
        """Show why the policy does not allow ``action`` now; True when it does not."""
        reason = self.policy.refusal(action, checks=self._checks(), level=level)
        if reason is not None:
            self._say(heading, reason)
        return reason is not None

    def code(self) -> tuple[str, bool]:
        """The learner's latest executed code for this exercise, and whether it was run at all."""
        found = latest_code(self.history(), self.names)
        return (found, True) if found is not None else (self.spec.stub, False)

    def run_checks(self, stop: threading.Event | None = None) -> CheckResult:
        """Run the visible tests, one at a time under the time limit, quietly (their prints
        would land in a random cell). ``stop`` set: skip them all."""
        tests = TimedCheck(self.exercise, self.pack, self.namespace(), time_limit=self.time_limit)
        self._tests = tests
        try:
            if stop is not None and stop.is_set():
                tests.stop()
            return tests()
        finally:
            self._tests = None

    def _stopped(self) -> None:
        tests = self._tests
        if tests is not None:
            tests.stop()

    def check(self) -> None:
        """Run the visible tests and show the ✓/✗ table ("Running your tests…" meanwhile);
        the check is counted (the course's policy may unlock hints after some)."""
        if self._refused("check", "Check"):
            return
        if not self._begin("", TESTING):  # the table's own summary line is the heading
            return
        stop = self._stop
        self.spawn(lambda: self._check(stop))

    def _check(self, stop: threading.Event) -> None:
        s = self.state
        try:
            result = self.run_checks(stop)
        except EduprojectError as exc:
            result = None
            s.error = exc.message
        except Exception as exc:  # a bug must still end in a message, not a traceback
            log.exception("check failed")
            result = None
            s.error = f"The tests could not run ({type(exc).__name__}). Your notebook is fine."
        if stop.is_set():
            if result is not None:  # what ran before the Stop is still worth showing
                s.check_html = result.html()
                self.changed()
            return
        if result is not None:
            self.last_check = result
            if hasattr(self.tutor, "record_check"):
                self.tutor.record_check(self.exercise, result.passed, result.total)
            s.check_html = result.html()
            if not self.code()[1]:
                s.notice = _NOT_RUN
        self._show_policy()
        s.status, s.busy, s.stoppable = "", False, False
        self.changed()

    def hint(self) -> None:
        """Ask for the next hint level (1: concept, 2: what the failing test shows, 3: next step).

        The visible tests run first (under their time limit), so the hint knows what fails.
        """
        if self.state.busy:
            return
        top = min(self.policy.hint_max_level, HINT_LEVELS)
        level = min(self.state.hints_given + 1, top)
        if self._refused("hint", f"Hint {level} of {top}", level):
            return
        if not self._begin(f"Hint {level} of {top}", TESTING):
            return
        stop = self._stop
        code, ran = self.code()

        def counted(reply: Any) -> None:
            self.state.hints_given = max(self.state.hints_given, level)
            done = self.state.hints_given >= top
            self.state.next_hint_label = "Hint again" if done else "Next hint"
            if not ran:
                self.state.notice = " ".join(filter(None, [self.state.notice, _NOT_RUN]))

        def job() -> None:
            try:
                results: Sequence[Any] = self.run_checks(stop).results
            except EduprojectError:
                results = ()
            if stop.is_set():
                return
            self.state.status = THINKING
            self.changed()
            self._consume(
                lambda: self.tutor.hint_stream(self.exercise, code, results, level),
                counted,
                stop,
            )

        self.spawn(job)

    def explain_code(self) -> None:
        if self._refused("explain_code", "About your code"):
            return
        code, ran = self.code()
        if not ran:
            self._say("About your code", _NOT_RUN)
            return
        self.stream("About your code", lambda: self.tutor.explain_code_stream(code, self.exercise))

    def ask(self, question: str) -> None:
        question = question.strip()
        if not question:
            self._say("Your question", "Type a question in the box first, then press Ask.")
            return
        if self._refused("ask", "Your question"):
            return
        code, _ = self.code()
        self.stream(
            "Your question",
            lambda: self.tutor.ask_stream(question, code, self.exercise),
        )

    def _say(self, heading: str, message: str) -> None:
        if self._begin(heading):
            self.state.error, self.state.status, self.state.busy = message, "", False
            self.changed()


_PANEL_ACTIONS: tuple[Action, ...] = ("check", "hint", "explain_code", "ask")
_NOT_RUN = "You have not run your code for this exercise yet: run its cell (Shift+Enter) first."
