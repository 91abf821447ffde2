"""Mouse over SSH: a click selects a row and a click on the selected row opens it (as in
btop, and as the topology view does: a stray click never jumps away), on the services
table, incidents, containers and pods; the wheel scrolls the tables."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from support.waiting import until
from test_workloads_views import DOCKER, KUBE, containers
from textual import events
from textual.widgets import DataTable
from tui_data import T, settle

from devmentor_monitor.incidents.engine import Actor
from devmentor_monitor.incidents.model import Severity
from devmentor_monitor.model import CheckResult
from devmentor_monitor.observations import ContainersListed, KubeListed
from devmentor_monitor.sources.base import status
from devmentor_monitor.tui.app import MonitorApp
from devmentor_monitor.tui.screens import IncidentDetailScreen, ServicesScreen
from devmentor_monitor.workloads.model import PodInfo

Text = Callable[[Any], str]
WIDE = (160, 50)


def row_at(index: int) -> tuple[int, int]:
    """Where to click row ``index`` of a bordered table with a header (widget offset)."""
    return (4, 2 + index)


async def test_click_selects_a_service_and_a_second_click_opens_it(
    app: MonitorApp, screen_text: Text
) -> None:
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#services", DataTable)
        await pilot.click("#services", offset=row_at(1))  # memory
        await settle(pilot)
        assert table.cursor_row == 1
        assert app.current_mode == "overview"  # the first click only selects
        await pilot.click("#services", offset=row_at(1))
        await settle(pilot)
        assert app.current_mode == "services"
        screen = app.screen
        assert isinstance(screen, ServicesScreen)
        assert screen.selected == "memory"
        assert "memory  DOWN" in screen_text(app)
        await pilot.click("#svc-list", offset=row_at(2))  # another service: its detail
        await settle(pilot)
        assert screen.selected == "ai-gateway"
        await pilot.press("o")
        await settle(pilot)
        await pilot.press("up", "enter")  # the keyboard's way: the same
        await settle(pilot)
        assert app.current_mode == "services"
        assert app.screen.selected == "auth"  # type: ignore[attr-defined]


async def test_click_selects_an_incident_and_a_second_click_opens_it(
    make_app: Callable[..., MonitorApp], screen_text: Text
) -> None:
    app = make_app()
    engine = app.monitor.engine  # type: ignore[attr-defined]
    first = await engine.open_manual("auth", "login errors", Severity.HIGH, Actor("ops", "t"))
    second = await engine.open_manual("project", "slow builds", Severity.LOW, Actor("ops", "t"))
    async with app.run_test(size=WIDE) as pilot:
        await pilot.press("i")
        await settle(pilot)
        table = app.screen.query_one("#inc-list", DataTable)
        rows = [r.key.value for r in table.ordered_rows]
        assert set(rows) == {first.id, second.id}
        other = 1 - rows.index(app.screen.selected)  # type: ignore[attr-defined]
        await pilot.click("#inc-list", offset=row_at(other))
        await settle(pilot)
        assert app.screen.selected == rows[other]  # type: ignore[attr-defined]
        assert not isinstance(app.screen, IncidentDetailScreen)
        await pilot.click("#inc-list", offset=row_at(other))
        await until(pilot, lambda: isinstance(app.screen, IncidentDetailScreen), "its detail")
        assert app.screen.incident.id == rows[other]  # type: ignore[attr-defined]


async def test_click_a_container_then_again_for_its_log_tail(
    make_app: Callable[..., Any], screen_text: Text
) -> None:
    app = make_app(DOCKER)
    monitor = app.monitor
    monitor.intake.observe(status("docker", True, "podman 4.3.1 (API 1.41)"))
    monitor.intake.observe(ContainersListed(containers()))

    async def logs(container_id: str, lines: int | None = None) -> list[str]:
        return [f"{container_id[:3]} line {i}" for i in range(3)]

    monitor.docker_source.logs = logs
    async with app.run_test(size=WIDE) as pilot:
        await pilot.press("d")
        await settle(pilot)
        await pilot.click("#containers", offset=row_at(1))
        await settle(pilot)
        assert "Exited (137) 5 seconds ago" in screen_text(app)  # devmentor-memory's detail
        assert "bbb line" not in screen_text(app)
        await pilot.click("#containers", offset=row_at(1))
        await until(pilot, lambda: "bbb line 2" in screen_text(app), "its log tail")


async def test_click_a_pod_shows_its_detail(
    make_app: Callable[..., Any], screen_text: Text
) -> None:
    app = make_app(KUBE)
    monitor = app.monitor
    monitor.intake.observe(status("kubernetes", True, "https://k8s:6443 namespace devmentor"))
    pods = (
        PodInfo("auth-7d9-x2k8p", "devmentor", "Running", True, 1, 1, 0, "node-1", T - 60),
        PodInfo(
            "memory-5d4-q9w7e",
            "devmentor",
            "Running",
            False,
            0,
            1,
            7,
            "node-2",
            T - 600,
            "OOMKilled (exit 137)",
        ),
    )
    monitor.intake.observe(KubeListed("pods", {p.name: p for p in pods}))
    async with app.run_test(size=WIDE) as pilot:
        await pilot.press("k")
        await settle(pilot)
        assert "pod auth-7d9-x2k8p" in screen_text(app)
        await pilot.click("#pods", offset=row_at(1))  # the pod table is a bordered box
        await settle(pilot)
        assert "pod memory-5d4-q9w7e" in screen_text(app)
        assert "last termination: OOMKilled (exit 137)" in screen_text(app)


async def test_the_wheel_scrolls_the_services_table(
    make_app: Callable[..., MonitorApp], screen_text: Text
) -> None:
    extra = "".join(
        f"  - name: svc-{i:02d}\n    url: http://127.0.0.1:{4000 + i}/health\n" for i in range(35)
    )
    app = make_app(extra)
    for i in range(35):
        app.monitor.intake.observe(  # type: ignore[attr-defined]
            CheckResult(f"svc-{i:02d}", T - 2, ok=True, latency=0.004, status_code=200)
        )
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#services", DataTable)
        assert "│ svc-34 " not in screen_text(app)
        for _ in range(40):
            await pilot._post_mouse_events([events.MouseScrollDown], "#services", offset=(10, 3))
        await settle(pilot)
        assert table.scroll_y > 0
        last = next(line for line in screen_text(app).splitlines() if "│ svc-34 " in line)
        assert "UP" in last  # scrolled in and drawn, not a blank row
        for _ in range(40):
            await pilot._post_mouse_events([events.MouseScrollUp], "#services", offset=(10, 3))
        await settle(pilot)
        assert table.scroll_y == 0
