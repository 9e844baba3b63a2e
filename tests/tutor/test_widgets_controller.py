"""PanelController with the real tutor (offline, or with quotas): no front end needed."""

from __future__ import annotations

import socket
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from eduproject.core.pack import ExerciseInfo, LessonPack, VisibleTest
from eduproject.learner.panel_controller import PanelController
from eduproject.learner.responses import PanelState, response_html
from eduproject.models.config import Config, RouteConfig, Timeouts
from eduproject.models.families import default_families
from eduproject.models.ledger import Ledger
from eduproject.models.providers import build_providers
from eduproject.models.router import Router
from eduproject.streaming import TextStream
from eduproject.tutor.quota import Quota
from eduproject.tutor.tutor import Tutor, TutorReply
from tests.support.openai import Reply, fake_openai

STUB = 'def greet(name):\n    """Say hello."""\n    # YOUR CODE HERE\n    raise NotImplementedError()\n'
HINTS = (
    "A function gives its answer back with `return`.",
    "If the test shows `None`, you printed instead of returning.",
    "Check for the empty name first, then build the greeting.",
)
PACK = LessonPack(
    lesson="demo",
    title="Demo",
    version="v1",
    exercises=(
        ExerciseInfo(
            id="greet",
            title="Say hello",
            prompt='Write `greet(name)` returning "Hello, <name>!".',
            stub=STUB,
            hints=HINTS,
            avoid=(),
            visible_tests=(
                VisibleTest("says_hello", 1, False, 'assert greet("Ada") == "Hello, Ada!"\n'),
                VisibleTest("empty_name", 1, False, 'assert greet("") == "Hello, stranger!"\n'),
                VisibleTest("long_names", 1, True, ""),
            ),
        ),
    ),
)
PARTLY_RIGHT = "def greet(name):\n    return 'Hello, ' + name + '!'\n"


class Learner:
    """A learner's kernel, as far as the panel sees it: executed cells and their namespace."""

    def __init__(self) -> None:
        self.cells: list[str] = []
        self.ns: dict[str, Any] = {}

    def run(self, source: str) -> None:
        self.cells.append(source)
        exec(source, self.ns)


def _controller(learner: Learner, tutor: Any) -> tuple[PanelController, list[PanelState]]:
    seen: list[PanelState] = []
    controller = PanelController(
        "greet",
        pack=PACK,
        tutor=tutor,
        history=lambda: learner.cells,
        namespace=lambda: learner.ns,
        on_change=lambda state: seen.append(PanelState(**vars(state))),
        spawn=lambda job: job(),  # inline: the panel uses a thread
    )
    return controller, seen


@pytest.fixture
def learner() -> Learner:
    learner = Learner()
    learner.run(PARTLY_RIGHT)
    return learner


def test_check_shows_passes_and_failures_of_the_latest_code(learner: Learner) -> None:
    controller, seen = _controller(learner, Tutor(PACK))
    controller.check()
    result = controller.last_check
    assert result is not None and (result.passed, result.total) == (1, 2)
    state = controller.state
    assert state.heading == "" and not state.busy and state.error == ""
    assert "greet: 1 of 2 visible tests passed" in state.check_html
    assert (
        "greet(&quot;&quot;) gave &#x27;Hello, !&#x27;, expected &#x27;Hello, stranger!&#x27;"
        in (state.check_html)
    )
    # Buttons were disabled meanwhile, and the panel said what it was doing.
    assert any(s.busy and s.status == "Running your tests…" for s in seen)
    html = response_html(state)
    assert html.startswith('<div class="eduproject-check">')

    learner.run(
        "def greet(name):\n    return 'Hello, stranger!' if not name else f'Hello, {name}!'"
    )
    controller.check()
    assert controller.last_check is not None and controller.last_check.all_passed


def test_hint_levels_advance_and_stop_at_the_last(learner: Learner) -> None:
    controller, _ = _controller(learner, Tutor(PACK))
    headings, labels = [], []
    for _ in range(4):
        controller.hint()
        headings.append(controller.state.heading)
        labels.append(controller.state.next_hint_label)
        assert controller.state.markdown.strip()
        assert controller.state.label == "Offline tutor (no model)"
        assert controller.state.feedback == "none"  # nothing to rate: no model attempt
    assert headings == ["Hint 1 of 3", "Hint 2 of 3", "Hint 3 of 3", "Hint 3 of 3"]
    assert labels == ["Next hint", "Next hint", "Hint again", "Hint again"]
    assert controller.state.hints_given == 3


