"""The HTML report's charts, written as inline SVG by hand.

Two bar charts are all it needs. pygal 3.1.3 (the well-kept choice; matplotlib is far
heavier) was measured for them, alternating with these functions on the same machine:
one 168-bar chart took pygal 89-129 ms and 66 KB of SVG against 3-7 ms and 25 KB here,
importing pygal costs another 78 ms or more, and its output keeps a <script> block even
with ``js=[]``. Written here: no dependency and nothing executable in the page. Colours
come from the page's CSS classes (.bar, .bad, .target).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from devmentor_monitor.history.model import HOUR
from devmentor_monitor.reports.model import ServiceFigures
from devmentor_monitor.reports.tables import when
from devmentor_monitor.units import format_ms

WIDTH = 720
LABEL_W = 130  # the service names' column in the uptime chart
ROW_H = 24


def _text(x: float, y: float, text: str, cls: str = "", anchor: str = "start") -> str:
    c = f' class="{cls}"' if cls else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{c}>{escape(text)}</text>'


def uptime_floor(values: Sequence[float]) -> float:
    """Where the uptime axis starts: a whole percent below the lowest value shown, so
    99.5 and 99.9 look different (on 0-100 every bar would look full)."""
    low = min(values, default=100.0)
    return max(0.0, math.floor(low) - 1.0) if low < 100 else 99.0


def uptime_chart(services: Sequence[ServiceFigures]) -> str:
    """One horizontal bar per service with checks (class "bar", "bad" when the SLO is
    missed), its SLO target as a tick (class "target")."""
    shown = [s for s in services if s.uptime is not None]
    if not shown:
        return '<p class="empty">no checks stored in this period</p>'
    lo = uptime_floor(
        [s.uptime for s in shown if s.uptime is not None]
        + [s.slo.uptime for s in shown if s.slo is not None]
    )
    span = 100.0 - lo
    plot = WIDTH - LABEL_W - 80
    height = ROW_H * len(shown) + 24

    def x(v: float) -> float:
        return LABEL_W + max(0.0, v - lo) / span * plot

    parts = [
        f'<svg class="chart uptime" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" '
        f'height="{height}" role="img" aria-label="uptime per service">'
    ]
    for i, s in enumerate(shown):
        assert s.uptime is not None
        y = i * ROW_H + 4
        cls = "bar bad" if s.compliant is False else "bar"
        w = max(x(s.uptime) - LABEL_W, 1.0)
        parts.append(_text(LABEL_W - 8, y + 13, s.name, anchor="end"))
        parts.append(
            f'<rect class="{cls}" x="{LABEL_W}" y="{y}" width="{w:.1f}" height="{ROW_H - 8}">'
            f"<title>{escape(s.name)}: {s.uptime:.3f} %</title></rect>"
        )
        if s.slo is not None:
            tx = x(s.slo.uptime)
            parts.append(
                f'<line class="target" x1="{tx:.1f}" x2="{tx:.1f}" y1="{y - 2}" '
                f'y2="{y + ROW_H - 6}"><title>SLO {s.slo.uptime:g} %</title></line>'
            )
        parts.append(_text(LABEL_W + plot + 6, y + 13, f"{s.uptime:.3f} %"))
    axis_y = len(shown) * ROW_H + 16
    parts.append(_text(LABEL_W, axis_y, f"{lo:g} %", "axis"))
    parts.append(_text(LABEL_W + plot, axis_y, "100 %", "axis", "end"))
    parts.append("</svg>")
    return "".join(parts)


def latency_chart(s: ServiceFigures, since: float, until: float) -> str:
    """One vertical bar per hour with checks: its mean latency (class "bar"; "bad" above
    the SLO's response time, drawn as a dashed line when in range)."""
    if not s.hours:
        return f'<p class="empty">{escape(s.name)}: no latency stored in this period</p>'
    start = since - since % HOUR
    slots = max(1, math.ceil((until - start) / HOUR))
    left, top, plot_w, plot_h = 60, 8, WIDTH - 70, 110
    slot = plot_w / slots
    peak = max(h.mean for h in s.hours) or 1.0
    limit = s.slo.response_time if s.slo is not None else None
    parts = [
        f'<svg class="chart latency" data-service="{escape(s.name)}" data-start="{start:.0f}" '
        f'viewBox="0 0 {WIDTH} {top + plot_h + 24}" width="{WIDTH}" '
        f'height="{top + plot_h + 24}" role="img" aria-label="{escape(s.name)} latency by hour">'
    ]
    base = top + plot_h
    parts.append(f'<line class="axis" x1="{left}" x2="{left + plot_w}" y1="{base}" y2="{base}"/>')
    for h in s.hours:
        hx = left + (h.ts - start) / HOUR * slot
        bh = max(h.mean / peak * plot_h, 1.0)
        cls = "bar bad" if limit is not None and h.mean > limit else "bar"
        parts.append(
            f'<rect class="{cls}" x="{hx:.2f}" y="{base - bh:.2f}" '
            f'width="{max(slot * 0.8, 0.5):.2f}" height="{bh:.2f}">'
            f"<title>{when(h.ts)} UTC: mean {format_ms(h.mean)}, max {format_ms(h.max)}, "
            f"{h.count} checks</title></rect>"
        )
    if limit is not None and limit <= peak:
        ly = base - limit / peak * plot_h
        parts.append(
            f'<line class="target" x1="{left}" x2="{left + plot_w}" y1="{ly:.1f}" y2="{ly:.1f}">'
            f"<title>SLO response time {format_ms(limit)}</title></line>"
        )
    parts.append(_text(left - 6, top + 10, format_ms(peak), "axis", "end"))
    parts.append(_text(left - 6, base, "0", "axis", "end"))
    parts.append(_text(left, base + 16, when(start), "axis"))
    parts.append(_text(left + plot_w, base + 16, when(until), "axis", "end"))
    parts.append("</svg>")
    return "".join(parts)
