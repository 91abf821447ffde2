"""The topology view (`g`): the depends_on graph with live status, a cascade's root
highlighted and its dependents marked inhibited (the incident engine's own inhibition),
selection by arrows/hjkl, enter opens the service; snapshots at 80x24 and 160x50 with
the demo's five services and with 40."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from msgspec.structs import replace
from tui_data import CONFIG_TEXT, HOSTNAME, T, frozen_monitor, settle, views_of

from devmentor_monitor.config.schema import parse_text
from devmentor_monitor.incidents.model import Severity
from devmentor_monitor.incidents.signals import make_signal
from devmentor_monitor.model import CheckResult
from devmentor_monitor.runtime import Monitor
from devmentor_monitor.tui.app import MonitorApp
from devmentor_monitor.tui.screens import ServicesScreen
from devmentor_monitor.tui.topology import TopologyCanvas, TopologyScreen

# db is down; api and worker need it (and are failing with it); web needs nothing.
CASCADE = """
services:
  - name: db
    url: http://127.0.0.1:1/health
    failure_threshold: 1
  - name: api
    url: http://127.0.0.1:2/health
    failure_threshold: 1
    depends_on: [db]
  - name: worker
    url: http://127.0.0.1:3/health
    failure_threshold: 1
    depends_on: [db]
  - name: web
    url: http://127.0.0.1:4/health
"""


def fleet_config(n: int = 40) -> str:
    """Four tiers as in tests/unit/test_topology_layout.py, on loopback URLs."""
    deps: dict[str, list[str]] = {}
    for i in range(4):
        deps[f"store-{i}"] = []
    for i in range(8):
        deps[f"core-{i}"] = [f"store-{i % 4}", f"store-{(i + 1) % 4}"]
    for i in range(12):
        deps[f"app-{i}"] = [f"core-{i % 8}", f"store-{i % 4}"]
    for i in range(n - 24):
        deps[f"edge-{i}"] = [f"app-{i % 12}", f"core-{(i * 3) % 8}"]
    lines = ["services:"]
    for port, (name, needs) in enumerate(deps.items(), start=1):
        lines.append(f"  - name: {name}")
        lines.append(f"    url: http://127.0.0.1:{port}/health")
        if needs:
            lines.append(f"    depends_on: [{', '.join(needs)}]")
    return "\n".join(lines) + "\n"


def checked_monitor(config_text: str, tmp_path: Any, down: tuple[str, ...] = ()) -> Monitor:
    """A runtime (never started) whose intake saw three checks per service: ``down``
    ones refused, the others up with a latency that differs per service."""
    config = replace(parse_text(config_text), data_dir=str(tmp_path))
    monitor = Monitor(config, serve=False, clock=lambda: T)
    monitor.store.started = T - 3725  # the header says "up 1h2m", as with tui_data's
    for i, name in enumerate(monitor.store.service_names()):
        for k in range(3):
            ts = T - 30 + 10 * k
            if name in down:
                result = CheckResult(name, ts, ok=False, latency=None, error="connection refused")
            else:
                latency = 0.004 + 0.003 * (i % 7)
                result = CheckResult(name, ts, ok=True, latency=latency, status_code=200)
            monitor.intake.observe(result)
    return monitor


def canvas_of(app: MonitorApp) -> TopologyCanvas:
    screen = app.screen
    assert isinstance(screen, TopologyScreen)
    return screen.canvas


def box_text(app: MonitorApp, name: str) -> list[str]:
    """A service's box as the canvas draws it (all of it, scrolled into view or not)."""
    canvas = canvas_of(app)
    return [t.plain for t in canvas._text[name]]


