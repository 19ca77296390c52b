"""Statistics of per-call times: median and the p10-p90 band."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Summary", "summarize"]


@dataclass(frozen=True)
class Summary:
    """Median, 10th and 90th percentile of per-call seconds, and how many calls."""

    median: float
    p10: float
    p90: float
    calls: int


def summarize(per_call: Sequence[float]) -> Summary:
    """Summarize per-call seconds.

    >>> summarize([1.0, 2.0, 3.0, 4.0, 5.0]).median
    3.0
    """
    arr = np.asarray(per_call, dtype=np.float64)
    p10, median, p90 = np.percentile(arr, [10, 50, 90])
    return Summary(float(median), float(p10), float(p90), int(arr.size))
