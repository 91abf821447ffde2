"""Forecasts: time to exhaustion (disk per mount, memory), leak suspicion, error budget.

Why these choices:

* **Theil-Sen trend** (median of pairwise slopes): a few wild samples (a log rotated, a
  cache dropped) do not bend the fit the way least squares would. Cost is O(k^2) pairs over
  at most `max_points` points (older points are merged into bucket means), so a fit is
  bounded however long the window is; `TrendWindow` keeps O(window) memory.
* **Confidence** is the share of pairwise slopes agreeing in sign with the fitted slope,
  rescaled so 0.5 agreement (a coin toss: pure noise) is 0 and full agreement is 1, and
  lowered when the residuals are large next to the change the trend explains.
* **No forecast** when the data cannot support one: too few points or too short a span,
  a flat or falling trend, low confidence, or an exhaustion further away than
  `max_horizon_s`. A forecast nobody can trust is worse than none on an ops screen.
* **Hysteresis** (`ExhaustionAlarm`, Netdata style): warning under 8 h, critical under
  2 h, and a level clears only when the forecast is well above its threshold (1.5x) for a
  few updates in a row, so a noisy estimate around 2 h does not flap.

Everything takes plain timestamps (seconds) and values, and returns frozen dataclasses with
an `explanation` a person can read on screen.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Sequence
from dataclasses import dataclass

from devmentor_monitor.units import format_bytes, human_duration

HOUR = 3600.0


# --------------------------------------------------------------------------- trend fit


@dataclass(frozen=True, slots=True)
class TrendFit:
    """A robust straight line through (ts, value): value = level + slope * (t - ts_last)."""

    slope: float  # units per second
    level: float  # fitted value at the last timestamp
    ts_last: float
    points: int
    span_s: float  # time covered by the points
    agreement: float  # share of pairwise slopes with the sign of `slope`, 0..1
    confidence: float  # 0..1, see the module docstring


def _thin(
    ts: Sequence[float], values: Sequence[float], max_points: int
) -> tuple[list[float], list[float]]:
    """At most `max_points` points: consecutive runs merged into their means."""
    n = len(ts)
    if n <= max_points:
        return list(ts), list(values)
    out_t: list[float] = []
    out_v: list[float] = []
    for b in range(max_points):
        lo, hi = b * n // max_points, (b + 1) * n // max_points
        out_t.append(sum(ts[lo:hi]) / (hi - lo))
        out_v.append(sum(values[lo:hi]) / (hi - lo))
    return out_t, out_v


def _median(xs: list[float]) -> float:
    xs = sorted(xs)
    k = len(xs)
    return xs[k // 2] if k % 2 else 0.5 * (xs[k // 2 - 1] + xs[k // 2])


def theil_sen(
    ts: Sequence[float], values: Sequence[float], *, max_points: int = 120
) -> TrendFit | None:
    """Theil-Sen fit with a confidence; None for fewer than 3 points or no time span."""
    if len(ts) != len(values):
        raise ValueError("ts and values differ in length")
    t, v = _thin(ts, values, max_points)
    n = len(t)
    if n < 3 or t[-1] - t[0] <= 0:
        return None
    slopes = [
        (v[j] - v[i]) / (t[j] - t[i]) for i in range(n) for j in range(i + 1, n) if t[j] > t[i]
    ]
    if not slopes:
        return None
    slope = _median(slopes)
    t_last = t[-1]
    level = _median([v[i] - slope * (t[i] - t_last) for i in range(n)])
    agreeing = sum(1 for s in slopes if s * slope > 0)
    agreement = agreeing / len(slopes) if slope else 0.5
    # Residual check: noise as large as the whole trend's rise makes the line a guess.
    mad = _median([abs(v[i] - (level + slope * (t[i] - t_last))) for i in range(n)])
    rise = abs(slope) * (t_last - t[0])
    fit_quality = rise / (rise + 1.4826 * mad) if rise > 0 else 0.0
    confidence = max(0.0, 2.0 * agreement - 1.0) * math.sqrt(fit_quality)
    return TrendFit(slope, level, t_last, n, t_last - t[0], agreement, confidence)


class TrendWindow:
    """The last `window_s` seconds of one series, at most `max_samples` of them.

    Two arrays of `max_samples` slots, allocated whole at the start and written round: a
    window's memory is the same from its first point on (11.5 KiB at 720). A deque of
    (ts, value) tuples was ~100 bytes a point and grew for the whole window (30 minutes):
    with the disks, memory and 16 processes followed, RSS rose through the first half
    hour of `ultra --demo` (bench/tui_soak.py)."""

    __slots__ = ("_head", "_n", "_ts", "_vs", "window_s")

    def __init__(self, window_s: float = 30 * 60, max_samples: int = 720) -> None:
        self.window_s = window_s
        self._ts = array("d", bytes(8 * max_samples))
        self._vs = array("d", bytes(8 * max_samples))
        self._head = 0  # the slot the next point goes to
        self._n = 0  # points held: the `_n` slots before `_head`, oldest first

    def add(self, ts: float, value: float) -> None:
        if math.isnan(value):
            return
        cap = len(self._ts)
        if self._n and ts < self._ts[(self._head - 1) % cap]:
            self._n = 0  # the clock went back: start over rather than mix
        self._ts[self._head] = ts
        self._vs[self._head] = value
        self._head = (self._head + 1) % cap
        self._n = min(self._n + 1, cap)
        cutoff = ts - self.window_s
        while self._n and self._ts[(self._head - self._n) % cap] < cutoff:
            self._n -= 1

    def series(self) -> tuple[list[float], list[float]]:
        start = (self._head - self._n) % len(self._ts)
        end = start + self._n
        if end <= len(self._ts):
            return self._ts[start:end].tolist(), self._vs[start:end].tolist()
        wrap = end - len(self._ts)
        return (
            self._ts[start:].tolist() + self._ts[:wrap].tolist(),
            self._vs[start:].tolist() + self._vs[:wrap].tolist(),
        )

    def __len__(self) -> int:
        return self._n


# --------------------------------------------------------------------------- exhaustion


@dataclass(frozen=True, slots=True)
class ExhaustionForecast:
    """When a resource (disk on a mount, memory) runs out at the current trend."""

    resource: str  # e.g. "disk /", "memory"
    seconds_to_exhaustion: float
    rate: float  # units per second (bytes/s for bytes)
    used: float  # fitted usage now
    capacity: float
    confidence: float
    fit_span_s: float
    points: int
    explanation: str


@dataclass(frozen=True, slots=True)
class FitPolicy:
    """When a fit is good enough to show. Defaults suit 5-10 s samples over 30 min."""

    min_points: int = 10
    min_span_s: float = 5 * 60
    min_confidence: float = 0.6
    max_horizon_s: float = 7 * 24 * HOUR  # further than this is "no trend" on a screen
    max_points: int = 120


def time_to_exhaustion(
    resource: str,
    ts: Sequence[float],
    used: Sequence[float],
    capacity: float,
    *,
    unit: str = "bytes",
    policy: FitPolicy | None = None,
) -> ExhaustionForecast | None:
    """Forecast when `used` reaches `capacity`; None when the data cannot support it."""
    p = policy or FitPolicy()
    if len(ts) < p.min_points or capacity <= 0:
        return None
    fit = theil_sen(ts, used, max_points=p.max_points)
    if fit is None or fit.span_s < p.min_span_s or fit.slope <= 0:
        return None
    if fit.confidence < p.min_confidence:
        return None
    now_used = min(max(fit.level, used[-1]), capacity)  # never report less than seen
    seconds = (capacity - now_used) / fit.slope
    if seconds > p.max_horizon_s:
        return None
    text = (
        f"{resource} full in {human_duration(seconds)} at {_rate(fit.slope, unit)} "
        f"(fit over {human_duration(fit.span_s)}, confidence {fit.confidence:.2f})"
    )
    return ExhaustionForecast(
        resource,
        seconds,
        fit.slope,
        now_used,
        capacity,
        round(fit.confidence, 3),
        fit.span_s,
        fit.points,
        text,
    )


class ExhaustionAlarm:
    """Warning/critical levels from successive forecasts, with Netdata-style hysteresis.

    `update(seconds_or_None)` returns "ok", "warning" or "critical". A level is entered at
    once when the forecast drops under its threshold; it is left only after `clear_updates`
    consecutive forecasts above `clear_factor` x the threshold (no forecast counts as far
    away).
    """

    def __init__(
        self,
        warn_s: float = 8 * HOUR,
        critical_s: float = 2 * HOUR,
        clear_factor: float = 1.5,
        clear_updates: int = 3,
    ) -> None:
        if not 0 < critical_s < warn_s or clear_factor < 1:
            raise ValueError("need 0 < critical_s < warn_s and clear_factor >= 1")
        self.warn_s, self.critical_s = warn_s, critical_s
        self.clear_factor, self.clear_updates = clear_factor, clear_updates
        self.level = "ok"
        self._calm = 0

    def update(self, seconds: float | None) -> str:
        eta = math.inf if seconds is None else seconds
        target = "critical" if eta < self.critical_s else "warning" if eta < self.warn_s else "ok"
        rank = {"ok": 0, "warning": 1, "critical": 2}
        if rank[target] >= rank[self.level]:
            self.level, self._calm = target, 0
            return self.level
        # Stepping down needs margin and persistence.
        threshold = self.critical_s if self.level == "critical" else self.warn_s
        if eta > threshold * self.clear_factor:
            self._calm += 1
            if self._calm >= self.clear_updates:
                self.level = (
                    "warning"
                    if self.level == "critical" and eta < self.warn_s * self.clear_factor
                    else target
                )
                self._calm = 0
        else:
            self._calm = 0
        return self.level


# --------------------------------------------------------------------------- leaks


@dataclass(frozen=True, slots=True)
class LeakSuspicion:
    """A process whose RSS keeps growing steadily."""

    process: str
    rate: float  # bytes per second
    growth: float  # bytes gained over the fit span, by the trend
    confidence: float
    fit_span_s: float
    explanation: str


def leak_suspicion(
    process: str,
    ts: Sequence[float],
    rss: Sequence[float],
    *,
    min_points: int = 20,
    min_span_s: float = 15 * 60,
    min_confidence: float = 0.8,
    min_growth_fraction: float = 0.1,
    min_growth_bytes: float = 16 * 2**20,
) -> LeakSuspicion | None:
    """Suspect a leak when RSS rose steadily (high confidence) and by a noticeable amount
    (at least `min_growth_fraction` of where it started and `min_growth_bytes`)."""
    if len(ts) < min_points:
        return None
    fit = theil_sen(ts, rss)
    if fit is None or fit.span_s < min_span_s or fit.slope <= 0:
        return None
    growth = fit.slope * fit.span_s
    start = fit.level - growth
    if (
        fit.confidence < min_confidence
        or growth < min_growth_bytes
        or growth < min_growth_fraction * max(start, 1.0)
    ):
        return None
    text = (
        f"{process}: RSS +{format_bytes(growth)} over {human_duration(fit.span_s)} "
        f"({_rate(fit.slope, 'bytes')}), steady (confidence {fit.confidence:.2f}): "
        "possible memory leak"
    )
    return LeakSuspicion(process, fit.slope, growth, round(fit.confidence, 3), fit.span_s, text)


# --------------------------------------------------------------------------- error budget


@dataclass(frozen=True, slots=True)
class BudgetForecast:
    """When a service's SLO error budget runs out at the current burn rate."""

    service: str
    seconds_to_exhaustion: float
    budget_remaining: float  # fraction 0..1
    burn_rate: float  # 1.0 spends exactly the whole budget over the SLO window
    confidence: float
    explanation: str


