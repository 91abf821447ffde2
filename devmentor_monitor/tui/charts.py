"""plotext line charts rendered to rich Text; plotext is imported only when a chart draws.

Pure: a chart is drawn to text of exactly the size asked (never wider, never taller), on a
y axis scaled to its data, with the warn and alert thresholds drawn as labelled lines.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

from rich.text import Text

from devmentor_monitor.config.schema import Thresholds

Symbols = Literal["braille", "block", "ascii"]
# plotext's marker per `tui.chart_symbols`: braille dots (2x4 per cell), quadrant blocks
# (2x2, for fonts without braille), or a plain character (ASCII only terminals).
MARKERS: dict[str, str] = {"braille": "braille", "block": "hd", "ascii": "*"}
# Box drawing to ASCII, for `ascii` (the frame, ticks and threshold lines).
ASCII_FRAME = str.maketrans("─│┌┐└┘┬┴├┤┼╭╮╰╯┄", "-|+++++++++++++-")
# (label, value) lines drawn across a chart, e.g. (("warn", 70.0), ("alert", 80.0)).
Levels = Sequence[tuple[str, float]]
# A flat or tiny line is drawn on at least this span, so noise does not fill the chart.
LEVEL_COLORS = {"warn": "orange", "alert": "red"}
FLOORS: dict[str, float] = {"percent": 10.0, "ms": 10.0, "KiB/s": 1.0}

RANGES: dict[str, float] = {
    "5m": 300.0,
    "1h": 3600.0,
    "24h": 86400.0,
    "7d": 7 * 86400.0,
    "30d": 30 * 86400.0,
}
# Ranges drawn from the history on disk (the rollups); the others from the rings in memory,
# but for 24 h when a history is there (the rings keep an hour: ChartPane.from_history).
STORED_RANGES = frozenset({"7d", "30d"})
MAX_POINTS = 240  # more points than columns only costs time
# (timestamps, values, experts) of the points the anomaly detector flagged on one line.
Marks = tuple[Sequence[float], Sequence[float], Sequence[str]]
# Legend words for the detector's experts (predictions.detector.EXPERTS) and the
# latency departure rule.
MARK_WORDS = {
    "value": "spike",
    "shift": "level shift",
    "drift": "drift",
    "volatility": "volatility",
    "time_of_day": "unusual for the hour",
    "new_extreme": "new extreme",
    "departure": "slowdown",
}
# Steps a stored range is read at: whole minutes, hours or days, so each point covers
# whole rollups (the history picks the tier from the step).
NICE_STEPS = (60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 14400, 21600, 28800, 43200, 86400)


def chart_levels(th: Thresholds, keys: Sequence[str], latency: bool) -> Levels:
    """The warn and alert lines for a chart of host series ``keys`` (percent), or of
    service latency (ms): the config's `thresholds`."""
    if latency:
        return (("warn", th.latency.warn * 1000), ("alert", th.latency.alert * 1000))
    first = keys[0] if keys else ""
    level = {"cpu": th.cpu, "memory": th.memory, "swap": th.memory}.get(first)
    if level is None and first.startswith("disk:"):
        level = th.disk
    return () if level is None else (("warn", level.warn), ("alert", level.alert))


def step_for(window: float, columns: int) -> float:
    """The smallest whole step that gives no more points than ``columns``."""
    want = window / max(1, columns)
    return float(next((s for s in NICE_STEPS if s >= want), NICE_STEPS[-1]))


def downsample(ts: Sequence[float], vs: Sequence[float], n: int) -> tuple[list[float], list[float]]:
    """Keep at most ``n`` points, taking the max of each bucket so spikes stay visible."""
    if len(ts) <= n:
        return list(ts), list(vs)
    step = len(ts) / n
    out_t, out_v = [], []
    for i in range(n):
        a, b = int(i * step), max(int((i + 1) * step), int(i * step) + 1)
        out_t.append(ts[b - 1])
        out_v.append(max(vs[a:b]))
    return out_t, out_v