def test_hint_two_explains_the_failing_test(learner: Learner) -> None:
    controller, _ = _controller(learner, Tutor(PACK))
    controller.hint()
    controller.hint()
    assert "empty_name" in controller.state.markdown
    assert "Hello, stranger!" in controller.state.markdown


def test_not_run_code_falls_back_to_the_stub_and_says_so() -> None:
    controller, _ = _controller(Learner(), Tutor(PACK))
    assert controller.code() == (STUB, False)
    controller.hint()
    assert controller.state.heading == "Hint 1 of 3"
    assert "run its cell (Shift+Enter) first" in controller.state.notice
    controller.explain_code()
    assert controller.state.heading == "About your code"
    assert controller.state.error.startswith("You have not run your code for this exercise yet")


def test_explain_my_code_uses_the_latest_executed_code(learner: Learner) -> None:
    learner.run('greet("Ada")')  # calls greet but does not define it: not the exercise's code
    learner.run("def greet(name):\n    print('Hello, ' + name + '!')\n")
    controller, _ = _controller(learner, Tutor(PACK))
    assert controller.code() == ("def greet(name):\n    print('Hello, ' + name + '!')", True)
    controller.explain_code()
    state = controller.state
    assert state.error == "" and state.markdown.strip()
    assert "return" in state.markdown  # the offline tutor spots the missing return


def test_bad_questions_get_clear_messages(learner: Learner) -> None:
    quota = Quota(allowance=5, refill_seconds=60, max_input_chars=40, store=None)
    controller, _ = _controller(learner, Tutor(PACK, quota=quota))
    controller.ask("   ")
    assert controller.state.error == "Type a question in the box first, then press Ask."
    controller.ask("Why " + "really " * 20 + "does my greeting fail?")
    assert controller.state.error.startswith(
        "Your question is 166 characters long; the limit is 40"
    )
    assert not controller.state.busy
    controller.ask("Why does greet fail?")
    assert controller.state.error == "" and controller.state.markdown.strip()
    assert controller.state.heading == "Your question"


class _Exploding:
    """A tutor whose stream breaks mid-answer: the narrow corner a real tutor cannot be made to show."""

    def hint_stream(self, *args: Any) -> TextStream[TutorReply]:
        return TextStream(self._broken())

    def _broken(self) -> Generator[str, None, TutorReply]:
        yield "Think about "
        raise RuntimeError("internal bug")

    def remaining(self) -> int | None:
        return 3


def test_a_tutor_bug_becomes_a_message_not_a_traceback(learner: Learner) -> None:
    controller, seen = _controller(learner, _Exploding())
    controller.hint()
    assert any(s.markdown == "Think about " for s in seen)  # the delta streamed first
    state = controller.state
    assert state.error.startswith("The tutor hit a problem (RuntimeError)")
    assert not state.busy and state.hints_given == 0  # a failed hint does not use up a level
    assert state.remaining == "3 questions left"
    assert "internal bug" not in response_html(state)


def test_busy_panel_ignores_a_second_click(learner: Learner) -> None:
    started: list[Any] = []
    controller = PanelController(
        "greet",
        pack=PACK,
        tutor=Tutor(PACK),
        history=lambda: learner.cells,
        namespace=lambda: learner.ns,
        spawn=started.append,  # the job never runs: the first call stays in flight
    )
    controller.hint()
    controller.explain_code()
    controller.ask("why?")
    assert len(started) == 1 and controller.state.heading == "Hint 1 of 3"
    started[0]()
    assert not controller.state.busy and controller.state.markdown


def test_unknown_exercise_fails_before_any_widget() -> None:
    from eduproject.errors import TutorError

    with pytest.raises(TutorError, match="no exercise 'gret'"):
        PanelController(
            "gret", pack=PACK, tutor=Tutor(PACK), history=list, namespace=dict, spawn=lambda j: j()
        )


