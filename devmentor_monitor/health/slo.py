"""Uptime, error rate, SLO compliance and error budget from check counts. Pure."""

from __future__ import annotations

import msgspec

from devmentor_monitor.config.schema import SLO

HOUR, DAY, WEEK, MONTH = 3600.0, 86400.0, 7 * 86400.0, 30 * 86400.0
SLO_WINDOW = WEEK  # the window SLO compliance and the error budget are judged over


def ratio(part: int, whole: int) -> float | None:
    """``part`` as a percent of ``whole``; None when there is nothing to count."""
    return None if whole == 0 else 100.0 * part / whole


def error_budget_remaining(target_uptime: float, uptime: float) -> float:
    """Fraction of the budget (100 - target) left at ``uptime`` percent; < 0 overspent.
    A 100 % target has no budget: 1 while nothing failed, else -1."""
    allowed = 100.0 - target_uptime
    spent = 100.0 - uptime
    return (1.0 - spent / allowed) if allowed > 0 else (1.0 if spent == 0 else -1.0)


def time_down(uptime: float, watched: float) -> float:
    """Seconds down in ``watched`` seconds at ``uptime`` percent: the share of checks down,
    as time. Over the time watched, not a longer period asked for: a monitor that watched
    one day of seven knows nothing of the other six."""
    return (100.0 - uptime) / 100.0 * watched


def time_allowed_down(target_uptime: float, watched: float) -> float:
    """Seconds an SLO of ``target_uptime`` percent allows down in ``watched`` seconds; with
    `time_down` over the same span, ``1 - down / allowed`` is `error_budget_remaining`."""
    return (100.0 - target_uptime) / 100.0 * watched


def slo_compliant(slo: SLO, uptime: float, p95: float | None, error_rate: float | None) -> bool:
    """Uptime, p95 latency and error rate each within the SLO (an unknown figure passes)."""
    return (
        uptime >= slo.uptime
        and (p95 is None or p95 <= slo.response_time)
        and (error_rate is None or error_rate <= slo.error_rate)
    )


class SloFigures(msgspec.Struct, frozen=True):
    uptime_1h: float | None  # percent of checks with the service up
    uptime_24h: float | None
    uptime_7d: float | None
    error_rate_1h: float | None  # percent of failed checks
    compliant: bool | None  # None without an SLO or without checks in 7 days
    budget: float | None  # error_budget_remaining over 7 days
    uptime_30d: float | None = None


def slo_figures(
    hour: tuple[int, int, int],
    day: tuple[int, int, int],
    week: tuple[int, int, int],
    p95: float | None,
    slo: SLO | None,
    month: tuple[int, int, int] | None = None,
) -> SloFigures:
    """From (checks, up, failed) over the last hour, day and week (and 30 days), and the
    hour's p95."""
    total_1h, up_1h, failed_1h = hour
    total_24h, up_24h, _ = day
    total_7d, up_7d, _ = week
    uptime_7d = ratio(up_7d, total_7d)
    error_rate = ratio(failed_1h, total_1h)
    compliant: bool | None = None
    budget: float | None = None
    if slo and uptime_7d is not None:
        budget = error_budget_remaining(slo.uptime, uptime_7d)
        compliant = slo_compliant(slo, uptime_7d, p95, error_rate)
    return SloFigures(
        uptime_1h=ratio(up_1h, total_1h),
        uptime_24h=ratio(up_24h, total_24h),
        uptime_7d=uptime_7d,
        error_rate_1h=error_rate,
        compliant=compliant,
        budget=budget,
        uptime_30d=None if month is None else ratio(month[1], month[0]),
    )
