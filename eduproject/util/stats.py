"""The statistics every summary prints, written once: percentiles, medians, amounts per unit.

The model ledger's summary, the gateway's instructor summary, the benchmark's figures, the
help-seeking page and the course report all use these::

    >>> p50_p95([4.0, 1.0, 3.0, 2.0, 5.0])
    (3.0, 4.8)
    >>> per(0.3, 2), per(0.3, 0), per(None, 2)
    (0.15, None, None)
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile of already sorted values (None when empty).

    >>> percentile([1.0, 2.0, 3.0, 4.0], 0.5)
    2.5
    """
    if not sorted_values:
        return None
    position = (len(sorted_values) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    fraction = position - low
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * fraction


def p50_p95(values: Iterable[float]) -> tuple[float | None, float | None]:
    """The median and the 95th percentile of ``values`` (any order), as :func:`percentile`."""
    ordered = sorted(values)
    return percentile(ordered, 0.50), percentile(ordered, 0.95)


def median(values: Sequence[float]) -> float | None:
    """The median of ``values`` (any order; :func:`statistics.median`), None when empty.

    >>> median([3, 1, 2]), median([])
    (2, None)
    """
    return statistics.median(values) if values else None


def per(amount: float | None, count: int) -> float | None:
    """``amount`` per one of ``count`` (a cost per accepted answer, a share of attempts):
    None when the amount is unknown (unpriced) or there is nothing to divide by."""
    if amount is None or not count:
        return None
    return amount / count