def line_chart(
    lines: Sequence[tuple[str, Sequence[float], Sequence[float]]],
    *,
    now: float,
    window: float,
    width: int,
    height: int,
    title: str,
    unit: str,
    color: bool = True,
    marks: Sequence[Marks] = (),
    empty: str = "waiting for data (two samples needed)",
    levels: Levels = (),
    symbols: Symbols = "braille",
) -> Text:
    """Draw ``(label, timestamps, values)`` lines against 'minutes ago' on the x axis.

    ``marks``: (timestamps, values, experts) the anomaly detector flagged, drawn as ``x``
    on top (a shape, so they read in monochrome too); the legend names the experts that
    flagged the points in view. ``empty``: what to say with nothing to draw. ``levels``:
    thresholds drawn as labelled horizontal lines when they are near the data. ``width``
    and ``height`` are the cells the text may take; it never takes more.
    """
    if width < 20 or height < 7:
        return Text(f"{title}: too small to draw")
    if not any(len(ts) > 1 for _, ts, _ in lines):
        return Text(f"{title}\n\n{empty}", style="dim")
    import plotext as plt

    plt.clf()
    # Never clamp to the terminal plotext sees (tests: 80x24; a real one: the full screen).
    plt.limitsize(False, False)
    plt.plotsize(width, height)
    plt.theme("clear")
    plt.title(f"{title} ({unit})" if unit else title)
    scale, suffix = (
        (60.0, "min")
        if window <= 3600
        else (3600.0, "h")
        if window <= 2 * 86400
        else (86400.0, "d")
    )
    palette = ["cyan", "magenta", "green", "yellow", "blue", "red", "white"]
    marker = MARKERS.get(symbols, "braille")
    drawn: list[float] = []
    for i, (label, ts, vs) in enumerate(lines):
        if len(ts) < 2:
            continue
        t, v = downsample(ts, vs, MAX_POINTS)
        xs = [(x - now) / scale for x in t]
        kwargs = {"label": label} if len(lines) > 1 else {}
        if color:
            kwargs["color"] = palette[i % len(palette)]
        plt.plot(xs, v, marker=marker, **kwargs)
        drawn.extend(v)
    shown = [
        (t, v, e)
        for ts, vs, es in marks
        for t, v, e in zip(ts, vs, es, strict=True)
        if t >= now - window
    ]
    if shown:
        kwargs = {"color": "red"} if color else {}
        plt.scatter(
            [(t - now) / scale for t, _, _ in shown],
            [v for _, v, _ in shown],
            marker="x",
            label=mark_label({e for _, _, e in shown}),
            **kwargs,
        )
    plt.xlim(-window / scale, 0)
    lo, hi = y_range(drawn, unit, levels)
    plt.ylim(lo, hi)
    ticks = y_ticks(lo, hi, max(2, (height - 6) // 2 + 1))
    plt.yticks(ticks, [f"{t:g}" for t in ticks])
    for i, (name, value) in enumerate(levels):
        if not lo + (hi - lo) * 0.1 <= value <= hi:  # off the scale, or on its floor
            continue
        level_color = LEVEL_COLORS.get(name, "red") if color else None
        plt.hline(value, level_color)
        # The first label at the left, the next at the right: both read on one row too.
        x, align = (-window / scale, "left") if i % 2 == 0 else (0.0, "right")
        plt.text(f"{name} {value:g}", x, value, alignment=align, color=level_color)
    plt.xlabel(f"{suffix} ago")
    built = plt.build()
    text = Text.from_ansi(built) if color else Text(_strip_ansi(built))
    if symbols == "ascii":
        text = Text(text.plain.translate(ASCII_FRAME))
    return fit(text, width, height)


def fit(text: Text, width: int, height: int) -> Text:
    """``text`` cut to ``width`` cells and ``height`` lines: nothing drawn past the pane."""
    lines = text.split("\n", allow_blank=True)
    while lines and not lines[-1].plain.strip():  # plotext ends with a blank line
        lines.pop()
    out = Text()
    for i, line in enumerate(lines[:height]):
        if line.cell_len > width:
            line.truncate(width)
        if i:
            out.append("\n")
        out.append_text(line)
    out.no_wrap = True
    out.overflow = "crop"
    return out


def nice_ceil(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 times a power of ten that is at least ``value``."""
    if value <= 0:
        return 0.0
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        if step * power >= value * (1 - 1e-9):
            return step * power
    return 10.0 * power


def y_range(values: Sequence[float], unit: str, levels: Levels = ()) -> tuple[float, float]:
    """The y axis for ``values``: from 0 (or the lowest value, if negative) to the next nice
    step above the highest, at least the unit's floor (percent: 10, so 1.4 % is not a flat
    line on the floor; rates and latency: a floor so noise on a flat line stays flat);
    percent never above 100. A threshold up to half again above the data is included, so
    a line close to it shows how close."""
    values = [v for v in values if math.isfinite(v)]
    top = max(values, default=0.0)
    lo = min(0.0, min(values, default=0.0))
    floor = FLOORS.get(unit, 1.0)
    hi = nice_ceil(max(top * 1.05, floor))
    near = [v for _, v in levels if hi < v <= hi * 1.5]
    if near:
        hi = nice_ceil(max(near) * 1.05)
    if unit == "percent":
        hi = min(100.0, hi)
    if lo < 0:
        lo = -nice_ceil(-lo)
    return lo, hi


def y_ticks(lo: float, hi: float, most: int) -> list[float]:
    """Round tick values that split ``lo`` to ``hi`` evenly, at most ``most`` of them (at
    least the two ends)."""
    span = hi - lo
    if span <= 0:
        return [lo]
    power = 10.0 ** math.floor(math.log10(span))
    for step in sorted(m * power / 10**k for m in (1.0, 2.0, 2.5, 5.0) for k in (0, 1, 2)):
        count = span / step
        if abs(count - round(count)) < 1e-6 and round(count) <= max(1, most - 1):
            return [round(lo + i * step, 10) for i in range(round(count) + 1)]
    return [lo, hi]


def mark_label(experts: set[str]) -> str:
    """The marks' legend: which experts flagged the points in view."""
    words = sorted(MARK_WORDS.get(e, e) for e in experts if e)
    return "anomaly: " + ", ".join(words) if words else "anomaly"


def _strip_ansi(text: str) -> str:
    return Text.from_ansi(text).plain
