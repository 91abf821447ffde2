"""Fixtures for the TUI tests: frozen data (tui_data.py), a fixed time zone, no NO_COLOR."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from msgspec.structs import replace
from tui_data import CONFIG_TEXT, HOSTNAME, T, frozen_monitor, render_text, views_of

from devmentor_monitor.config.schema import parse_text


@pytest.fixture
def utc() -> Iterator[None]:
    """The header shows local time: pin the zone so the clock reads the same everywhere."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if old is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = old
    time.tzset()


@pytest.fixture
def no_color_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)


@pytest.fixture
def make_app(utc: None, no_color_unset: None, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """Build a MonitorApp over frozen data; ``extra`` YAML is appended to the config.

    The app gets the store, commands and queries; ``app.monitor`` is kept for the tests
    only, which write more data through the runtime's intake. Its files (the incidents'
    database and the history, which holds the frozen checks and host samples as the
    intake wrote them) are open, in tmp_path, so Queries reads real files."""
    from devmentor_monitor.tui.app import MonitorApp

    monitors: list[Any] = []

    def make(extra: str = "", theme: str | None = None) -> MonitorApp:
        config = replace(
            parse_text(CONFIG_TEXT + extra), data_dir=str(tmp_path / f"data{len(monitors)}")
        )
        monitor = frozen_monitor(config)
        monitor.db.open()
        monitor.history.open()
        monitors.append(monitor)
        app = MonitorApp(
            config, **views_of(monitor), clock=lambda: T, hostname=HOSTNAME, theme=theme
        )
        app.monitor = monitor  # type: ignore[attr-defined]
        return app

    yield make
    for monitor in monitors:
        asyncio.run(monitor.history.close())
        monitor.db.close()


@pytest.fixture
def app(make_app: Callable[..., Any]) -> Any:
    return make_app()


@pytest.fixture
def screen_text() -> Callable[[Any], str]:
    return render_text
