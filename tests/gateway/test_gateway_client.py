"""The panel with a GatewayTutor against a real gateway: the learner sees what the in-kernel
tutor would show -- offline answers, model answers, quota messages, errors and thumbs."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from eduproject.authoring.parse import load_lesson
from eduproject.core.pack import LessonPack
from eduproject.learner.gateway_client import UNREACHABLE, GatewayTutor
from eduproject.learner.panel_controller import PanelController
from eduproject.learner.responses import PanelState
from eduproject.learner.tutoring import make_tutor
from eduproject.models.config import Config, RouteConfig, Timeouts, TutorConfig
from eduproject.models.families import default_families
from eduproject.models.ledger import Ledger
from eduproject.models.providers import build_providers
from eduproject.models.router import Router
from eduproject.tutor.quota import Quota
from eduproject.tutor.tutor import Tutor

from .gateway_support import CLEAN, CODE, LESSON, StartGateway


class Learner:
    """A learner's kernel as the panel sees it: executed cells and their namespace."""

    def __init__(self) -> None:
        self.cells: list[str] = []
        self.ns: dict[str, Any] = {}

    def run(self, source: str) -> None:
        self.cells.append(source)
        exec(source, self.ns)


@pytest.fixture
def pack(course: Path) -> LessonPack:
    """The pack release would write next to the learner notebook (lesson.json)."""
    return LessonPack.from_lesson(load_lesson(course / "exercises" / LESSON))


@pytest.fixture
def remote_tutor() -> Iterator[Callable[..., GatewayTutor]]:
    """``remote_tutor(pack, url=..., token=...)``: GatewayTutors closed after the test."""
    made: list[GatewayTutor] = []

    def make(pack: LessonPack, **options: Any) -> GatewayTutor:
        made.append(GatewayTutor(pack, **options))
        return made[-1]

    yield make
    for tutor in made:
        tutor.close()


def panel(pack: LessonPack, tutor: Any) -> PanelController:
    learner = Learner()
    learner.run(CODE)
    return PanelController(
        "sum_evens",
        pack=pack,
        tutor=tutor,
        history=lambda: learner.cells,
        namespace=lambda: learner.ns,
        spawn=lambda job: job(),  # inline: the notebook panel uses a thread
    )


def shown(state: PanelState) -> tuple[str, str, str, str, str]:
    return state.heading, state.markdown, state.label, state.notice, state.error


def test_offline_answers_through_the_gateway_equal_the_in_kernel_ones(
    start_gateway: StartGateway, pack: LessonPack, remote_tutor: Callable[..., GatewayTutor]
) -> None:
    with start_gateway(model=False) as gw:
        remote = panel(pack, remote_tutor(pack, url=gw.url, token=gw.tokens["ada"]))
        local = panel(pack, Tutor(pack))
        for _ in range(3):
            remote.hint()
            local.hint()
            assert shown(remote.state) == shown(local.state)
            assert remote.state.label == "Offline tutor (no model)"
        remote.explain_code()
        local.explain_code()
        assert shown(remote.state) == shown(local.state)
        remote.ask("Why do I get 10 and not 6?")
        local.ask("Why do I get 10 and not 6?")
        assert shown(remote.state) == shown(local.state)
        assert remote.state.remaining == local.state.remaining == ""


def _local_router(tmp: Path, base_url: str) -> Router:
    route = RouteConfig(
        name="fake",
        provider="openai",
        model="fake/tutor-model",
        family="smollm2-instruct",
        base_url=base_url,
        retries=0,
        cooldown_s=0.0,
        cache=False,
        timeouts=Timeouts(connect=2.0, first_token=10.0, total=20.0),
    )
    config = Config(routes=(route,), tutor=TutorConfig(routes=("fake", "offline")))
    return Router(
        config,
        ledger=Ledger(tmp / "kernel-ledger.sqlite3"),
        cache=None,
        families=default_families(),
        providers=build_providers(config.routes),
    )


def test_model_answers_stream_into_the_panel_with_label_allowance_and_thumbs(
    start_gateway: StartGateway,
    pack: LessonPack,
    tmp_path: Path,
    remote_tutor: Callable[..., GatewayTutor],
) -> None:
    with start_gateway(allowance=4, fake_options={"chunk_delay_s": 0.03}) as gw:
        tutor = remote_tutor(pack, url=gw.url, token=gw.tokens["ada"])
        remote = panel(pack, tutor)
        assert remote.state.remaining == "4 questions left"
        frames: list[str] = []
        remote.on_change = lambda state: frames.append(state.markdown)
        remote.hint()
        assert gw.fake is not None
        with _local_router(tmp_path, gw.fake.base_url) as router:
            local = panel(pack, Tutor(pack, router=router))
            local.hint()
        assert shown(remote.state) == shown(local.state)
        state = remote.state
        assert (state.markdown, state.label) == (CLEAN, "AI-generated by fake/tutor-model via fake")
        assert state.remaining == "3 questions left" and state.feedback == "open"
        assert any(0 < len(f) < len(CLEAN) for f in frames)  # it streamed
        assert state.latency.endswith(" s")

        remote.feedback(True)
        assert (remote.state.feedback, remote.state.notice) == ("sent", "Thanks for the feedback.")
        ledger = gw.service.router.ledger
        assert ledger is not None
        assert {a.id: a.accepted for a in ledger.attempts()}[state.reply.attempt_id] is True

        remote.ask("Why do I get 10 and not 6?")
        assert remote.state.markdown == CLEAN and remote.state.remaining == "2 questions left"