async def test_a_cascade_root_is_highlighted_and_enter_opens_it(
    tmp_path, utc, no_color_unset, screen_text
):
    monitor = checked_monitor(CASCADE, tmp_path, down=("db", "api", "worker"))
    monitor.db.open()
    try:
        app = MonitorApp(monitor.config, **views_of(monitor), clock=lambda: T, hostname=HOSTNAME)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("g")
            await settle(pilot)
            assert app.current_mode == "topology"
            assert canvas_of(app).selected == "api"  # the first box of the first layer
            text = screen_text(app)
            assert "ROOT" not in text  # down, but no incident yet: no cascade
            assert "inhibited" not in text.replace("inhibits", "")
            # The engine opens db's incident from its outage signal, as the runtime would.
            engine = monitor.engine
            inc = await engine.on_signal(
                make_signal(
                    "service_down",
                    "db",
                    "db",
                    Severity.CRITICAL,
                    True,
                    T,
                    metric="down",
                    value=1.0,
                    threshold=0.5,
                )
            )
            assert inc is not None
            await settle(pilot)
            text = screen_text(app)
            db = box_text(app, "db")
            assert db[0].startswith("╔")
            assert db[-1].startswith("╚")
            assert "ROOT, 2 inhibited" in db[-1]
            assert "DOWN" in db[1]
            assert "refused" in db[1]
            assert inc.id in db[2]
            for dependent in ("api", "worker"):
                lines = box_text(app, dependent)
                assert lines[0].startswith("┌")
                assert "inhibited by db" in lines[2]
            assert "inhibited" not in "".join(box_text(app, "web"))
            assert "UP" in box_text(app, "web")[1]
            assert f"cascade: db ({inc.id}) inhibits 2" in text
            assert "inhibited by db" in text
            assert "ROOT, 2" in text
            # Colour: the root's border in the theme's down colour, dependents dimmed.
            canvas = canvas_of(app)
            down = app.palette["status-down"].lower()
            root_style = canvas._text["db"][0].style
            assert down in str(root_style).lower()
            assert "dim" in str(canvas._text["api"][0].style)

            # The cascade's root is selected by itself (nobody had moved the selection),
            # so g then enter opens it; h goes left to the nearest box (api), j and k move
            # within a layer (k is not kubernetes here), right goes back to db.
            assert canvas.selected == "db"
            await pilot.press("h")
            assert canvas.selected == "api"
            await pilot.press("j")
            assert canvas.selected == "worker"
            await pilot.press("k")
            assert canvas.selected == "api"
            assert app.current_mode == "topology"
            await pilot.press("right")
            assert canvas.selected == "db"
            await pilot.press("enter")
            await settle(pilot)
            assert app.current_mode == "services"
            screen = app.screen
            assert isinstance(screen, ServicesScreen)
            assert screen.selected == "db"
            assert "db  DOWN" in screen_text(app)
    finally:
        monitor.db.close()


async def test_the_diagram_scrolls_to_the_selection_at_80x24(
    tmp_path, utc, no_color_unset, screen_text
):
    monitor = checked_monitor(fleet_config(40), tmp_path)
    app = MonitorApp(monitor.config, **views_of(monitor), clock=lambda: T, hostname=HOSTNAME)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("g")
        await settle(pilot)
        canvas = canvas_of(app)
        assert canvas.graph is not None
        assert len(canvas.graph.boxes) == 40
        first = canvas.selected
        assert first is not None
        assert first in screen_text(app)
        for _ in range(15):
            await pilot.press("j")
        await settle(pilot)
        last = canvas.selected
        assert last != first
        assert canvas.scroll_offset.y > 0
        text = screen_text(app)
        assert last in text
        for _ in range(3):
            await pilot.press("l")
        await settle(pilot)
        assert canvas.selected is not None
        assert canvas.selected.startswith("store-")
        assert canvas.scroll_offset.x > 0
        assert canvas.selected in screen_text(app)


def demo_app(tmp_path: Any, extra: str = "") -> MonitorApp:
    config = replace(parse_text(CONFIG_TEXT + extra), data_dir=str(tmp_path))
    monitor = frozen_monitor(config)
    return MonitorApp(config, **views_of(monitor), clock=lambda: T, hostname=HOSTNAME)


async def show_topology(pilot: Any) -> None:
    await pilot.press("g")
    await settle(pilot)


