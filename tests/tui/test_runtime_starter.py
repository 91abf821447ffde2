"""The app is handed a starter, never the runtime: it starts it after the first frame over
the app's own store, takes the commands and queries it returns, and stops it on quit."""

from __future__ import annotations

import asyncio
from typing import Any

from support.waiting import until
from tui_data import CONFIG_TEXT, HOSTNAME, T

from devmentor_monitor.config.schema import parse_text
from devmentor_monitor.intake import StoreIntake
from devmentor_monitor.model import CheckResult
from devmentor_monitor.store import Store
from devmentor_monitor.tui.app import MonitorApp


class FakeStarter:
    """Stands in for cli.UltraRuntime: records the calls, returns stand-in views."""

    def __init__(self) -> None:
        self.started_with: Store | None = None
        self.stopped = 0
        self.commands, self.queries = object(), object()

    async def first_checks(self, store: Store) -> None:
        pass

    async def start(self, store: Store) -> tuple[Any, Any]:
        self.started_with = store
        return self.commands, self.queries

    async def stop(self) -> None:
        self.stopped += 1


async def test_the_app_starts_and_stops_the_runtime_through_its_starter(utc: None) -> None:
    starter = FakeStarter()
    app = MonitorApp(parse_text(CONFIG_TEXT), runtime=starter, clock=lambda: T, hostname=HOSTNAME)
    assert app.store is not None  # built before the first frame, for the runtime to fill
    assert app.commands is None  # nothing to write through until the runtime is up
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.commands is not None, "the runtime to start")
        assert starter.started_with is app.store
        assert app.commands is starter.commands
        assert app.queries is starter.queries
        await pilot.press("q")
        await pilot.pause()
    assert starter.stopped == 1
    assert app.return_code == 0


class LateResults(FakeStarter):
    """A runtime whose first check result comes after its start returned, through the
    intake, as the first round's do."""

    def __init__(self) -> None:
        super().__init__()
        self.task: asyncio.Task[None] | None = None

    async def start(self, store: Store) -> tuple[Any, Any]:
        async def first_check() -> None:
            await asyncio.sleep(0.3)
            StoreIntake(store).observe(CheckResult("auth", T, ok=True, latency=0.012))

        self.task = asyncio.create_task(first_check())
        return await super().start(store)


async def test_the_first_results_are_drawn_as_they_come_not_at_the_next_tick(
    utc: None, screen_text: Any
) -> None:
    """Issue 19: the refresh tick (here an hour) does not hold back the first values."""
    starter = LateResults()
    config = parse_text(CONFIG_TEXT + "tui:\n  refresh: 1h\n")
    app = MonitorApp(config, runtime=starter, clock=lambda: T, hostname=HOSTNAME)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: starter.task is not None and starter.task.done(), "the check")
        await until(
            pilot,
            lambda: any(" auth " in ln and " UP " in ln for ln in screen_text(app).splitlines()),
            "auth drawn UP",
            within=2.0,
        )
        await pilot.press("q")


class SlowStart(FakeStarter):
    """A runtime still reading its database (the open incidents) until released."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()

    async def start(self, store: Store) -> tuple[Any, Any]:
        await self.release.wait()
        return await super().start(store)


async def test_the_open_incidents_read_unknown_until_the_runtime_is_up(
    utc: None, screen_text: Any
) -> None:
    """The first frame comes before the database is read: "…", never a false "none"."""
    starter = SlowStart()
    app = MonitorApp(parse_text(CONFIG_TEXT), runtime=starter, clock=lambda: T, hostname=HOSTNAME)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: "incidents: …" in screen_text(app), "the first frame")
        assert "no incidents" not in screen_text(app)  # the pane says the same
        starter.release.set()
        await until(pilot, lambda: "incidents: none" in screen_text(app), "the runtime up")
        assert "no incidents" in screen_text(app)
        await pilot.press("q")