def test_an_exhausted_allowance_reads_as_in_the_kernel(
    start_gateway: StartGateway,
    pack: LessonPack,
    tmp_path: Path,
    remote_tutor: Callable[..., GatewayTutor],
) -> None:
    with start_gateway(allowance=1, refill_seconds=600) as gw:
        remote = panel(pack, remote_tutor(pack, url=gw.url, token=gw.tokens["bob"]))
        remote.hint()
        assert remote.state.label.startswith("AI-generated")
        remote.hint()
        assert gw.fake is not None
        with _local_router(tmp_path, gw.fake.base_url) as router:
            quota = Quota(allowance=1, refill_seconds=600, store=None)
            local = panel(pack, Tutor(pack, router=router, quota=quota, learner="bob"))
            local.hint()
            local.hint()
    for state in (remote.state, local.state):
        assert state.label == "Offline tutor (no model)"
        assert state.notice.startswith("You have used your 1 questions; one more in ")
        assert state.notice.endswith(" Meanwhile, the offline tutor answered.")
        assert state.remaining == "0 questions left"
    assert remote.state.markdown == local.state.markdown


def test_questions_over_the_cap_get_the_tutors_message(
    start_gateway: StartGateway, pack: LessonPack, remote_tutor: Callable[..., GatewayTutor]
) -> None:
    with start_gateway(max_input_chars=40) as gw:
        remote = panel(pack, remote_tutor(pack, url=gw.url, token=gw.tokens["ada"]))
        remote.ask("Why " + "really " * 20 + "does it fail?")
        local = panel(pack, Tutor(pack, quota=Quota(max_input_chars=40), router=None))
        assert remote.state.error == (
            "Your question is 157 characters long; the limit is 40. "
            "Shorten it to the part you are stuck on and ask again."
        )
        remote.ask("  ")
        local.ask("  ")
        assert remote.state.error == local.state.error


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_gateway_means_the_offline_tutor_with_a_notice(
    pack: LessonPack, remote_tutor: Callable[..., GatewayTutor]
) -> None:
    tutor = remote_tutor(pack, url=f"http://127.0.0.1:{_closed_port()}", token="edut_x")
    remote = panel(pack, tutor)
    assert remote.state.remaining == ""
    remote.hint()
    local = panel(pack, Tutor(pack))
    local.hint()
    assert remote.state.markdown == local.state.markdown
    assert remote.state.notice == UNREACHABLE
    remote.feedback(True)  # nothing to rate: an offline answer
    assert remote.state.notice == UNREACHABLE
    with pytest.raises(Exception, match="cannot reach the tutor service"):
        tutor.me()


def test_a_refused_token_says_whom_to_ask(
    start_gateway: StartGateway, pack: LessonPack, remote_tutor: Callable[..., GatewayTutor]
) -> None:
    with start_gateway() as gw:
        remote = panel(pack, remote_tutor(pack, url=gw.url, token="edut_not-a-real-token"))
        remote.explain_code()
        assert remote.state.label == "Offline tutor (no model)"
        assert "did not accept your tutor token" in remote.state.notice
        assert gw.fake is not None and gw.fake.requests == []


def test_explain_error_and_a_lesson_the_gateway_does_not_serve(
    start_gateway: StartGateway, pack: LessonPack, remote_tutor: Callable[..., GatewayTutor]
) -> None:
    with start_gateway() as gw:
        tutor = remote_tutor(pack, url=gw.url, token=gw.tokens["ada"])
        reply = tutor.explain_error("NameError: name 'totl' is not defined", CODE, "sum_evens")
        assert (reply.source, reply.text) == ("model", CLEAN)
        other = LessonPack("unknown-lesson", "Other", "v1", pack.exercises)
        stray = remote_tutor(other, url=gw.url, token=gw.tokens["ada"])
        reply = stray.hint("sum_evens", CODE, [], 1)
        assert reply.source == "offline"
        assert reply.notice.startswith("The tutor service cannot help here (")
        assert stray.me()["learner"] == "ada"


def test_make_tutor_picks_the_gateway_only_when_both_variables_are_set(
    monkeypatch: pytest.MonkeyPatch, pack: LessonPack
) -> None:
    monkeypatch.setenv("EDUPROJECT_TUTOR_URL", "http://tutor.example:8765/")
    assert isinstance(make_tutor(pack), Tutor)
    monkeypatch.setenv("EDUPROJECT_TUTOR_TOKEN", "edut_secret-value")
    tutor = make_tutor(pack)
    assert isinstance(tutor, GatewayTutor)
    assert tutor.url == "http://tutor.example:8765" and tutor.pack is pack
    assert "edut_secret-value" not in repr(tutor)
    tutor.close()
    monkeypatch.delenv("EDUPROJECT_TUTOR_URL")
    assert isinstance(make_tutor(pack), Tutor)
