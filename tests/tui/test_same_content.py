"""A pane whose line is the same as on screen is not painted again each tick (the
predictions notice and the event ticker at steady state); a changed line still is."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.text import Text
from tui_data import settle

from devmentor_monitor.tui.app import MonitorApp
from devmentor_monitor.tui.widgets import EventTicker, NoticePane

Screen = Callable[[Any], str]
WIDE = (160, 50)


async def test_unchanged_lines_keep_their_paint_and_changes_still_show(
    app: MonitorApp, screen_text: Screen
) -> None:
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot)
        notice = app.screen.query_one("#predictions", NoticePane)
        ticker = app.screen.query_one("#ticker", EventTicker)
        before = notice.visual, ticker.visual
        for _ in range(3):  # what the refresh interval calls, nothing new in the store
            app.tick()
            await pilot.pause()
        assert notice.visual is before[0]  # the same objects: not visualized nor painted
        assert ticker.visual is before[1]
        assert "no predictions yet" in screen_text(app)

        notice.update(Text("changed line"))  # new text: drawn
        await pilot.pause()
        assert "changed line" in screen_text(app)
        shown = notice.visual
        notice.update(Text("changed line", style="bold"))  # same characters, new style
        assert notice.visual is not shown
        app.tick()  # and the pane's own content comes back on the next tick
        await pilot.pause()
        text = screen_text(app)
    assert "no predictions yet" in text
    assert "changed line" not in text
