"""What a learner sees of a model answer: only text that passed every check, from its first word.

Real router and OpenAI provider against the scripted server on loopback (tutor_support):
each test scripts the model into one way of going wrong -- calling failing code correct,
saying nothing, leaking after a good start, being cut off at the length limit -- and checks
what streamed, what the final reply is, and what the question cost.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from eduproject.core.results import TestResult
from eduproject.models.cache import ResponseCache
from eduproject.models.config import Config, TutorConfig
from eduproject.models.families import default_families
from eduproject.models.ledger import Ledger
from eduproject.models.providers import build_providers
from eduproject.models.router import Router
from eduproject.tutor.malformed import claims_correct, content_free
from eduproject.tutor.quota import Quota
from eduproject.tutor.tutor import Reply, Tutor, TutorReply, release_point

from .tutor_support import CUT_OFF, route_config, sample_pack, scripted_server

PACK = sample_pack("03-lists-dicts")
CODE = (
    "def sum_evens(numbers):\n"
    "    total = 0\n"
    "    for n in numbers:\n"
    "        total += n\n"
    "    return total\n"
)
FAILING = [TestResult("basics", False, "sum_evens([1, 2, 3, 4]) gave 10, expected 6")]
CLEAN = (
    "Your loop adds every number to the total, which is why the test `basics` gets 10 instead "
    "of 6. Only some numbers should be added. Think about how you can tell whether a number is "
    "even: what is left over when you divide it by two?"
)
CORRECT = (
    "Your code is correct and it adds up the numbers in the list exactly as the exercise "
    "asks, so there is nothing to change here. Well done on this exercise!"
)
READY = "Sure! I'm ready to help you with this exercise. Let me know what you need."
LEAK_AFTER_A_GOOD_START = (
    CLEAN + "\n\nHere it is:\n\n```python\ndef sum_evens(numbers):\n    total = 0\n"
    "    for n in numbers:\n        if n % 2 == 0:\n            total += n\n    return total\n```\n"
)


def run(stream: Reply) -> tuple[str, TutorReply]:
    shown = list(stream)
    return "".join(shown), stream.finish()


def router_for(tmp: Path, base_url: str, *, cache: bool = False) -> Router:
    route = replace(route_config("fake", base_url), cache=cache)
    config = Config(
        routes=(route,),
        tutor=TutorConfig(routes=("fake", "offline")),
        cache_enabled=cache,
        ledger_path=tmp / "ledger.sqlite3",
    )
    return Router(
        config,
        ledger=Ledger(config.ledger_path),
        cache=ResponseCache(tmp / "cache.sqlite3", ttl_s=3600) if cache else None,
        families=default_families(),
        providers=build_providers(config.routes),
    )


def test_release_points_are_sentence_ends_outside_code() -> None:
    assert release_point("Look at the loop. It stops one") == len("Look at the loop.")
    assert release_point("No sentence ends here yet") == 0
    # Inside an open code block nothing is released; an announcing colon waits too.
    text = "Check the loop.\nHere is one:\n```python\nx = 1.\ny = 2\n"
    assert release_point(text) == len("Check the loop.\n")


def test_the_checks_a_reply_must_pass() -> None:
    assert content_free(READY)
    assert not content_free(CLEAN)
    assert claims_correct(CORRECT)
    assert not claims_correct("Your code is correct for positive numbers, but not for -2.")


def test_calling_failing_code_correct_never_shows_and_costs_nothing(tmp_path: Path) -> None:
    quota = Quota(allowance=3, refill_seconds=600)
    with (
        scripted_server([CORRECT, CORRECT]) as server,
        router_for(tmp_path, server.base_url) as router,
    ):
        tutor = Tutor(PACK, router=router, quota=quota, learner="ada")
        shown, reply = run(tutor.hint_stream("sum_evens", CODE, FAILING, 2))
    assert shown == ""  # not one word of "Your code is correct" reached the learner
    assert reply.source == "instructor"
    assert "calls your code correct although a test fails" in reply.notice
    assert "gave away too much" not in reply.notice  # it did not
    assert quota.remaining("ada") == 3
    assert len(server.requests) == 2


def test_a_content_free_reply_is_replaced_and_free(tmp_path: Path) -> None:
    quota = Quota(allowance=3, refill_seconds=600)
    with (
        scripted_server([READY, READY]) as server,
        router_for(tmp_path, server.base_url) as router,
    ):
        tutor = Tutor(PACK, router=router, quota=quota, learner="ada")
        shown, reply = run(tutor.explain_code_stream(CODE, "sum_evens"))
    assert shown == ""
    assert reply.source == "offline"
    assert "says nothing about your code or the exercise" in reply.notice
    assert quota.remaining("ada") == 3


def test_a_reply_cut_at_the_length_limit_is_not_shown_and_free(tmp_path: Path) -> None:
    # One long sentence, cut off: no complete checked sentence ever streamed.
    cut = CUT_OFF + "Your loop adds every number to the total and to fix it you should look at"
    quota = Quota(allowance=3, refill_seconds=600)
    with (
        scripted_server([cut, cut]) as server,
        router_for(tmp_path, server.base_url) as router,
    ):
        tutor = Tutor(PACK, router=router, quota=quota, learner="ada")
        shown, reply = run(tutor.hint_stream("sum_evens", CODE, FAILING, 1))
    assert shown == ""
    assert reply.source == "instructor"
    assert "cut at the length limit" in reply.notice
    assert quota.remaining("ada") == 3


def test_a_good_start_stays_when_the_rest_would_leak(tmp_path: Path) -> None:
    with (
        scripted_server([LEAK_AFTER_A_GOOD_START]) as server,
        router_for(tmp_path, server.base_url) as router,
    ):
        shown, reply = run(Tutor(PACK, router=router).hint_stream("sum_evens", CODE, FAILING, 2))
    # What streamed is exactly the final answer: nothing is taken back.
    assert shown.strip() == reply.text == CLEAN
    assert "n % 2" not in shown
    assert reply.source == "model" and reply.label.startswith("AI-generated")
    assert reply.notice.startswith("The rest of the AI tutor's answer was held back")
    assert len(server.requests) == 1


def test_no_removes_the_answer_from_the_cache(tmp_path: Path) -> None:
    with (
        scripted_server([CLEAN, CLEAN.replace("two", "2")]) as server,
        router_for(tmp_path, server.base_url, cache=True) as router,
    ):
        tutor = Tutor(PACK, router=router)
        first = tutor.hint("sum_evens", CODE, FAILING, 1)
        again = tutor.hint("sum_evens", CODE, FAILING, 1)
        assert len(server.requests) == 1 and again.text == first.text  # from the cache
        tutor.feedback(again, accepted=False)  # "No": this answer did not help
        fresh = tutor.hint("sum_evens", CODE, FAILING, 1)
        assert len(server.requests) == 2 and fresh.text != first.text
        # "Yes" keeps an answer cached.
        tutor.feedback(fresh, accepted=True)
        assert tutor.hint("sum_evens", CODE, FAILING, 1).text == fresh.text
        assert len(server.requests) == 2


def test_stopping_before_anything_showed_gives_the_question_back(tmp_path: Path) -> None:
    quota = Quota(allowance=3, refill_seconds=600)
    with (
        scripted_server([CLEAN]) as server,
        router_for(tmp_path, server.base_url) as router,
    ):
        tutor = Tutor(PACK, router=router, quota=quota, learner="ada")
        gen = tutor.hint_stream("sum_evens", CODE, FAILING, 1)
        assert next(gen) == ""  # the model is writing, nothing checked yet
        assert quota.remaining("ada") == 2
        gen.close()  # the learner pressed Stop
    assert quota.remaining("ada") == 3


def test_offline_first_without_any_route_named(tmp_path: Path) -> None:
    with scripted_server([CLEAN]) as server:
        route = route_config("fake", server.base_url)
        config = Config(routes=(replace(route, demonstration=True),), cache_enabled=False)
        with Router(
            config,
            ledger=None,
            cache=None,
            families=default_families(),
            providers=build_providers(config.routes),
        ) as router:
            tutor = Tutor(PACK, router=router)
            reply = tutor.ask("What does % do?", CODE, "sum_evens")
            described = tutor.describe()
    # A demonstration model is never an implicit default: the offline tutor answered.
    assert reply.source == "offline" and server.requests == []
    assert "(no AI model is set up)" in reply.text
    assert "offline tutor" in described and "no AI model is set up" in described
