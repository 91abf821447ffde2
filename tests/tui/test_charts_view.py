"""The `m` view's charts at a real terminal size: nothing past a pane's border (the stray
`▃▃` right of the second chart was the scroll bar of charts that did not fit), the y axis
follows the data, the thresholds are labelled lines, and `tui.chart_symbols` is obeyed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from tui_data import settle

from devmentor_monitor.tui.app import MonitorApp
from devmentor_monitor.tui.screens import ChartPane, MetricsScreen

Text = Callable[[Any], str]


@pytest.fixture
def real_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """plotext sizes itself from the terminal it sees: the 160x50 the user has, not the
    80x24 fallback of a test run (which hid the overflow)."""
    monkeypatch.setenv("COLUMNS", "160")
    monkeypatch.setenv("LINES", "50")


async def test_charts_fit_their_panes_at_160x50(
    app: MonitorApp, screen_text: Text, real_terminal: None
) -> None:
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.press("m")
        await settle(pilot)
        assert isinstance(app.screen, MetricsScreen)
        charts = app.screen.query_one("#charts")
        # All five charts on screen: no scroll bar drawn beside them.
        assert charts.max_scroll_y == 0
        assert not charts.show_vertical_scrollbar
        for pane in app.screen.query(ChartPane):
            drawn = pane.render()
            lines = str(getattr(drawn, "plain", drawn)).split("\n")
            assert len(lines) <= pane.content_size.height, pane.title
            assert max(len(line) for line in lines) <= pane.content_size.width, pane.title
        text = screen_text(app)
        # the right border of each chart is the last thing on its rows
        rows = [ln for ln in text.splitlines() if ln.startswith(("│", "╭", "╰"))]
        assert len(rows) > 40
        for line in rows:
            assert line.rstrip().endswith(("│", "╮", "╯")), line


async def test_thresholds_are_drawn_and_the_scale_follows_the_data(
    app: MonitorApp, screen_text: Text, real_terminal: None
) -> None:
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.press("m")
        await settle(pilot)
        text = screen_text(app)
        cpu = text.split("CPU (percent)")[1].split("min ago")[0]
        assert "warn 70" in cpu
        assert "alert 80" in cpu
        # Network (KiB/s, ~128 rx) is drawn on 0-200, not on a percent scale
        net = text.split("Network (KiB/s)")[1].split("min ago")[0]
        assert "200┤" in net


async def test_chart_symbols_ascii(
    make_app: Callable[..., MonitorApp], screen_text: Text, real_terminal: None
) -> None:
    app = make_app("tui:\n  chart_symbols: ascii\n")
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.press("m")
        await settle(pilot)
        for pane in app.screen.query(ChartPane):
            drawn = str(getattr(pane.render(), "plain", ""))
            assert drawn.isascii(), (pane.title, {c for c in drawn if not c.isascii()})
        assert "*" in screen_text(app)
