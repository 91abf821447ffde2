"""Pilot tests of the `d` and `k` views over frozen data: rows by key, the detail pane
and log tail, actions behind a confirmation, and the honest "not available: why"."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from support.waiting import until
from textual.widgets import DataTable
from tui_data import T, settle

from devmentor_monitor.model import Health, SourceState, SourceStatus
from devmentor_monitor.observations import ContainersListed, KubeListed
from devmentor_monitor.sources.base import status
from devmentor_monitor.tui.app import MonitorApp
from devmentor_monitor.tui.confirm import ConfirmScreen
from devmentor_monitor.workloads.model import ContainerInfo, DeploymentInfo, NodeInfo, PodInfo

Text = Callable[[Any], str]
WIDE = (160, 50)
DOCKER = "docker: {host: unix:///run/none.sock, containers: {memory: devmentor-memory}}\n"
KUBE = "kubernetes: {namespace: devmentor, selectors: {memory: app=memory}}\n"


def containers(memory_state: str = "running") -> list[ContainerInfo]:
    return [
        ContainerInfo(
            id="a" * 64,
            name="devmentor-auth",
            image="localhost/busybox:local",
            state="running",
            status="Up 2 hours",
            health="healthy",
            restart_count=1,
            started_at=T - 7200,
            service="auth",
            cpu_ratio=0.42,
            memory_bytes=64 * 1024**2,
            memory_limit=512 * 1024**2,
            ports=("0.0.0.0:3002->3002/tcp",),
        ),
        ContainerInfo(
            id="b" * 64,
            name="devmentor-memory",
            image="localhost/busybox:local",
            state=memory_state,
            status="Exited (137) 5 seconds ago",
            restart_count=4,
            exit_code=137 if memory_state != "running" else None,
            oom_killed=memory_state != "running",
            service="memory",
            started_at=T - 60,
        ),
    ]


async def test_docker_view_not_configured_says_why(app: MonitorApp, screen_text: Text) -> None:
    async with app.run_test(size=WIDE) as pilot:
        await pilot.press("d")
        await settle(pilot)
        text = screen_text(app)
    assert "docker: not available: not configured (add a docker: section" in text
    assert "no containers" in text


async def test_docker_view_unavailable_shows_reason_and_retry(
    make_app: Callable[..., Any], screen_text: Text
) -> None:
    app = make_app(DOCKER)
    app.monitor.intake.observe(
        SourceStatus(
            "docker",
            SourceState.UNAVAILABLE,
            "permission denied on /run/docker.sock",
            retry_at=T + 8,
        )
    )
    async with app.run_test(size=WIDE) as pilot:
        await pilot.press("d")
        await settle(pilot)
        text = screen_text(app)
    assert "docker: not available: permission denied on /run/docker.sock, retry in 8 s" in text


async def test_docker_view_rows_detail_logs_and_red_service(
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
        table = app.screen.query_one("#containers", DataTable)
        assert table.row_count == 2
        text = screen_text(app)
        assert "docker: podman 4.3.1 (API 1.41)" in text
        assert "devmentor-auth" in text
        assert "42%" in text
        assert "healthy" in text
        assert "64.0 MiB/512.0 MiB" in text
        assert "0.0.0.0:3002->3002/tcp" in text  # detail of the first (selected) row
        await pilot.press("l")
        await until(pilot, lambda: "aaa line 2" in screen_text(app), "the log tail")
        # the memory container stops: row updated in place, its service turns DOWN
        monitor.intake.observe(ContainersListed(containers("exited")))
        await settle(pilot)
        assert table.row_count == 2
        text = screen_text(app)
        assert "exited" in text
        assert monitor.store.status("memory") is Health.DOWN
        await pilot.press("o")
        await settle(pilot)
        overview = screen_text(app)
    row = next(line for line in overview.splitlines() if " memory " in line and "│" in line)
    assert "DOWN" in row


async def test_docker_action_needs_confirmation(
    make_app: Callable[..., Any], screen_text: Text
) -> None:
    app = make_app(DOCKER)
    monitor = app.monitor
    monitor.intake.observe(status("docker", True, "podman 4.3.1 (API 1.41)"))
    monitor.intake.observe(ContainersListed(containers()))
    calls: list[tuple[str, str]] = []

    async def act(container_id: str, action: str) -> None:
        calls.append((container_id, action))

    monitor.docker_source.act = act
    audited: list[tuple[str, str, str, str]] = []

    async def audit(actor: Any, action: str, target: str, outcome: str) -> None:
        audited.append((actor.name, action, target, outcome))

    monitor.engine.audit = audit
    async with app.run_test(size=WIDE) as pilot:
        await pilot.press("d")
        await settle(pilot)
        await pilot.press("r")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert "Restart container devmentor-auth?" in screen_text(app)
        await pilot.press("escape")  # cancelled: nothing happens
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
        assert app.current_mode == "docker"
        assert calls == []
        await pilot.press("r")
        await pilot.pause()
        await pilot.press("y")
        await until(pilot, lambda: calls, "the restart")
    assert calls == [("a" * 64, "restart")]
    assert audited == [("tui", "container.restart", "devmentor-auth", "ok")]


async def test_kubernetes_view(make_app: Callable[..., Any], screen_text: Text) -> None:
    app = make_app(KUBE)
    monitor = app.monitor
    monitor.intake.observe(status("kubernetes", True, "https://k8s:6443 namespace devmentor"))
    monitor.intake.observe(
        KubeListed(
            "pods",
            {
                p.name: p
                for p in (
                    PodInfo(
                        "auth-7d9-x2k8p",
                        "devmentor",
                        "Running",
                        True,
                        1,
                        1,
                        0,
                        "node-1",
                        T - 3600,
                        owner="auth",
                        service="auth",
                    ),
                    PodInfo(
                        "memory-5d4-q9w7e",
                        "devmentor",
                        "Running",
                        False,
                        0,
                        1,
                        7,
                        "node-1",
                        T - 600,
                        "OOMKilled (exit 137)",
                        waiting="CrashLoopBackOff",
                        owner="memory",
                        service="memory",
                    ),
                )
            },
        )
    )
    monitor.intake.observe(
        KubeListed(
            "deployments",
            {
                d.name: d
                for d in (
                    DeploymentInfo("auth", "devmentor", 2, 2, 2, 2, service="auth"),
                    DeploymentInfo("memory", "devmentor", 1, 0, 1, 0, service="memory"),
                )
            },
        )
    )
    monitor.intake.observe(
        KubeListed(
            "nodes",
            {
                "node-1": NodeInfo(
                    "node-1", True, ("MemoryPressure",), (("cpu", "3800m"), ("memory", "15Gi"))
                )
            },
        )
    )
    calls: list[tuple[str, int]] = []

    async def scale(name: str, replicas: int) -> None:
        calls.append((name, replicas))

    monitor.kube_source.scale = scale
    monitor.kube_source.api = object()
    async with app.run_test(size=WIDE) as pilot:
        await pilot.press("k")
        await settle(pilot)
        text = screen_text(app)
        assert "kubernetes: https://k8s:6443 namespace devmentor" in text
        assert "CrashLoopBackOff" in text
        assert "OOMKilled (exit 137)" in text
        assert "MemoryPressure" in text
        assert "0/1" in text
        assert monitor.store.status("memory") is Health.DOWN
        await pilot.press("plus")
        await pilot.pause()
        assert "Scale deployment auth from 2 to 3?" in screen_text(app)
        await pilot.press("y")
        await until(pilot, lambda: calls, "the scale")
    assert calls == [("auth", 3)]


async def test_kubernetes_view_forbidden(make_app: Callable[..., Any], screen_text: Text) -> None:
    app = make_app(KUBE)
    app.monitor.intake.observe(
        SourceStatus("kubernetes", SourceState.UNAVAILABLE, "forbidden: pods is forbidden")
    )
    async with app.run_test(size=WIDE) as pilot:
        await pilot.press("k")
        await settle(pilot)
        text = screen_text(app)
    assert "kubernetes: not available: forbidden: pods is forbidden" in text
