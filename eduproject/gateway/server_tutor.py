"""The tutor as the gateway runs it: with the instructor's lesson at hand.

In a learner's kernel the leak guard only has the hashed features of ``lesson.json``. On the
server the full lesson is loaded, so a model reply whose code block passes the exercise's
tests (hidden ones included) is rejected like any other leak, and the Tutor's order of resort
(stricter retry, instructor hint, offline tutor) takes over. While a reply streams, fenced
code is held back until that verdict is in, so a learner reading the raw stream never sees
a block the guard goes on to reject.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Generator, Sequence
from typing import Any

from eduproject.models.types import ModelRequest, ModelResponse
from eduproject.tutor.codetext import fragments, parse_code
from eduproject.tutor.guards import GuardVerdict, check_leak
from eduproject.tutor.pack import ExerciseInfo
from eduproject.tutor.tutor import Tutor

FENCE = "```"


class ServerTutor(Tutor):
    """:class:`~eduproject.tutor.tutor.Tutor` plus the test-passing check of ``runner``.

    ``runner(code) -> bool`` is :func:`eduproject.tutor.passcheck.runner_for` of the
    exercise asked about (None skips the check).
    """

    def __init__(
        self, *args: Any, runner: Callable[[str], bool] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.runner = runner

    def _attempt(
        self,
        request: ModelRequest,
        routes: Sequence[str],
        info: ExerciseInfo | None,
        task: str,
        code: str,
        *,
        show: bool,
    ) -> Generator[str, None, tuple[str, ModelResponse | None, GuardVerdict]]:
        text, response, verdict = yield from super()._attempt(
            request, routes, info, task, code, show=show
        )
        runner = self.runner
        if verdict.ok and runner is not None and info is not None and _runnable(text):

            def passes(candidate: str) -> bool:
                # The learner's own code quoted back is theirs already, passing or not.
                return candidate.strip() not in code and runner(candidate)

            tested = check_leak(text, info, run_tests=passes, code=code)
            if tested.leak:
                verdict = tested
        return text, response, verdict


def _runnable(text: str) -> bool:
    """Whether ``text`` holds code that could be run against the tests (most hints hold none,
    and the full leak check is not cheap)."""
    for frag in fragments(text):
        tree = parse_code(frag.code)
        if tree is not None and any(
            not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Name | ast.Constant))
            for node in tree.body
        ):
            return True
    return False


class FencedCodeGate:
    """Passes streamed text through until the first fenced code block; the rest waits for
    the final reply (which carries the whole text once the guards have passed it).

    >>> gate = FencedCodeGate()
    >>> gate.feed("Try this: ``"), gate.feed("`python\\nx = 1\\n"), gate.feed("```\\nDone.")
    ('Try this: ', '', '')
    """

    def __init__(self) -> None:
        self.text = ""
        self.sent = 0

    def feed(self, delta: str) -> str:
        """The part of the text so far that may be shown now (not shown before)."""
        self.text += delta
        end = self._visible_end()
        if end <= self.sent:
            return ""
        out = self.text[self.sent : end]
        self.sent = end
        return out

    def _visible_end(self) -> int:
        # Everything from the first fence on waits for the verdict (shown whole at the end).
        fence = self.text.find(FENCE, self.sent)
        if fence != -1:
            return fence
        # Trailing backticks may be the start of a fence.
        return len(self.text.rstrip("`"))