def error_budget_exhaustion(
    service: str,
    budget_remaining: float,
    burn_rate: float,
    *,
    slo_window_s: float = 30 * 24 * HOUR,
    errors: int | None = None,
    min_errors: int = 3,
) -> BudgetForecast | None:
    """Time until the budget is spent: remaining x window / burn rate.

    `errors` is how many failed requests the burn rate was measured from; its Poisson
    uncertainty gives the confidence (1 - 1/sqrt(errors + 1)), and with fewer than
    `min_errors` there is no forecast. Without it the confidence is 1 (the caller vouches).
    """
    if burn_rate <= 0 or slo_window_s <= 0:
        return None
    if errors is not None and errors < min_errors:
        return None
    confidence = 1.0 if errors is None else 1.0 - 1.0 / math.sqrt(errors + 1.0)
    remaining = min(max(budget_remaining, 0.0), 1.0)
    seconds = remaining * slo_window_s / burn_rate
    if remaining == 0:
        text = f"{service}: error budget exhausted (burn rate {burn_rate:.1f}x)"
    else:
        text = (
            f"{service}: error budget ({remaining:.0%} left) exhausted in "
            f"{human_duration(seconds)} at burn rate {burn_rate:.1f}x "
            f"(confidence {confidence:.2f})"
        )
    return BudgetForecast(service, seconds, remaining, burn_rate, round(confidence, 3), text)


# --------------------------------------------------------------------------- wording


def _rate(per_second: float, unit: str) -> str:
    per_hour = per_second * HOUR
    sign = "+" if per_hour >= 0 else "-"
    if unit == "bytes":
        return f"{sign}{format_bytes(abs(per_hour))}/h"
    return f"{sign}{abs(per_hour):.3g} {unit}/h"
