"""Charts read well: a y axis scaled to the data, thresholds drawn as labelled lines, and
nothing drawn past the size asked (charts.py is pure: draw to text and look)."""

from __future__ import annotations

import pytest
from rich.text import Text

from devmentor_monitor.tui.charts import line_chart, nice_ceil, y_range, y_ticks

NOW = 10_000.0
TS = [NOW - 300 + 5 * i for i in range(61)]


def draw(values: list[float], **kw: object) -> Text:
    args: dict[str, object] = {
        "now": NOW,
        "window": 300.0,
        "width": 70,
        "height": 14,
        "title": "Memory",
        "unit": "percent",
        "color": False,
    }
    args.update(kw)
    return line_chart([("memory", TS, values)], **args)  # type: ignore[arg-type]


def y_labels(text: Text) -> list[float]:
    """The numbers left of the y axis, top to bottom."""
    out = []
    for line in text.plain.splitlines():
        head = line.split("┤")[0] if "┤" in line else line.split("├")[0]
        if ("┤" in line or "├" in line) and head.strip():
            out.append(float(head))
    return out


def test_nice_steps() -> None:
    assert [nice_ceil(v) for v in (1.4, 3.7, 7, 23, 100, 0.013)] == [2, 5, 10, 25, 100, 0.02]
    assert y_ticks(0, 10, 5) == [0, 2.5, 5, 7.5, 10]
    assert y_ticks(0, 100, 3) == [0, 50, 100]


def test_percent_near_zero_is_not_a_flat_line_on_the_floor() -> None:
    """Memory at 1.4 % on a 0-100 scale was a flat line at the bottom: now 0-10."""
    assert y_range([1.3, 1.4], "percent") == (0.0, 10.0)
    labels = y_labels(draw([1.3 + 0.1 * (i % 2) for i in TS]))
    assert labels[0] == 10
    assert labels[-1] == 0


def test_percent_scale_follows_the_data_and_stops_at_100() -> None:
    assert y_range([37.0, 42.0], "percent") == (0.0, 50.0)
    assert y_range([99.0], "percent") == (0.0, 100.0)
    assert max(y_labels(draw([37 + (i % 5) for i in range(61)]))) == 50


def test_rates_have_a_floor_so_noise_stays_flat() -> None:
    """A flat line of tiny values is drawn on at least the unit's floor, from zero."""
    assert y_range([0.01, 0.012], "KiB/s") == (0.0, 1.0)
    assert y_range([3.0, 3.02], "ms") == (0.0, 10.0)
    assert y_range([130.0, 131.0], "KiB/s") == (0.0, 200.0)


def test_threshold_near_the_data_is_in_range_and_drawn_with_its_label() -> None:
    levels = (("warn", 70.0), ("alert", 80.0))
    assert y_range([60.0], "percent", levels) == (0.0, 100.0)
    text = draw([55 + (i % 10) for i in range(61)], levels=levels, height=20).plain
    assert "warn 70" in text
    assert "alert 80" in text
    # a line across the plot: a row with a long run of ─ besides the frame's own
    rows = [ln for ln in text.splitlines() if "warn 70" in ln or "alert 80" in ln]
    assert rows
    assert all(ln.count("─") >= 20 for ln in rows), rows


def test_threshold_far_above_the_data_does_not_flatten_it() -> None:
    text = draw([1.4] * 61, levels=(("warn", 80.0), ("alert", 90.0))).plain
    assert "warn 80" not in text
    assert max(y_labels(draw([1.4] * 61))) == 10


@pytest.mark.parametrize("symbols", ["braille", "block", "ascii"])
@pytest.mark.parametrize("size", [(20, 7), (33, 9), (80, 16), (154, 14), (236, 30)])
def test_nothing_drawn_past_the_size_asked(symbols: str, size: tuple[int, int]) -> None:
    """The stray cells past a chart's border: every line fits the width, and the lines the
    height, in every symbol set, with a legend, thresholds and anomaly marks."""
    width, height = size
    text = line_chart(
        [("memory", TS, [50 + (i % 7) for i in range(61)]), ("swap", TS, [3.0] * 61)],
        now=NOW,
        window=300.0,
        width=width,
        height=height,
        title="Memory with a long title that would not fit a narrow pane",
        unit="percent",
        color=True,
        marks=[([TS[30]], [56.0], ["value"])],
        levels=(("warn", 55.0), ("alert", 90.0)),
        symbols=symbols,  # type: ignore[arg-type]
    )
    lines = text.split("\n")
    assert len(lines) <= height
    assert max(line.cell_len for line in lines) <= width


def test_symbol_sets() -> None:
    values = [50 + (i % 7) for i in range(61)]
    braille = draw(values).plain
    block = draw(values, symbols="block").plain
    ascii_ = draw(values, symbols="ascii").plain
    assert any(0x2800 <= ord(c) <= 0x28FF for c in braille)
    assert not any(0x2800 <= ord(c) <= 0x28FF for c in block)
    assert any(c in "▖▗▘▝▚▞▄▀▌▐" for c in block)
    assert ascii_.isascii(), sorted({c for c in ascii_ if not c.isascii()})


# --------------------------------------------------------------- charts a few rows tall


@pytest.mark.parametrize("symbols", ["braille", "block", "ascii"])
@pytest.mark.parametrize(("width", "rows"), [(1, 1), (10, 3), (60, 9)])
def test_area_chart_is_exactly_the_size_asked(symbols: str, width: int, rows: int) -> None:
    from devmentor_monitor.tui.minicharts import area_chart

    values = [float(v % 37) for v in range(500)]
    lines, _ = area_chart(values, width, rows, unit="percent", symbols=symbols)  # type: ignore[arg-type]
    assert len(lines) == rows
    assert all(line.cell_len == width for line in lines)
    if symbols == "ascii":
        assert all(line.plain.isascii() for line in lines)


def test_area_chart_scales_to_the_data_and_marks_a_near_threshold() -> None:
    from devmentor_monitor.tui.minicharts import area_chart

    # memory at 1.4 %: drawn on 0-10 (on 0-100 it would be the lowest block, ▁)
    lines, top = area_chart([1.4] * 20, 10, 4, unit="percent", symbols="block")
    assert top == 10
    assert [line.plain[-1] for line in lines] == [" ", " ", " ", "▄"]
    # 60 % with warn 70: the scale takes in the threshold, drawn dotted where no area is
    lines, top = area_chart([60.0] * 20, 10, 10, unit="percent", levels=(("warn", 70.0),))
    assert top == 100
    assert any("┄" in line.plain for line in lines)
    # newest at the right: fewer samples than columns leave the left blank
    lines, _ = area_chart([5.0, 5.0], 10, 2, unit="percent", symbols="block")
    assert lines[-1].plain.startswith(" " * 8)
