"""How much data a windowed figure rests on, so "up 24h 100.00 %" after 11 s of checks
says so.

The rule (README, "How much data a figure rests on"): a window's uptime, error rate and
budget are counted over the checks the monitor holds, which reach back to the oldest
one: this run's first, or the oldest restored from the history at start. A window's basis
is the time from that check to when the figures were derived, capped at the window. While
the basis is shorter than the window, screens name the span actually covered ("100% 11s",
"24h 99.98% (2d3h of data)"), and /api/services gives the basis per window.
"""

from __future__ import annotations

from devmentor_monitor.health.slo import DAY, HOUR, MONTH, WEEK

# The windows uptime is given over, by the names the API and the screens use.
UPTIME_WINDOWS: tuple[tuple[str, float], ...] = (
    ("1h", HOUR),
    ("24h", DAY),
    ("7d", WEEK),
    ("30d", MONTH),
)


def basis_seconds(window: float, data_seconds: float | None) -> float | None:
    """The seconds of data a figure over ``window`` rests on (None: no check yet)."""
    return None if data_seconds is None else min(window, max(0.0, data_seconds))


def short_of(window: float, data_seconds: float | None) -> bool:
    """True while the data held covers less than ``window`` (a check is held)."""
    return data_seconds is not None and data_seconds < window


def short_span(seconds: float) -> str:
    """One unit, rounded down, for a table cell: 11s, 9m, 23h, 6d."""
    s = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size:
            return f"{s // size}{unit}"
    return f"{s}s"
