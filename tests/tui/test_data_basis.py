"""Figures say how much data they rest on: after 11 s of checks the overview's "up 24h"
and "budget" cells read "100%*", not "100.00%", the table's border says "* over 11s of
data", and the service detail gives the span and the checks; with a day of checks behind
it the 24 h cell is a plain figure and only the budget (7 d) is marked."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from msgspec.structs import replace
from tui_data import CONFIG_TEXT, HOSTNAME, T, settle, views_of

from devmentor_monitor.config.schema import parse_text
from devmentor_monitor.model import CheckResult
from devmentor_monitor.runtime import Monitor
from devmentor_monitor.tui.app import MonitorApp


def checked_for(span: float, step: float, tmp_path: Path) -> MonitorApp:
    """An app over a runtime (never started) whose services were checked every ``step``
    seconds for the ``span`` before T, all up."""
    config = replace(parse_text(CONFIG_TEXT), data_dir=str(tmp_path / "data"))
    monitor = Monitor(config, serve=False, clock=lambda: T)
    ts = T - span
    while ts <= T:
        for name in ("auth", "memory", "ai-gateway", "project", "monitoring"):
            monitor.intake.observe(CheckResult(name, ts, ok=True, latency=0.01, status_code=200))
        ts += step
    return MonitorApp(config, **views_of(monitor), clock=lambda: T, hostname=HOSTNAME)


def row(text: str, name: str) -> str:
    return next(line for line in text.splitlines() if f"│ {name} " in line)


async def test_eleven_seconds_of_checks_say_so(
    tmp_path: Path, utc: None, no_color_unset: None, screen_text: Callable[[Any], str]
) -> None:
    app = checked_for(11, 5.5, tmp_path)  # three checks: 11 s of data
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        text = screen_text(app)
        auth = row(text, "auth")
        assert auth.split("│")[1].split()[-3:-1] == ["100%*", "100%*"]  # up 24h, budget
        assert "100.00%" not in auth
        assert "* over 11s of data ─╯" in text  # the services pane's bottom border
        await pilot.press("s")
        await settle(pilot)
        text = " ".join(screen_text(app).split())  # the detail may wrap
        assert "uptime 1h 100.00 % (11s of data, 3 checks)" in text
        assert "24h 100.00 %" not in text  # the longer windows would repeat the same checks
        assert "budget left 100.0% (over 11s of 7d)" in text


async def test_a_day_and_more_covers_the_24h_window(
    tmp_path: Path, utc: None, no_color_unset: None, screen_text: Callable[[Any], str]
) -> None:
    app = checked_for(26 * 3600, 600, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        text = screen_text(app)
        auth = row(text, "auth")
        assert auth.split("│")[1].split()[-3:-1] == ["100.00%", "100%*"]  # the day is covered
        assert "* over 1d of data ─╯" in text  # the budget's 7 d are not
        await pilot.press("s")
        await settle(pilot)
        text = " ".join(screen_text(app).split())
        assert "uptime 1h 100.00 % 24h 100.00 % 7d 100.00 % (1d2h of data, 157 checks)" in text


def test_the_note_gives_the_range_when_services_hold_different_spans() -> None:
    from msgspec.structs import replace as with_

    from devmentor_monitor.tui.databasis import budget_cell, marks_note, uptime_cell

    base = Monitor(parse_text(CONFIG_TEXT), serve=False, clock=lambda: T)
    base.intake.observe(CheckResult("auth", T, ok=True, latency=0.01))
    s = base.store.service("auth", T)
    young = with_(s, data_seconds=540.0, uptime_24h=99.96, error_budget_remaining=0.5)
    older = with_(s, data_seconds=2 * 3600.0, uptime_24h=99.5, error_budget_remaining=-0.1)
    full = with_(s, data_seconds=8 * 86400.0, uptime_24h=99.96, error_budget_remaining=0.5)
    assert (uptime_cell(young), budget_cell(young)) == ("99.9%*", "50%*")  # never 100.0%
    assert (uptime_cell(older), budget_cell(older)) == ("99.5%*", "spent")
    assert (uptime_cell(full), budget_cell(full)) == ("99.96%", "50%")
    assert marks_note([young, older, full]) == "* over 9m to 2h of data"
    assert marks_note([full]) == ""
