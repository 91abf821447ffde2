"""Nearest-rank percentiles of latencies. Pure."""

from __future__ import annotations

import math


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (q in 0..1)."""
    if not sorted_values:
        raise ValueError("no values")
    rank = math.ceil(q * len(sorted_values))  # 1-based nearest rank
    return sorted_values[min(len(sorted_values), max(1, rank)) - 1]


def latency_percentiles(
    sorted_values: list[float],
) -> tuple[float | None, float | None, float | None]:
    """(p50, p95, p99) of sorted values; all None when there are none."""
    if not sorted_values:
        return None, None, None
    return (
        percentile(sorted_values, 0.50),
        percentile(sorted_values, 0.95),
        percentile(sorted_values, 0.99),
    )
