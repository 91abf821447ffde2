"""Charts a few rows tall for the overview's spare rows (host history, latency per service).

Pure: values in, lines of text out, exactly ``width`` cells wide and ``rows`` lines tall.
The y axis comes from charts.y_range (from zero, a floor, thresholds near the data); a
threshold in range is a dotted row. Braille packs two samples a cell and four levels a
row; block one sample and eight levels; ascii one sample and four levels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import groupby
from operator import itemgetter
from typing import TYPE_CHECKING

from rich.text import Text

from devmentor_monitor.tui.charts import Levels, Symbols, y_range
from devmentor_monitor.units import format_duration

if TYPE_CHECKING:
    from devmentor_monitor.store import Store

BLOCKS = " ▁▂▃▄▅▆▇█"
ASCII_LEVELS = " ._=#"
# Braille dots of the left and right column of a cell, bottom to top.
DOTS = ((0x40, 0x04, 0x02, 0x01), (0x80, 0x20, 0x10, 0x08))
LEVEL_STYLE = {"warn": "meter-warn", "alert": "meter-alert"}


def per_cell(symbols: Symbols) -> int:
    """Samples drawn per cell."""
    return 2 if symbols == "braille" else 1


def area_chart(
    values: Sequence[float],
    width: int,
    rows: int,
    *,
    unit: str,
    levels: Levels = (),
    symbols: Symbols = "braille",
    style: str = "",
    colors: Mapping[str, str] | None = None,
) -> tuple[list[Text], float]:
    """The last values as a filled area, newest at the right; and the top of its scale."""
    colors = colors or {}
    width, rows = max(0, width), max(0, rows)
    steps = {"braille": 4, "block": 8, "ascii": 4}[symbols]
    per = per_cell(symbols)
    shown = list(values)[-width * per :] if width else []
    lo, hi = y_range(shown, unit, levels)
    span = hi - lo or 1.0
    total = rows * steps

    def height(v: float) -> int:
        h = round((v - lo) / span * total)
        return max(1 if v > lo else 0, min(total, h))

    heights = [height(v) for v in shown]
    heights = [-1] * (width * per - len(heights)) + heights  # -1: no sample (left pad)
    level_rows = {
        rows - 1 - min(rows - 1, int((v - lo) / span * rows)): name
        for name, v in levels
        if lo < v <= hi
    }
    dash = "-" if symbols == "ascii" else "┄"
    level_styles = {name: colors.get(LEVEL_STYLE.get(name, ""), "dim") for name, _ in levels}
    cells = [heights[c * per : (c + 1) * per] for c in range(width)]
    tops = [max(cell) for cell in cells]  # -1: no sample in the cell
    out: list[Text] = []
    for r in range(rows):
        base = (rows - 1 - r) * steps  # the levels below this row
        level = level_rows.get(r)
        drawn: list[tuple[str, str]] = []  # (character, style) per cell
        for cell, top in zip(cells, tops, strict=True):
            if top <= base:  # nothing this high (or no sample at all)
                if level is not None and top >= 0:
                    drawn.append((dash, level_styles[level]))
                else:
                    drawn.append((" ", ""))
                continue
            fill = [max(0, min(steps, h - base)) for h in cell]
            if symbols == "braille":
                bits = 0
                for side, n in enumerate(fill):
                    for dot in DOTS[side][:n]:
                        bits |= dot
                drawn.append((chr(0x2800 + bits), style))
            elif symbols == "block":
                drawn.append((BLOCKS[fill[0]], style))
            else:
                drawn.append((ASCII_LEVELS[fill[0]], style))
        out.append(_runs(drawn))
    return out, hi


def _runs(cells: list[tuple[str, str]]) -> Text:
    """A line from (character, style) cells, one span per run of a style: a span per cell
    made a 110x6 chart ~2.3 ms to build and its render one segment per cell."""
    line = Text()
    for cell_style, run in groupby(cells, key=itemgetter(1)):
        line.append("".join(ch for ch, _ in run), style=cell_style)
    return line


# (label, host series, unit, threshold name in config.thresholds, factor)
HOST_CHARTS = (
    ("CPU", "cpu", "percent", "cpu", 1.0),
    ("MEM", "memory", "percent", "memory", 1.0),
    ("NET rx", "net_rx", "KiB/s", "", 1 / 1024),
    ("NET tx", "net_tx", "KiB/s", "", 1 / 1024),
)
CHART_MIN = 4  # a label line and three rows


def host_history(
    store: Store,
    now: float,
    width: int,
    rows: int,
    colors: Mapping[str, str],
) -> list[Text]:
    """CPU, memory and network history for the host pane's spare ``rows``: as many charts
    as get a label and three rows each, sharing the rows equally."""
    symbols = store.config.tui.chart_symbols
    th = store.config.thresholds
    shown = [c for c in HOST_CHARTS if store.series(c[1]) is not None]
    count = min(len(shown), rows // CHART_MIN)
    if count <= 0 or width < 10:
        return []
    each = rows // count
    out: list[Text] = []
    for label, key, unit, level_name, factor in shown[:count]:
        ring = store.series(key)
        assert ring is not None
        ts, vs = ring.since(now - 3600)
        take = width * per_cell(symbols)
        ts, values = ts[-take:], [v * factor for v in vs[-take:]]
        level = getattr(th, level_name) if level_name else None
        levels: Levels = () if level is None else (("warn", level.warn), ("alert", level.alert))
        chart, top = area_chart(
            values,
            width,
            each - 1,
            unit=unit,
            levels=levels,
            symbols=symbols,
            style=colors.get("chart", ""),
            colors=colors,
        )
        head = Text(f"{label} ", style="bold")
        if values:
            span = format_duration(max(1, int(now - ts[0])))
            suffix = "%" if unit == "percent" else f" {unit}"
            head.append(f"{values[-1]:.1f}{suffix}  max {max(values):.1f}{suffix}")
            head.append(f"  last {span}, scale 0–{top:g}", style="dim")
            if level is not None:
                head.append(f", warn {level.warn:g} alert {level.alert:g}", style="dim")
        else:
            head.append("no samples yet", style="dim")
        head.truncate(width, overflow="ellipsis")
        out.append(head)
        out.extend(chart)
    return out
