"""What the prediction engine hands the store: predictions and the engine's status.

Root causes are `predictions.rootcause.Cause`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypedDict

from devmentor_monitor.incidents.model import Severity


@dataclass(frozen=True, slots=True)
class Prediction:
    """One thing the prediction engine sees coming, explained for a person on call.

    kind: anomaly, exhaustion (disk/memory), leak, error_budget, capacity. `title` is the
    one-line summary (panes, lists); `explanation` says what was seen and why it matters.
    """

    kind: str
    subject: str  # series key, resource ("disk:/", "memory"), process, service, deployment
    service: str | None  # the service it concerns; None for the host
    severity: Severity
    score: float  # 0..1: anomaly score, or the forecast's confidence
    title: str
    explanation: str
    started_at: float  # when it was first seen (anomaly onset, first forecast)
    value: float | None = None  # seconds to exhaustion, suggested replicas, current value
    detail: dict[str, object] = field(default_factory=dict, compare=False)

    def __str__(self) -> str:
        return f"{self.severity.value.upper():<8} {self.title}"


class RecentAnomaly(TypedDict):
    """An anomaly that ended lately, as the status lists it."""

    series: str
    service: str | None
    label: str
    started_at: float
    ended_at: float
    peak_score: float
    onset_value: float
    expert: str  # which of the detector's experts saw it (at its peak)


class PredictionStatus(TypedDict, total=False):
    """What the engine is doing; empty until its first tick."""

    series: int
    warming_up: int
    warmup_samples: int
    flagged: int
    series_dropped: int
    updated_at: float
    forecasts_at: float
    scaling_enabled: bool
    recent_anomalies: list[RecentAnomaly]
