"""The services table's note on its bottom border ("* over 11s of data") is redrawn on its
own when it changes (each second in the first minute), and shows the new text."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.widgets import DataTable
from tui_data import settle

from devmentor_monitor.tui.app import MonitorApp
from devmentor_monitor.tui.borders import set_border_subtitle

Screen = Callable[[Any], str]


async def test_a_new_note_shows_and_only_its_row_is_repainted(
    app: MonitorApp, screen_text: Screen
) -> None:
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#services", DataTable)
        before = screen_text(app)
        assert "* over 9m of data" in before
        set_border_subtitle(table, "* over 42s of data")
        region = table.region
        assert table._repaint_regions  # a region, not the whole table
        assert all(r.height == 1 for r in table._repaint_regions)
        await pilot.pause()
        after = screen_text(app)
    assert "* over 42s of data" in after
    assert "* over 9m of data" not in after
    rows = range(region.y, region.bottom - 1)  # every other line of the table is as it was
    assert [after.splitlines()[y] for y in rows] == [before.splitlines()[y] for y in rows]
