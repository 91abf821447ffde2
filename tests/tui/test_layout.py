"""Small terminals: at 80x24 (and the 120x40 of the end-to-end test) nothing that matters is
cut off, and whatever does not fit says so (an ellipsis, a note), never a silent cut."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from textual.widgets import DataTable
from tui_data import HOSTNAME, LATENCY

from devmentor_monitor.tui.app import MonitorApp
from devmentor_monitor.tui.screens import HelpScreen

Text = Callable[[Any], str]
SMALL = (80, 24)


async def show(pilot: Any, *keys: str) -> None:
    await pilot.press(*keys)
    await pilot.pause()
    pilot.app.tick(force=True)
    await pilot.pause()


async def test_overview_at_80x24_keeps_what_matters(app: MonitorApp, screen_text: Text) -> None:
    async with app.run_test(size=SMALL) as pilot:
        await show(pilot)
        text = screen_text(app)
    lines = text.splitlines()
    assert len(lines) == 24
    assert all(len(line) <= 80 for line in lines)
    header = lines[0]
    assert header.startswith(f" {HOSTNAME} ")
    assert header.endswith("22:13:20")
    # the header's source list does not fit: it ends in an ellipsis, not mid-word
    assert re.search(r"… +22:13:20$", header), header
    for name in LATENCY:  # every service: whole name and a status word
        row = next((line for line in lines if f"│ {name} " in line), None)
        assert row is not None, name
        assert re.search(r"\b(UP|DOWN|SLOW)\b", row), row
    memory = next(line for line in lines if "│ memory " in line)
    assert "DOWN" in memory
    assert "refused" in memory
    assert "CPU " in text
    assert "MEM " in text
    assert "%" in text
    assert "no incidents" in text
    assert "q Quit" in lines[-1]
    assert "? Help" in lines[-1]


def hidden_columns(app: MonitorApp) -> dict[str, int]:
    """Tables whose columns stick out sideways: {table id: hidden cells}."""
    return {str(t.id): t.max_scroll_x for t in app.screen.query(DataTable) if t.max_scroll_x}


@pytest.mark.parametrize(
    "size",
    [
        (80, 24),
        (120, 40),
        (160, 50),
    ],
)
async def test_overview_services_table_fits_its_pane(
    app: MonitorApp, size: tuple[int, int]
) -> None:
    async with app.run_test(size=size) as pilot:
        await show(pilot)
        assert hidden_columns(app) == {}


async def test_services_view_list_fits_its_pane(app: MonitorApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await show(pilot, "s")
        assert hidden_columns(app) == {}


async def test_help_fits_at_80x24(app: MonitorApp, screen_text: Text) -> None:
    async with app.run_test(size=SMALL) as pilot:
        await show(pilot, "question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = screen_text(app)
        assert "ctrl+c" in text
        assert "ctrl+p" in text
        assert "close this" in text


async def test_footer_shows_quit_and_help_at_80_columns(app: MonitorApp, screen_text: Text) -> None:
    async with app.run_test(size=SMALL) as pilot:
        for key in ("o", "s", "m"):
            await show(pilot, key)
            footer = screen_text(app).splitlines()[-1]
            assert "q Quit" in footer, (key, footer)
            assert "? Help" in footer, (key, footer)