@pytest.mark.parametrize("size", [(80, 24), (160, 50)], ids=["80x24", "160x50"])
def test_topology_demo(
    snap_compare: Callable[..., bool], tmp_path, utc, no_color_unset, size: tuple[int, int]
) -> None:
    """The demo's five services: memory DOWN (its reason in its box), ai-gateway SLOW."""
    assert snap_compare(demo_app(tmp_path), terminal_size=size, run_before=show_topology)


@pytest.mark.parametrize("size", [(80, 24), (160, 50)], ids=["80x24", "160x50"])
def test_topology_forty(
    snap_compare: Callable[..., bool], tmp_path, utc, no_color_unset, size: tuple[int, int]
) -> None:
    monitor = checked_monitor(fleet_config(40), tmp_path, down=("core-3",))
    app = MonitorApp(monitor.config, **views_of(monitor), clock=lambda: T, hostname=HOSTNAME)
    assert snap_compare(app, terminal_size=size, run_before=show_topology)


async def test_its_keys_are_in_the_palette_and_remap(tmp_path, utc, no_color_unset, screen_text):
    """g and the view's own keys are palette commands (the view's only while it is up),
    and `tui.keys` remaps them like every key."""
    app = demo_app(tmp_path, "tui:\n  keys: {topology: G, topology_down: 'down,n'}\n")
    async with app.run_test(size=(80, 24)) as pilot:
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert "Topology" in titles
        assert "Open" not in titles  # the overview has no box to open
        await pilot.press("g")
        assert app.current_mode == "overview"  # g was remapped away
        await pilot.press("G")
        await settle(pilot)
        assert app.current_mode == "topology"
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {"Left", "Down", "Up", "Right", "Open"} <= titles
        canvas = canvas_of(app)
        assert canvas.selected == "ai-gateway"
        await pilot.press("right", "n")  # memory, then the next box down its layer
        assert canvas.selected == "project"
        await pilot.press("j")  # no longer bound here: nothing moves
        assert canvas.selected == "project"


async def test_a_click_selects_and_a_second_click_opens(tmp_path, utc, no_color_unset, screen_text):
    app = demo_app(tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.press("g")
        await settle(pilot)
        canvas = canvas_of(app)
        assert canvas.graph is not None
        box = canvas.graph.boxes["auth"]
        at = (box.x + 3 + 1, box.y + 1 + 1)  # inside the box, past the canvas's border
        await pilot.click(TopologyCanvas, offset=at)
        await settle(pilot)
        assert canvas.selected == "auth"
        assert "▸ auth UP  depends on nothing · needed by memory, ai-gateway, project" in (
            screen_text(app)
        )
        await pilot.click(TopologyCanvas, offset=at)
        await settle(pilot)
        assert app.current_mode == "services"
        assert app.screen.selected == "auth"


async def test_a_big_fleet_is_laid_out_off_the_loop(tmp_path, utc, no_color_unset, screen_text):
    """Past INLINE_LAYOUT services the layout runs in a worker thread (the loop goes on);
    the view draws every service once it is done."""
    from support.waiting import until

    from devmentor_monitor.tui.topology import INLINE_LAYOUT

    n = INLINE_LAYOUT + 50
    lines = ["services:"]
    for i in range(n):
        lines += [f"  - name: s{i}", f"    url: http://127.0.0.1:{i + 1}/health"]
        if i:
            lines.append(f"    depends_on: [s{i // 2}]")
    monitor = checked_monitor("\n".join(lines) + "\n", tmp_path)
    app = MonitorApp(monitor.config, **views_of(monitor), clock=lambda: T, hostname=HOSTNAME)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("g")
        await pilot.pause()
        canvas = canvas_of(app)
        await until(pilot, lambda: canvas.graph is not None, "the layout from its thread")
        await settle(pilot)
        assert len(canvas.graph.boxes) == n
        assert f"{n} services, {n - 1} dependencies" in screen_text(app)
