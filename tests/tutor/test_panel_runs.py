"""The panel when things take long: per-test time limits, Stop, the answer queue, Enter,
the allowance shown everywhere, and Explain-this-error on a failed test cell.

Real tutor and real learner code in threads, as in the kernel; the model is a loopback
server (tutor_support) that can be told to write slowly.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from eduproject.core.pack import ExerciseInfo, LessonPack, VisibleTest
from eduproject.learner.errorhook import ErrorHelp
from eduproject.learner.panel_controller import PanelController
from eduproject.learner.responses import AnswerQueue, PanelState
from eduproject.learner.widgets import PLACEHOLDER, Panel
from eduproject.models.config import Config, TutorConfig
from eduproject.models.families import default_families
from eduproject.models.providers import build_providers
from eduproject.models.router import Router
from eduproject.tutor.quota import Quota
from eduproject.tutor.tutor import Tutor

from .tutor_support import route_config, scripted_server

STUB = "def count_up(n):\n    # YOUR CODE HERE\n    raise NotImplementedError()\n"
PACK = LessonPack(
    lesson="loops",
    title="Loops",
    version="v1",
    exercises=(
        ExerciseInfo(
            id="count_up",
            title="Count up",
            prompt="Write `count_up(n)`: the list 1, 2, ..., n.",
            stub=STUB,
            hints=("Start from an empty list.", "Append inside a loop.", "Stop at n."),
            avoid=(),
            visible_tests=(
                VisibleTest("small", 1, False, "assert count_up(3) == [1, 2, 3]\n"),
                VisibleTest("zero", 1, False, "assert count_up(0) == []\n"),
                VisibleTest("count_up-3", 1, True, ""),
                VisibleTest("big_numbers", 1, True, ""),
            ),
        ),
    ),
)
# Never ends for n > 0 (i goes the wrong way); returns at once for n == 0.
ENDLESS = (
    "def count_up(n):\n"
    "    out, i = [], 1\n"
    "    while i <= n:\n"
    "        out.append(i)\n"
    "        i -= 1\n"
    "    return out\n"
)
RIGHT = "def count_up(n):\n    return list(range(1, n + 1))\n"


class Learner:
    def __init__(self, code: str) -> None:
        self.cells = [code]
        self.ns: dict[str, Any] = {}
        exec(code, self.ns)


def controller(
    learner: Learner,
    tutor: Any,
    *,
    spawn: Any = None,
    time_limit: float = 0.5,
    queue: AnswerQueue | None = None,
) -> tuple[PanelController, list[PanelState]]:
    seen: list[PanelState] = []
    made = PanelController(
        "count_up",
        pack=PACK,
        tutor=tutor,
        history=lambda: learner.cells,
        namespace=lambda: learner.ns,
        on_change=lambda state: seen.append(PanelState(**vars(state))),
        spawn=spawn or (lambda job: job()),
        time_limit=time_limit,
        queue=queue or AnswerQueue(),
    )
    return made, seen


def in_thread() -> tuple[Any, list[threading.Thread]]:
    threads: list[threading.Thread] = []

    def spawn(job: Any) -> None:
        thread = threading.Thread(target=job, daemon=True)
        threads.append(thread)
        thread.start()

    return spawn, threads


def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def test_an_endless_loop_costs_its_test_the_time_limit_and_no_more() -> None:
    panel, seen = controller(Learner(ENDLESS), Tutor(PACK), time_limit=0.5)
    started = time.monotonic()
    panel.check()
    took = time.monotonic() - started
    result = panel.last_check
    assert result is not None
    small, zero = result.results
    assert small.message == "`count_up` did not finish within 0.5 s: does a loop never end?"
    assert zero.passed  # the next test still ran, in the same check
    assert took < 3
    assert any(s.status == "Running your tests…" and s.stoppable for s in seen)
    # Hidden tests are listed by a readable name (the made-up `count_up-3` is not).
    assert result.hidden == ("hidden test 1", "big_numbers")
    assert "hidden test 1" in panel.state.check_html


def test_a_hint_after_an_endless_loop_explains_it() -> None:
    panel, _ = controller(Learner(ENDLESS), Tutor(PACK), time_limit=0.3)
    panel.hint()
    assert panel.state.heading == "Hint 1 of 3" and not panel.state.busy
    assert panel.state.markdown.strip()


def test_stop_ends_running_tests_at_once_and_frees_the_panel() -> None:
    spawn, threads = in_thread()
    panel, _ = controller(Learner(ENDLESS), Tutor(PACK), spawn=spawn, time_limit=30.0)
    panel.check()
    wait_for(lambda: panel._tests is not None and panel._tests._inside)
    time.sleep(0.2)  # inside the endless loop by now
    started = time.monotonic()
    panel.stop()
    assert not panel.state.busy and panel.state.notice == "Stopped."
    for thread in threads:
        thread.join(5)
    assert time.monotonic() - started < 3  # not the 30 s limit
    assert "stopped: you pressed Stop while it ran" in panel.state.check_html
    assert "not run: you stopped the tests" in panel.state.check_html
    panel.time_limit = 0.3
    panel.check()  # the panel works again
    for thread in threads:
        thread.join(5)
    assert panel.last_check is not None and panel.last_check.total == 2


SLOW = (
    "Your loop moves the counter the wrong way, so it never reaches the end you want. "
    "Look at the line that changes the counter inside the loop and ask which direction "
    "it should go. Then check the condition of the loop against that direction."
)


def _router(tmp: Path, base_url: str) -> Router:
    route = route_config("slow", base_url)
    config = Config(
        routes=(route,), tutor=TutorConfig(routes=("slow", "offline")), cache_enabled=False
    )
    return Router(
        config,
        ledger=None,
        cache=None,
        families=default_families(),
        providers=build_providers(config.routes),
    )


@pytest.fixture
def slow_server() -> Iterator[Any]:
    with scripted_server([SLOW] * 6, delay_s=0.06) as server:
        yield server


def test_answers_queue_one_at_a_time_and_say_so(tmp_path: Path, slow_server: Any) -> None:
    queue = AnswerQueue()
    quota = Quota(allowance=5, refill_seconds=600)
    with _router(tmp_path, slow_server.base_url) as router:
        tutor = Tutor(PACK, router=router, quota=quota)
        spawn, threads = in_thread()
        first, _ = controller(Learner(RIGHT), tutor, spawn=spawn, queue=queue)
        second, seen = controller(Learner(RIGHT), tutor, spawn=spawn, queue=queue)
        first.explain_code()
        wait_for(lambda: first.state.status.startswith("The AI tutor is writing"))
        second.ask("Why do I need a loop here?")
        for thread in threads:
            thread.join(30)
    assert any(s.status == "Queued: 1 answer ahead of yours…" for s in seen)
    assert first.state.label.startswith("AI-generated") and second.state.markdown
    # Both panels show the same, current allowance (5 minus the two questions).
    assert first.state.remaining == second.state.remaining == "3 questions left"


def test_stop_during_an_answer_gives_the_question_back(tmp_path: Path, slow_server: Any) -> None:
    quota = Quota(allowance=5, refill_seconds=600)
    with _router(tmp_path, slow_server.base_url) as router:
        spawn, threads = in_thread()
        panel, _ = controller(Learner(RIGHT), Tutor(PACK, router=router, quota=quota), spawn=spawn)
        panel.explain_code()
        wait_for(lambda: panel.state.status.startswith("The AI tutor is writing"))
        assert not panel.state.markdown  # nothing checked yet: nothing shown
        panel.stop()
        assert not panel.state.busy and panel.state.notice == "Stopped."
        for thread in threads:
            thread.join(10)
    assert quota.remaining("local") == 5


def test_enter_in_the_question_box_sends_it() -> None:
    panel, _ = controller(Learner(RIGHT), Tutor(PACK))
    view = Panel(panel, title="Count up")
    view.question.value = "What does a for loop do?"
    view._on_question_msg(view.question, {"event": "submit"}, [])
    assert panel.state.heading == "Your question"
    assert "loop" in panel.state.markdown
    # A saved notebook shows the placeholder where the widget cannot be drawn.
    assert view._repr_mimebundle_()["text/plain"] == PLACEHOLDER


def test_explain_this_error_in_a_test_cell_knows_its_exercise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import eduproject.learner.errorhook as errorhook
    from eduproject.learner import view

    learner = Learner("def count_up(n):\n    return list(range(n))\n")
    test_cell = "assert count_up(3) == [1, 2, 3]\n"
    try:
        exec(compile(test_cell, "/tmp/ipykernel_1/2.py", "exec"), learner.ns)
    except AssertionError as exc:
        # As in the kernel, the traceback starts in the test cell (IPython's frames are
        # left out by error_text; here the test's own frame is).
        error = exc.with_traceback(exc.__traceback__.tb_next if exc.__traceback__ else None)
    monkeypatch.setattr(errorhook, "_session", lambda: (PACK, Tutor(PACK)))
    monkeypatch.setattr(view, "executed_cells", lambda: learner.cells)
    box = ErrorHelp(error, test_cell, spawn=lambda job: job())
    box.controller = box._controller()
    exercise, code, text = box._context()
    assert exercise == "count_up"
    assert code == learner.cells[0].strip()  # the learner's function, not the test cell
    assert text.startswith("In a test of exercise 'count_up'")
    assert not re.search(r"line \d", text)  # never the test cell's line number
    box.explain()
    reply = box.view.response.value
    assert "Where to look" in reply and "count_up" in reply


def test_the_panel_runs_tests_as_check_does_when_nothing_is_slow() -> None:
    from eduproject.learner.check import check
    from eduproject.learner.timed_check import TimedCheck

    info = PACK.exercise("count_up")
    shared = VisibleTest(
        "first", 1, False, "expected = [1, 2, 3]\nassert count_up(3) == expected", "c1", 1
    )
    later = VisibleTest("second", 1, False, "expected = [1, 2, 3]\nassert seen == 3", "c1", 1)
    binds = VisibleTest("binds", 1, False, "seen = len(count_up(3))", "c0", 0)
    pack = LessonPack(
        "loops", "Loops", "v1", (replace(info, visible_tests=(binds, shared, later)),)
    )
    learner = Learner(RIGHT)
    direct = check("count_up", pack=pack, namespace=learner.ns, display=False)
    timed = TimedCheck("count_up", pack, learner.ns, time_limit=2)()
    assert timed.results == direct.results and timed.all_passed  # `seen` carried over


def test_code_blocked_in_c_is_left_running_and_the_next_test_still_runs() -> None:
    from eduproject.learner.timed_check import TimedCheck

    learner = Learner(
        "import time\ndef count_up(n):\n    if n:\n        time.sleep(3)\n    return []\n"
    )
    started = time.monotonic()
    result = TimedCheck("count_up", PACK, learner.ns, time_limit=0.3)()
    small, zero = result.results
    assert small.message == (
        "`count_up` did not finish within 0.3 s: does a loop never end? "
        "(it is still running in the background)"
    )
    assert zero.passed
    assert time.monotonic() - started < 2.5
