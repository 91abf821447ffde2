"""Capacity advice: how many replicas a deployment needs, from CPU and latency, and why.

Kept deliberately simple so an operator can check the arithmetic on screen (the same rule
as Kubernetes' Horizontal Pod Autoscaler): each signal is a *load ratio*, what it is (or is
heading to within the look-ahead, when the trend fit is trustworthy) over its target, and

    suggested = ceil(current replicas x the highest ratio), within min..max replicas,

with a 10 % tolerance band where nothing is suggested. CPU's target is the warn threshold
(70 % by default), latency's the service's SLO response time. When the current replica
count is unknown (no Kubernetes deployment for the service) the advice says so and counts
from `min_replicas`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

TOLERANCE = 0.1  # |ratio - 1| within this: hold


@dataclass(frozen=True, slots=True)
class Signal:
    """One load signal: `ratio` now, `projected` at the look-ahead (>= 0), and wording."""

    name: str  # "CPU", "latency"
    ratio: float
    projected: float
    text: str  # e.g. "p95 latency 180 ms against a 100 ms SLO, rising 20 ms/10 min"


@dataclass(frozen=True, slots=True)
class Advice:
    subject: str  # deployment (or service) name
    service: str | None
    current: int | None
    suggested: int
    ratio: float  # the deciding load ratio
    driver: str  # which signal decided
    explanation: str


def advise(
    subject: str,
    service: str | None,
    current: int | None,
    signals: list[Signal],
    min_replicas: int,
    max_replicas: int,
) -> Advice | None:
    """Advice when the replica count should change; None inside the tolerance band or
    without any signal."""
    if not signals:
        return None
    top = max(signals, key=lambda s: max(s.ratio, s.projected))
    ratio = max(top.ratio, top.projected)
    base = current if current is not None else max(1, min_replicas)
    if abs(ratio - 1.0) <= TOLERANCE:
        return None
    if current is None and ratio < 1.0:
        return None  # cannot advise scaling in without knowing what runs
    wanted = max(1, math.ceil(base * ratio - 1e-9))
    suggested = min(max(wanted, min_replicas), max_replicas)
    if current is not None and suggested == current:
        return None
    seen = "; ".join(s.text for s in signals)
    if current is None:
        start = (
            f"{subject}: current replica count unknown (no Kubernetes deployment "
            f"found); counting from MIN_REPLICAS={base}, "
        )
    else:
        start = f"{subject}: {current} replica{'s' if current != 1 else ''} now, "
    verb = "scale out to" if suggested > base else "scale in to"
    text = (
        f"{start}{verb} {suggested}: {top.name} load is {ratio:.2f}x its target "
        f"({seen}); ceil({base} x {ratio:.2f}) = {wanted}"
    )
    if wanted != suggested:
        text += f", kept within {min_replicas}..{max_replicas} replicas"
    return Advice(subject, service, current, suggested, round(ratio, 3), top.name, text)
