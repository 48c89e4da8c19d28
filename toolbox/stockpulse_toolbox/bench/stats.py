"""Percentiles without numpy: nearest rank on the sorted sample, as most load tools report them."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence


def percentile(sorted_values: Sequence[float], p: float) -> float:
    if not sorted_values:
        raise ValueError("no values")
    rank = max(1, math.ceil(p / 100.0 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def percentiles(values: Iterable[float], ps: Iterable[float]) -> dict[str, float]:
    """``{"p50": ..., "p95": ...}``; empty when there are no values."""
    ordered = sorted(values)
    if not ordered:
        return {}
    return {f"p{p:g}": percentile(ordered, p) for p in ps}
