"""Issue 19, real values fast: after a restart the services table shows each service's
last known status at once (from the history the first run left), dim and marked stale,
until its first fresh check replaces it. A real runtime both times, real HTTP on loopback."""

from __future__ import annotations

from pathlib import Path

from msgspec.structs import replace
from rich.text import Text
from support.http import HealthServer
from support.waiting import eventually, until
from textual.widgets import DataTable
from tui_data import HOSTNAME, render_text

from devmentor_monitor.cli import UltraRuntime
from devmentor_monitor.config.schema import Config, parse_text
from devmentor_monitor.demo.fleet import free_port
from devmentor_monitor.model import Health
from devmentor_monitor.runtime import Monitor
from devmentor_monitor.tui.app import MonitorApp


def config(data: Path, auth: str, memory: str) -> Config:
    text = f"""
services:
  - name: auth
    url: {auth}
    timeout: 2s
  - name: memory
    url: {memory}
    timeout: 2s
"""
    return replace(parse_text(text), data_dir=str(data))


def line_of(app: MonitorApp, name: str) -> str:
    return next(line for line in render_text(app).splitlines() if f" {name} " in line)


def marks(line: str) -> list[str]:
    """The status word and the stale mark, in the order the row shows them."""
    return [w for w in line.split() if w in ("UP", "DOWN", "stale")]


async def test_the_last_known_status_is_drawn_stale_until_a_fresh_check(
    tmp_path: Path, utc: None
) -> None:
    async with HealthServer() as server:
        # The first run: auth answers, memory refuses; both checked, then stopped.
        refused = f"http://127.0.0.1:{free_port()}/health"
        first = Monitor(config(tmp_path, server.url(), refused), serve=False)
        await first.start(require_server=False)
        try:
            await eventually(
                lambda: (
                    (first.store.status("auth"), first.store.status("memory"))
                    == (Health.UP, Health.DOWN)
                ),
                10,
                "auth up and memory down",
            )
        finally:
            await first.stop()

        # The second: both hang past their 2 s timeout (4 s), so no fresh result for 2 s.
        server.delay = 4.0
        cfg = config(tmp_path, server.url(), server.url("/memory"))
        app = MonitorApp(cfg, runtime=UltraRuntime(cfg, demo=False, serve=False), hostname=HOSTNAME)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: "stale" in render_text(app), "the stale statuses", 10)
            assert "services 0/2 up · 2 stale" in render_text(app).splitlines()[0]
            auth, memory = line_of(app, "auth"), line_of(app, "memory")
            assert marks(auth) == ["UP", "stale"], auth
            assert marks(memory) == ["DOWN", "stale"], memory
            table = app.screen.query_one("#services", DataTable)
            status = table.get_cell("auth", "status")
            assert isinstance(status, Text)
            assert "dim" in str(status.style)  # not bold: stale
            # The first fresh results (timeouts) replace them: DOWN, not marked stale.
            await until(pilot, lambda: "stale" not in render_text(app), "fresh checks", 10)
            auth = line_of(app, "auth")
            assert "DOWN" in auth, auth
            assert "timeout" in auth, auth
            fresh = table.get_cell("auth", "status")
            assert isinstance(fresh, Text)
            assert "bold" in str(fresh.style)
            await pilot.press("q")
