"""The one set of summary statistics (eduproject.util.stats)."""

from __future__ import annotations

from eduproject.util.stats import median, p50_p95, per, percentile


def test_percentile() -> None:
    assert percentile([], 0.5) is None
    assert percentile([5.0], 0.95) == 5.0
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 0.5) == 3.0


def test_p50_p95_sorts_first() -> None:
    assert p50_p95([5.0, 1.0, 4.0, 2.0, 3.0]) == (3.0, percentile([1.0, 2.0, 3.0, 4.0, 5.0], 0.95))
    assert p50_p95([]) == (None, None)


def test_median_is_none_for_nothing() -> None:
    assert median([]) is None
    assert median([2.0, 1.0]) == 1.5


def test_an_amount_per_unit_is_none_when_unknown_or_per_nothing() -> None:
    assert per(3.0, 2) == 1.5
    assert per(0.0, 2) == 0.0  # free is $0, not unknown
    assert per(None, 2) is None and per(3.0, 0) is None