# -- with a model: a loopback OpenAI-compatible server in a thread ------------------------

MODEL_HINT = (
    "Look at what your function gives back when the name is empty. "
    "The test empty_name expects a different greeting for that case, "
    "so your function needs to notice an empty name before it builds the usual text."
)


@pytest.fixture(scope="module")
def model_url() -> Iterator[str]:
    """``POST /v1/completions`` with ``stream: true``: the hint in a few SSE chunks."""
    with fake_openai([], default=Reply(MODEL_HINT, words=8)) as model:
        yield model.base_url


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _router(tmp_path: Path, base_url: str) -> Router:
    route = RouteConfig(
        name="test-route",
        provider="openai",
        model="test-model",
        family="smollm2-instruct",
        base_url=base_url,
        chat=False,
        timeouts=Timeouts(connect=2.0, first_token=5.0, total=10.0),
        retries=0,
    )
    config = Config(
        routes=(route,),
        ledger_path=tmp_path / "ledger.sqlite3",
        cache_path=tmp_path / "cache.sqlite3",
        cache_enabled=False,
    )
    return Router(
        config,
        ledger=Ledger(config.ledger_path),
        cache=None,
        families=default_families(),
        providers=build_providers(config.routes),
    )


@pytest.fixture
def model_router(tmp_path: Path, model_url: str) -> Iterator[Router]:
    router = _router(tmp_path, model_url)
    yield router
    router.close()


def test_model_hint_streams_is_labelled_and_thumbs_reach_the_ledger(
    learner: Learner, model_router: Router
) -> None:
    quota = Quota(allowance=5, refill_seconds=600, store=None)
    controller, seen = _controller(learner, Tutor(PACK, router=model_router, quota=quota))
    assert controller.state.remaining == "5 questions left"
    controller.hint()
    state = controller.state
    assert state.error == "" and state.notice == ""
    assert state.markdown == MODEL_HINT
    # The first delta is shown at once (later ones may be merged by the render throttle).
    partial = [s.markdown for s in seen if s.streaming and s.markdown]
    assert partial and len(partial[0]) < len(MODEL_HINT) and MODEL_HINT.startswith(partial[0])
    # Labelled AI-generated from the first word on; the final label names model and route.
    assert all(s.label.startswith("AI-generated") for s in seen if s.streaming and s.markdown)
    assert state.label == "AI-generated by test-model via test-route"
    assert state.latency.endswith(" s")
    assert state.remaining == "4 questions left"
    assert state.feedback == "open"

    controller.feedback(False)
    assert state.feedback == "sent" and state.notice == "Thanks for the feedback."
    (attempt,) = model_router.ledger.attempts()  # type: ignore[union-attr]
    assert attempt.id == state.reply.attempt_id and attempt.accepted is False
    controller.feedback(True)  # a second click changes nothing
    assert model_router.ledger.attempts()[0].accepted is False  # type: ignore[union-attr]


def test_model_down_gives_the_offline_answer_with_a_one_line_notice(
    learner: Learner, tmp_path: Path
) -> None:
    router = _router(tmp_path, f"http://127.0.0.1:{_free_port()}/v1")  # nothing listens there
    try:
        controller, _ = _controller(learner, Tutor(PACK, router=router))
        controller.hint()
    finally:
        router.close()
    state = controller.state
    assert state.error == "" and state.markdown.strip()
    assert state.label == "Offline tutor (no model)"
    assert state.notice == "The model is unreachable; the offline tutor answered."
    assert "edu-notice" in response_html(state)


def test_quota_exhausted_says_when_the_next_question_comes(
    learner: Learner, model_router: Router
) -> None:
    quota = Quota(allowance=1, refill_seconds=600, store=None)
    controller, _ = _controller(learner, Tutor(PACK, router=model_router, quota=quota))
    controller.hint()
    assert controller.state.label.startswith("AI-generated") and controller.state.remaining == (
        "0 questions left"
    )
    controller.hint()
    state = controller.state
    assert state.heading == "Hint 2 of 3"
    assert state.notice.startswith("You have used your 1 questions; one more in 10 min")
    assert state.label == "Offline tutor (no model)" and state.markdown.strip()
