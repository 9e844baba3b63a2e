"""Client-side stop strings and malformed-answer detection."""

from __future__ import annotations

import pytest

from eduproject.models.checks import (
    StopFilter,
    find_repetition,
    malformed_reason,
    template_token,
    too_short,
)
from eduproject.models.families import ModelFamily


def feed_all(f: StopFilter, parts: list[str]) -> list[str]:
    out = [f.feed(p) for p in parts]
    out.append(f.flush())
    return out


def test_stop_split_across_chunks_is_never_emitted() -> None:
    f = StopFilter(stops=("<|im_end|>",), leaks=())
    out = feed_all(f, ["Hi <", "|im", "_end|", "> more"])
    assert "".join(out) == "Hi " and f.stopped and f.leaked is None
    assert all("<|" not in o for o in out)


def test_text_that_only_looks_like_a_marker_start_is_released() -> None:
    f = StopFilter(stops=("<|im_end|>",), leaks=())
    assert f.feed("a <") == "a "  # held: could become the stop string
    assert f.feed("b") == "<b"  # no longer can
    assert f.flush() == "" and f.text == "a <b"


def test_plain_text_streams_without_delay() -> None:
    f = StopFilter(stops=("###",), leaks=("<fim_middle>",))
    assert f.feed("hello ") == "hello "
    assert f.feed("world") == "world"


def test_leaked_template_token_cuts_and_is_named() -> None:
    f = StopFilter(stops=("<|endoftext|>",), leaks=("<fim_middle>", "<|endoftext|>"))
    assert "".join(feed_all(f, ["x = 1<fim_mi", "ddle>y"])) == "x = 1"
    assert f.leaked == "<fim_middle>" and f.stopped


def test_earliest_marker_wins() -> None:
    f = StopFilter(stops=("###",), leaks=("<jupyter_output>",))
    assert "".join(feed_all(f, ["a ### b <jupyter_output>"])) == "a "
    assert f.leaked is None


@pytest.mark.parametrize(
    "text",
    [
        "print('hi')\n" * 12,
        "The answer is " + "the answer is " * 9,
        "x" + "foo(bar)\n" * 15,
    ],
)
def test_repetition_loops_are_found(text: str) -> None:
    assert find_repetition(text) is not None


@pytest.mark.parametrize(
    "text",
    [
        "=" * 200,
        "def f(x):\n    return x + 1\n\n\nprint(f(2))\n",
        "for i in range(10):\n    total += i\nprint(total)\n" * 2,
        " " * 300,
    ],
)
def test_ordinary_text_is_not_a_loop(text: str) -> None:
    assert find_repetition(text) is None


def test_malformed_reasons() -> None:
    assert malformed_reason("\n  ", "stop", ()) == "empty"
    assert malformed_reason("half", "length", ()) == "cut at the length limit"
    assert malformed_reason("a <|im_start|> b", "stop", ("<|im_start|>",)) == (
        "template token '<|im_start|>' leaked into the answer"
    )
    assert malformed_reason("ok", "stop", (), leaked="<fim_middle>") is not None
    assert "repetition loop" in (
        malformed_reason("go\n" + "again and again\n" * 10, "stop", ()) or ""
    )
    assert malformed_reason("A list holds items.", "stop", ("<|im_end|>",)) is None


def test_too_short_means_empty_by_default_and_a_few_words_for_prose() -> None:
    assert too_short("") and too_short(" \n\t")
    assert not too_short("1") and not too_short("x")
    # The tutor's rule: fewer than 4 words and fewer than 40 characters.
    assert too_short("Yes.", words=4, chars=40)
    assert not too_short("Use a loop here.", words=4, chars=40)
    # CJK prose has few "words" (runs of letters) but many characters.
    assert not too_short(
        "你应该使用一个循环来遍历列表中的每个数字。然后检查每个数字是不是偶数。如果是偶数就把它加到总和里面。",
        words=4,
        chars=40,
    )


def test_template_tokens_of_the_family_or_of_any_template() -> None:
    # The router knows the family: only its own tokens count, wherever they stand.
    assert template_token("Use <s> for strikethrough in HTML.", ("<|im_end|>",)) is None
    assert template_token("x = 1 [/INST] y", ("[INST]", "[/INST]")) == "[/INST]"
    # The tutor does not know it: the markers of any template count.
    assert template_token("Use <s> for strikethrough.", any_family=True) == "<s>"
    assert template_token("Hello.\nassistant:\nHi", any_family=True) == "assistant:"
    assert template_token("The user: a person.", any_family=True) is None
    # Every registered family's tokens count, whichever comes first; at one place the longest.
    assert template_token("a <EOT> b <s>", any_family=True) == "<EOT>"
    assert template_token("### Response:\nUse a loop.", any_family=True) == "### Response:"
    plain = ModelFamily("plain", "plain chat", 2048, chat=True, stop=(), leak_tokens=("@@",))
    assert template_token("a @@ b", any_family=True) is None
    assert template_token("a @@ b", any_family=True, families=[plain]) == "@@"


def test_the_router_lets_code_repeat_its_lines() -> None:
    # Three times the same lines is a loop in prose (the tutor's rule), not in code.
    code = "for i in range(3):\n    total += i\n" * 3
    assert find_repetition(code) is None and malformed_reason(code, "stop", ()) is None
