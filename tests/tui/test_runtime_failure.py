"""A runtime that cannot start (its database file is a directory) leaves the dashboard up
and says why on screen, where before the rows froze on their first values in silence."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from support.waiting import until
from tui_data import HOSTNAME, T

from devmentor_monitor.cli import UltraRuntime
from devmentor_monitor.config.schema import parse_text
from devmentor_monitor.demo.fleet import free_port
from devmentor_monitor.tui.app import MonitorApp


async def test_a_runtime_that_cannot_start_is_said_on_screen(
    tmp_path: Path, utc: None, screen_text: Any
) -> None:
    data = tmp_path / "data"
    (data / "monitor.db").mkdir(parents=True)  # what SQLite cannot open
    config = parse_text(
        f"storage:\n  data_dir: {data}\n"
        f"services:\n  - name: auth\n    url: http://127.0.0.1:{free_port()}/health\n"
    )
    runtime = UltraRuntime(config, demo=False, serve=False)
    app = MonitorApp(config, runtime=runtime, clock=lambda: T, hostname=HOSTNAME)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await until(
            pilot, lambda: "could not start" in screen_text(app), "the reason on screen", 20
        )
        assert "monitor.db" in screen_text(app) or "Storage" in screen_text(app)
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0
