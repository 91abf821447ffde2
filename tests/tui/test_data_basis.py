"""Figures say how much data they rest on: after 11 s of checks the overview's "up 24h"
and "budget" cells read "100% 11s", not "100.00%", and the service detail gives the
span and the checks; with a day of checks behind it the 24 h cell is a plain figure."""

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
        auth = row(screen_text(app), "auth")
        assert "100% 11s" in auth  # up 24h, and the budget: both over 11 s
        assert auth.count("100% 11s") == 2
        assert "100.00%" not in auth
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
        auth = row(screen_text(app), "auth")
        assert "100.00%" in auth  # the day is covered: the plain figure
        assert "100% 1d" in auth  # the budget's 7 d is not
        await pilot.press("s")
        await settle(pilot)
        text = " ".join(screen_text(app).split())
        assert "uptime 1h 100.00 % 24h 100.00 % 7d 100.00 % (1d2h of data, 157 checks)" in text
