"""How the screens say how much data a figure rests on (the rule: health/basis.py).

A table cell under a window header ("up 24h", and "budget" over 7 d) that covers less
than its window is marked ``100%*``, with one decimal at most (rounded down: 99.96 never
reads 100.0%), and the table's bottom border says what the marks rest on: ``* over 11s
of data``. The cells keep their widths, so the table still fits an 80-column pane and the
120-column overview's left pane. The service detail gives each window fully covered, then
the first one that is not, with the data it rests on, and leaves out the longer ones (they
would repeat the same checks).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from devmentor_monitor.health.basis import UPTIME_WINDOWS, short_of, short_span
from devmentor_monitor.health.slo import DAY, SLO_WINDOW
from devmentor_monitor.store import ServiceSummary
from devmentor_monitor.units import format_duration, format_percent

MARK = "*"  # a figure over less than its window; the table's border says over how much


def _short_percent(value: float) -> str:
    """``100%``, ``0%``, else one decimal rounded down (99.96 never reads 100.0%)."""
    if value >= 100 or value <= 0:
        return f"{value:.0f}%"
    return f"{math.floor(value * 10) / 10:.1f}%"


def uptime_cell(s: ServiceSummary) -> str:
    """The 24 h uptime column: ``99.98%``; ``100%*`` while less than a day is held."""
    if s.uptime_24h is None:
        return "–"
    if short_of(DAY, s.data_seconds):
        return _short_percent(s.uptime_24h) + MARK
    return f"{s.uptime_24h:.2f}%"


def budget_cell(s: ServiceSummary) -> str:
    """The budget column (7 d): ``100%``; ``100%*`` while less than the window is held."""
    b = s.error_budget_remaining
    if b is None:
        return "–"
    if b <= 0:
        return "spent"
    return f"{b:.0%}" + (MARK if short_of(SLO_WINDOW, s.data_seconds) else "")


def marks_note(summaries: Iterable[ServiceSummary]) -> str:
    """The table's footnote for its marked cells: ``* over 11s of data`` (``over 9m to
    2h`` when the services hold different spans); "" when no cell is marked."""
    spans = [
        s.data_seconds
        for s in summaries
        if s.data_seconds is not None
        and (
            (s.uptime_24h is not None and short_of(DAY, s.data_seconds))
            or (
                s.error_budget_remaining is not None
                and s.error_budget_remaining > 0
                and short_of(SLO_WINDOW, s.data_seconds)
            )
        )
    ]
    if not spans:
        return ""
    low, high = short_span(min(spans)), short_span(max(spans))
    span = low if low == high else f"{low} to {high}"
    return f"{MARK} over {span} of data"


def of_data(s: ServiceSummary) -> str:
    """`` (11s of data, 2 checks)``: what a partly covered window rests on."""
    held = format_duration(int(s.data_seconds or 0))
    checks = s.window_checks[-1]
    return f" ({held} of data, {checks} check{'s' if checks != 1 else ''})"


def uptime_line(s: ServiceSummary) -> str:
    """``uptime 1h 100.00 %  24h 99.99 %  7d 99.98 % (2d3h of data, …)``: the windows
    fully covered, then the first one only partly covered, with its basis."""
    values = (s.uptime_1h, s.uptime_24h, s.uptime_7d, s.uptime_30d)
    parts = []
    for (name, window), value in zip(UPTIME_WINDOWS, values, strict=True):
        part = f"{name} {format_percent(value)}"
        parts.append(part)
        if s.data_seconds is not None and short_of(window, s.data_seconds):
            parts.append(of_data(s).strip())  # a figure of its own: reflow keeps it whole
            break
    return "uptime " + "  ".join(parts)


def budget_basis(s: ServiceSummary) -> str:
    """`` (over 11s of 7d)`` while the budget's window is not covered yet, else ``""``."""
    if s.data_seconds is None or not short_of(SLO_WINDOW, s.data_seconds):
        return ""
    return f" (over {format_duration(int(s.data_seconds))} of 7d)"
