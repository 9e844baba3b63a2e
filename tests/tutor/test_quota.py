"""The refilling allowance and the input cap (time comes from an injectable clock)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eduproject.errors import QuotaExceeded, TutorError
from eduproject.tutor.quota import Quota, format_wait


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_allowance_is_used_then_refused_with_the_wait() -> None:
    clock = Clock()
    quota = Quota(allowance=10, refill_seconds=180, clock=clock)
    for left in range(9, -1, -1):
        assert quota.consume("ada") == left
    clock.now += 20
    with pytest.raises(QuotaExceeded) as info:
        quota.consume("ada")
    assert str(info.value) == "You have used your 10 questions; one more in 2 min 40 s."
    assert info.value.retry_in_s == pytest.approx(160)


def test_one_question_comes_back_per_refill_period_up_to_the_allowance() -> None:
    clock = Clock()
    quota = Quota(allowance=3, refill_seconds=60, clock=clock)
    for _ in range(3):
        quota.consume()
    clock.now += 59
    assert quota.remaining() == 0
    clock.now += 1
    assert quota.remaining() == 1
    clock.now += 3600
    assert quota.remaining() == 3  # never above the allowance


def test_learners_have_their_own_buckets_and_refunds() -> None:
    quota = Quota(allowance=2, refill_seconds=60, clock=Clock())
    quota.consume("ada")
    quota.consume("ada")
    assert quota.remaining("ada") == 0 and quota.remaining("grace") == 2
    quota.refund("ada")
    assert quota.remaining("ada") == 1
    quota.refund("grace")
    assert quota.remaining("grace") == 2


def test_the_store_survives_a_restart_and_a_damaged_file(tmp_path: Path) -> None:
    store = tmp_path / "sub" / "quota.json"
    clock = Clock()
    Quota(allowance=5, store=store, clock=clock).consume("ada")
    assert Quota(allowance=5, store=store, clock=clock).remaining("ada") == 4
    assert set(json.loads(store.read_text())) == {"ada"}
    store.write_text("{not json")
    assert Quota(allowance=5, store=store, clock=clock).remaining("ada") == 5


def test_a_clock_set_back_does_not_drain_the_bucket() -> None:
    clock = Clock()
    quota = Quota(allowance=2, refill_seconds=60, clock=clock)
    quota.consume()
    clock.now -= 10_000
    assert quota.remaining() == 1


def test_input_cap_message() -> None:
    quota = Quota(max_input_chars=1000)
    quota.check_input("x" * 1000)
    with pytest.raises(
        TutorError,
        match=r"^Your question is 1,234 characters long; the limit is 1,000\. Shorten it",
    ):
        quota.check_input("x" * 1234)


def test_bad_settings_are_refused_with_the_setting_to_fix() -> None:
    with pytest.raises(TutorError, match="allowance >= 1") as info:
        Quota(allowance=0)
    assert "eduproject.toml [tutor]" in str(info.value)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.2, "1 s"),
        (45, "45 s"),
        (60, "1 min"),
        (160, "2 min 40 s"),
        (3600, "1 h"),
        (3900, "1 h 5 min"),
    ],
)
def test_format_wait(seconds: float, text: str) -> None:
    assert format_wait(seconds) == text
