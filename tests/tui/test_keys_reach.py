"""Every key reachable, from the one key table (tui/keys.py): the help and the palette list
every binding; esc closes the palette and the dashboard runs on behind it; `r` asks before
it resolves; `c` copies over OSC 52; `$` (listed in the help) shows the monitor's own
cost, and the header says when a source cannot keep to its interval; `tui.keys` remaps
the new keys too."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from support.waiting import until
from textual.command import CommandPalette
from textual.screen import Screen
from tui_data import T, settle

from devmentor_monitor.incidents.engine import Actor
from devmentor_monitor.incidents.model import IncidentState, Severity
from devmentor_monitor.tui.app import MonitorApp
from devmentor_monitor.tui.confirm import ConfirmScreen
from devmentor_monitor.tui.keys import KEYS, key_display
from devmentor_monitor.tui.screens import HelpScreen, IncidentDetailScreen, OverviewScreen
from devmentor_monitor.tui.self_view import SelfScreen

TALL = (130, 60)  # the whole help on screen, unscrolled
# A dialog's own keys (close it, answer it, scroll it) are not actions of the monitor.
DIALOG_KEYS = {"help_close", "help_down", "help_up", "self_close", "confirm_yes", "confirm_no"}
# The key the view is shown with, per scope of keys.
SCOPE_VIEW = {
    "app": "o",
    "range": "m",
    "incidents": "i",
    "events": "e",
    "docker": "d",
    "kubernetes": "k",
    "topology": "g",
}
NAMED = {  # the keys the issue found missing, by what the help shows
    "incident_ack": "a",
    "incident_resolve": "r",
    "events_severity": "v",
    "events_pause": "space",
    "container_logs": "l",
    "container_stop": "x",
    "container_start": "u",
    "deployment_scale_up": "+",
    "deployment_scale_down": "-",
    "range_5m": "1",
    "range_30d": "5",
    "range_next": "r",
}


def declared_ids(app: MonitorApp) -> set[str]:
    """The id of every binding any screen of the app declares."""
    classes: list[Any] = [
        type(app),
        OverviewScreen,
        HelpScreen,
        SelfScreen,
        ConfirmScreen,
        IncidentDetailScreen,
        *app.view_screens(),
    ]
    return {b.id for cls in classes for b in cls.BINDINGS if b.id}  # type: ignore[union-attr]


async def open_palette(pilot: Any, app: MonitorApp) -> None:
    await pilot.press("ctrl+p")
    await until(pilot, lambda: isinstance(app.screen, CommandPalette), "the palette")


async def test_every_binding_is_in_the_help_and_the_palette(
    app: MonitorApp, screen_text: Callable[[Any], str]
) -> None:
    ids = {k.id for k in KEYS}
    assert declared_ids(app) - {"interrupt"} - DIALOG_KEYS <= ids  # none outside the table
    by_id = {k.id: k for k in KEYS}
    for key_id, shown in NAMED.items():
        assert key_display(by_id[key_id].key) == shown, key_id
    async with app.run_test(size=TALL) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        help_text = screen_text(app)
        for key in KEYS:
            assert key_display(key.key) in help_text, key.id
            assert key.title in help_text, key.id
        for line in (
            "a r       Incident (i) Acknowledge · Resolve",
            "space v   Events (e)   Pause · Severity",
            "r x u l   Container (d) Restart · Stop · Start · Logs",
            "r x + -   Kubernetes (k) Restart · Delete · Scale+ · Scale−",
            "1 2 3 4 5 r Range (m, s) 5 m · 1 h · 24 h · 7 d · 30 d · Next",
            "c         Copy",
            "$         Self",
        ):
            assert line in help_text, line
        await pilot.press("escape")
        palette_titles: dict[str, set[str]] = {}
        for scope, view in SCOPE_VIEW.items():
            await pilot.press(view)
            await settle(pilot)
            screen: Screen[Any] = app.screen
            palette_titles[scope] = {c.title for c in app.get_system_commands(screen)}
        await open_palette(pilot, app)
        await pilot.press(*"Resolve")  # the incidents view's key, not offered here
        await pilot.pause(0.3)
        await pilot.press("escape")
    for key in KEYS:
        if key.id == "back" or key.scope == "incident":  # esc; the incident detail's own
            continue
        assert key.title in palette_titles[key.scope], (key.scope, key.id)
    assert "Resolve" not in palette_titles["app"]
    assert "Resolve" in palette_titles["incidents"]


async def test_esc_closes_the_palette_and_the_dashboard_runs_on_behind_it(
    make_app: Callable[..., MonitorApp], screen_text: Callable[[Any], str]
) -> None:
    app = make_app("tui: {refresh: 0.1s}\n")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert "22:13:20" in screen_text(app).splitlines()[0]  # T in UTC
        await open_palette(pilot, app)
        app.clock = lambda: T + 61  # a minute later: the header clock behind the palette
        await until(
            pilot,
            lambda: "22:14:21" in screen_text(app).splitlines()[0],
            "the header clock to move behind the palette",
        )
        assert isinstance(app.screen, CommandPalette)
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, CommandPalette), "esc to close")
        assert app.is_running
        assert app.current_mode == "overview"


async def test_r_asks_before_resolving(make_app: Callable[..., MonitorApp]) -> None:
    app = make_app()
    monitor = app.monitor  # type: ignore[attr-defined]
    inc = await monitor.engine.open_manual(
        "auth", "login errors spiking", Severity.HIGH, Actor("ops", "test")
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("i")
        await settle(pilot)
        await pilot.press("r")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert inc.id in app.screen.question
        await pilot.press("n")  # no: nothing happens
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
        assert monitor.store.incident(inc.id).state is IncidentState.OPEN
        await pilot.press("r")
        await pilot.pause()
        await pilot.press("escape")  # esc cancels too
        await pilot.pause()
        assert monitor.store.incident(inc.id).state is IncidentState.OPEN
        await pilot.press("r", "y")
        await until(
            pilot,
            lambda: (
                monitor.store.incident(inc.id) is None
                or monitor.store.incident(inc.id).state is IncidentState.RESOLVED
            ),
            "the resolve",
        )


async def test_c_copies_the_incident_id_or_the_service_url(
    make_app: Callable[..., MonitorApp],
) -> None:
    app = make_app()
    monitor = app.monitor  # type: ignore[attr-defined]
    inc = await monitor.engine.open_manual(
        "auth", "login errors spiking", Severity.HIGH, Actor("ops", "test")
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("c")  # the overview's selected service: the first row
        await pilot.pause()
        assert app.clipboard == "http://127.0.0.1:3002/health"
        await pilot.press("s", "down")
        await settle(pilot)
        await pilot.press("c")
        await pilot.pause()
        assert app.clipboard == "http://127.0.0.1:3003/health"  # memory
        await pilot.press("i")
        await settle(pilot)
        await pilot.press("c")
        await pilot.pause()
        assert app.clipboard == inc.id


async def test_self_panel_from_the_help_and_slow_sources_in_the_header(
    app: MonitorApp, screen_text: Callable[[Any], str]
) -> None:
    assert app.store is not None
    polls = app.store.cost.polls
    for took in (0.004, 0.006):
        polls.record("system", took, 5.0)
    polls.record("health", 0.2, 10.0)
    polls.record("health", 12.3, 10.0)  # queued behind 1,000 others: over its interval
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot)
        assert "health checks slow: 12.3 s > 10 s" in screen_text(app).splitlines()[0]
        await pilot.press("question_mark", "dollar_sign")
        await until(pilot, lambda: isinstance(app.screen, SelfScreen), "the self panel")
        text = screen_text(app)
        assert "CPU" in text
        assert "RSS" in text
        health = next(line for line in text.splitlines() if " health " in line)
        assert "12.3 s" in health  # the worst
        assert "SLOW" in health
        system = next(line for line in text.splitlines() if " system " in line)
        assert "SLOW" not in system
        assert "5.0 ms" in system  # the mean of 4 and 6 ms
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)  # back to the help it was opened from


async def test_tui_keys_remap_the_new_keys(make_app: Callable[..., MonitorApp]) -> None:
    app = make_app('tui: {keys: {incident_resolve: "R", copy: "y", self: "ctrl+s"}}\n')
    monitor = app.monitor  # type: ignore[attr-defined]
    inc = await monitor.engine.open_manual(
        "auth", "login errors spiking", Severity.HIGH, Actor("ops", "test")
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("i")
        await settle(pilot)
        await pilot.press("r")  # the old key is gone
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
        await pilot.press("R")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await pilot.pause()
        await pilot.press("c")
        await pilot.pause()
        assert app.clipboard == ""
        await pilot.press("y")
        await pilot.pause()
        assert app.clipboard == inc.id
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, SelfScreen), "the self panel")
