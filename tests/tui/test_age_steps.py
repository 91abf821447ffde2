"""The services table's age column moves in steps (`<10s`, `10s`, `1m`), so a tick with
no new check leaves the rows as they are: at 1,000 services every visible row was drawn
again each second only because its age had moved by one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from textual.widgets import DataTable
from tui_data import T, settle

from devmentor_monitor.tui import widgets
from devmentor_monitor.tui.app import MonitorApp
from devmentor_monitor.tui.widgets import ServicesTable


def _row(text: str, name: str) -> str:
    return next(x for x in text.splitlines() if f" {name} " in x and "│" in x)


async def test_ages_step_and_rows_are_not_rewritten_between_steps(
    make_app: Callable[..., MonitorApp],
    screen_text: Callable[[Any], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = make_app()
    clock = {"now": T}
    app.clock = lambda: clock["now"]
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#services", ServicesTable)
        assert isinstance(table, DataTable)
        assert " <10s " in _row(screen_text(app), "auth")  # checked 4 s ago
        written: list[str] = []  # rows whose cells were set, one by one or in bulk
        monkeypatch.setattr(table, "_set_cells", lambda row, changed: written.append(row))
        monkeypatch.setattr(widgets, "set_rows_cells", lambda t, rows: written.extend(rows))
        for now in (T + 1, T + 2, T + 5):  # 5 to 9 s old: still "<10s"
            clock["now"] = now
            await settle(pilot, force=False)
        assert written == []
        assert " <10s " in _row(screen_text(app), "auth")
        monkeypatch.undo()
        clock["now"] = T + 6  # 10 s old
        await settle(pilot, force=False)
        assert " 10s " in _row(screen_text(app), "auth")
        clock["now"] = T + 100  # 1m44s old
        await settle(pilot, force=False)
        assert " 1m " in _row(screen_text(app), "auth")
