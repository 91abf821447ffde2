"""plotext line charts rendered to rich Text; plotext is imported only when a chart draws."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

RANGES: dict[str, float] = {
    "5m": 300.0,
    "1h": 3600.0,
    "24h": 86400.0,
    "7d": 7 * 86400.0,
    "30d": 30 * 86400.0,
}
# Ranges drawn from the history on disk (the rollups); the others from the rings in memory.
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
) -> Text:
    """Draw ``(label, timestamps, values)`` lines against 'minutes ago' on the x axis.

    ``marks``: (timestamps, values, experts) the anomaly detector flagged, drawn as ``x``
    on top (a shape, so they read in monochrome too); the legend names the experts that
    flagged the points in view. ``empty``: what to say with nothing to draw.
    """
    if width < 20 or height < 5:
        return Text(f"{title}: too small to draw")
    if not any(len(ts) > 1 for _, ts, _ in lines):
        return Text(f"{title}\n\n{empty}", style="dim")
    import plotext as plt

    plt.clf()
    plt.plotsize(width - 1, height)
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
    for i, (label, ts, vs) in enumerate(lines):
        if len(ts) < 2:
            continue
        t, v = downsample(ts, vs, MAX_POINTS)
        xs = [(x - now) / scale for x in t]
        kwargs = {"label": label} if len(lines) > 1 else {}
        if color:
            kwargs["color"] = palette[i % len(palette)]
        plt.plot(xs, v, marker="braille", **kwargs)
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
    if unit == "percent":
        plt.ylim(0, 100)
    plt.xlabel(f"{suffix} ago")
    text = plt.build()
    return Text.from_ansi(text) if color else Text(_strip_ansi(text))


def mark_label(experts: set[str]) -> str:
    """The marks' legend: which experts flagged the points in view."""
    words = sorted(MARK_WORDS.get(e, e) for e in experts if e)
    return "anomaly: " + ", ".join(words) if words else "anomaly"


def _strip_ansi(text: str) -> str:
    return Text.from_ansi(text).plain
