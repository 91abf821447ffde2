"""The Docker source against a real Docker-API engine: podman's service with busybox.

The monitor runs in-process (store and API both checked); containers are made with the
docker SDK on the same socket, network "none" and an init process, as RECIPES.md says.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from support.podman import IMAGE
from support.waiting import eventually

from devmentor_monitor.config.schema import load_config
from devmentor_monitor.demo.fleet import free_port
from devmentor_monitor.incidents.model import Incident, IncidentState, Severity
from devmentor_monitor.model import Health, SourceState
from devmentor_monitor.runtime import Monitor

pytestmark = pytest.mark.integration

OPERATOR = "operator-key-0123456789"
VIEWER = "viewer-key-0123456789ab"


@pytest.fixture
def docker_client(podman_engine: Any) -> Any:
    import docker

    client = docker.DockerClient(base_url=podman_engine.url, timeout=30)
    made: list[Any] = []

    def run(cmd: str, name: str | None = None, **kw: Any) -> Any:
        c = client.containers.run(
            IMAGE,
            ["sh", "-c", cmd],
            detach=True,
            network_mode="none",
            init=True,
            name=name or f"t-{uuid.uuid4().hex[:8]}",
            **kw,
        )
        made.append(c)
        return c

    client.run = run
    yield client
    for c in made:
        with contextlib.suppress(Exception):
            c.remove(force=True)
    client.close()


@pytest.fixture
async def make_monitor(tmp_path: Path, podman_engine: Any, fleet: Any):
    monitors: list[Monitor] = []

    async def make(
        containers: dict[str, str] | None = None,
        recovery: dict | None = None,
        auto_discover: bool = True,
        host: str | None = None,
    ) -> Monitor:
        services = [
            {"name": n, "url": u, "interval": "0.5s", "timeout": "0.4s"}
            for n, u in fleet.urls.items()
        ]
        if recovery:
            services[0]["recovery"] = recovery
        doc = {
            "docker": {
                "host": host or podman_engine.url,
                "interval": "0.5s",
                "timeout": "5s",
                **({"containers": containers} if containers else {}),
            },
            "storage": {"data_dir": str(tmp_path / "data")},
            "auth": {
                "keys": [
                    {"name": "ops", "key": OPERATOR, "role": "operator"},
                    {"name": "look", "key": VIEWER, "role": "viewer"},
                ]
            },
            "services": services,
        }
        path = tmp_path / "services.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        env = {"AUTO_DISCOVER": "true" if auto_discover else "false"}
        monitor = Monitor(load_config(path, env=env, port=free_port()))
        await monitor.start()
        monitors.append(monitor)
        return monitor

    yield make
    for m in monitors:
        await m.stop()


def container(monitor: Monitor, name: str) -> Any:
    return next((c for c in monitor.store.docker.items("containers") if c.name == name), None)


async def api(
    monitor: Monitor, method: str, path: str, key: str | None = None, **kw: Any
) -> httpx.Response:
    assert monitor.server is not None
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with httpx.AsyncClient(base_url=monitor.server.url, timeout=30) as client:
        return await client.request(method, path, headers=headers, **kw)


async def test_containers_appear_with_correct_states(make_monitor, docker_client) -> None:
    running = await asyncio.to_thread(
        docker_client.run, "sleep 1000", labels={"devmentor.service": "memory"}
    )
    exited = await asyncio.to_thread(docker_client.run, "exit 3")
    monitor = await make_monitor()
    await eventually(
        lambda: (c := container(monitor, exited.name)) and c.state == "exited",
        60,  # a deadline, not a wait: on a loaded machine the engine's events can lag
        "the exited container",
    )
    await eventually(
        lambda: (
            (c := container(monitor, running.name)) and c.running and c.memory_bytes is not None
        ),
        20,
        "the running container",
    )
    up, down = container(monitor, running.name), container(monitor, exited.name)
    assert up.image == IMAGE
    assert up.service == "memory"
    assert up.started_at
    assert 0 <= up.uptime(time.time()) < 120
    assert up.memory_limit
    assert up.restart_count == 0
    assert down.exit_code == 3
    assert down.service is None
    status = monitor.store.source("docker")
    assert status.state is SourceState.OK
    assert "API" in status.reason
    body = (await api(monitor, "GET", "/api/containers")).json()
    assert body["source"]["available"] is True
    states = {c["name"]: c["state"] for c in body["containers"]}
    assert states[running.name] == "running"
    assert states[exited.name] == "exited"
    one = (await api(monitor, "GET", f"/api/containers/{running.id[:12]}")).json()
    assert one["name"] == running.name
    assert one["service"] == "memory"
    assert (await api(monitor, "GET", "/api/containers/nope")).status_code == 404


async def test_busy_container_shows_one_core(make_monitor, docker_client) -> None:
    busy = await asyncio.to_thread(docker_client.run, "while :; do :; done")
    monitor = await make_monitor()
    seen: list[float] = []

    def sampled() -> bool:
        c = container(monitor, busy.name)
        if c is not None and c.cpu_ratio is not None and (not seen or seen[-1] != c.cpu_ratio):
            seen.append(c.cpu_ratio)
        return len(seen) >= 5

    await eventually(sampled, 30, "five CPU samples")
    median = statistics.median(seen)
    assert 0.6 <= median <= 1.4, f"CPU of a busy loop: {seen}"
    metrics = (await api(monitor, "GET", "/metrics")).text
    assert f'devmentor_container_cpu_ratio{{container="{busy.name}"' in metrics
    assert f'devmentor_container_restarts_total{{container="{busy.name}"' in metrics


async def test_stopped_container_turns_its_service_down(make_monitor, docker_client) -> None:
    name = f"auth-{uuid.uuid4().hex[:6]}"
    c = await asyncio.to_thread(docker_client.run, "sleep 1000", name=name)
    monitor = await make_monitor(containers={"auth": name}, auto_discover=False)
    await eventually(lambda: container(monitor, name), 20, "the container")
    await eventually(lambda: monitor.store.status("auth") is Health.UP, 20, "auth up")
    assert container(monitor, name).service == "auth"  # bound by configured name
    await asyncio.to_thread(c.stop, timeout=2)
    await eventually(lambda: monitor.store.status("auth") is Health.DOWN, 20, "auth down")
    body = (await api(monitor, "GET", "/api/services/auth")).json()
    assert body["status"] == "down"
    assert body["workload_down"] == f"container {name} exited (exit 143)"
    await eventually(
        lambda: any(
            e.kind == "die" and e.subject == name and e.service == "auth" and e.warning
            for e in monitor.store.docker.recent_events()
        ),
        10,
        "the die event",
    )
    await asyncio.to_thread(c.start)
    await eventually(lambda: monitor.store.status("auth") is Health.UP, 20, "auth up again")


async def test_restart_from_the_api_is_authorised_and_audited(make_monitor, docker_client) -> None:
    c = await asyncio.to_thread(docker_client.run, "sleep 1000")
    monitor = await make_monitor()
    first = await eventually(
        lambda: (x := container(monitor, c.name)) and x.started_at, 20, "the container"
    )
    path = f"/api/containers/{c.name}/restart"
    assert (await api(monitor, "POST", path)).status_code == 401
    assert (await api(monitor, "POST", path, VIEWER)).status_code == 403
    bad = await api(monitor, "POST", f"/api/containers/{c.name}/explode", OPERATOR)
    assert bad.status_code == 400
    assert "start, stop, restart" in bad.json()["error"]["message"]
    done = await api(monitor, "POST", path, OPERATOR)
    assert done.status_code == 200, done.text
    assert done.json()["outcome"] == "ok"
    await eventually(
        lambda: (
            (x := container(monitor, c.name))
            and x.running
            and x.started_at
            and x.started_at > first
        ),
        20,
        "a new start time",
    )
    audit = await monitor.db.run(monitor.db.load_audit)
    rows = [
        (a.actor, a.action, a.target, a.outcome) for a in audit if a.action == "container.restart"
    ]
    assert ("ops", "container.restart", c.name, "ok") in rows
    assert ("anonymous", "container.restart", c.name, "denied: 401") in rows
    # a known key's refusal names the key: who tried to escalate
    assert ("look", "container.restart", c.name, "denied: 403") in rows
    tail = (await api(monitor, "GET", f"/api/containers/{c.name}/logs?lines=5")).json()
    assert tail["lines"] == []


async def test_restart_as_a_recovery_action(make_monitor, docker_client) -> None:
    name = f"auth-{uuid.uuid4().hex[:6]}"
    c = await asyncio.to_thread(docker_client.run, "sleep 1000", name=name)
    monitor = await make_monitor(
        containers={"auth": name}, recovery={"action": "docker.restart", "dry_run": False}
    )
    await eventually(lambda: monitor.store.status("auth") is Health.UP, 20, "auth up")
    await asyncio.to_thread(c.stop, timeout=2)
    # down → service_down fires → incident opens → recovery restarts the container
    await eventually(
        lambda: (x := container(monitor, name)) and not x.running, 20, "the container seen stopped"
    )
    await eventually(
        lambda: (x := container(monitor, name)) and x.running, 30, "the container running again"
    )
    await eventually(lambda: monitor.store.status("auth") is Health.UP, 20, "auth up")
    audit = await monitor.db.run(monitor.db.load_audit)
    assert any(
        a.action == "container.restart"
        and a.target == name
        and a.outcome == "ok"
        and a.actor == "monitor"
        for a in audit
    )
    assert any(
        a.action == "recovery.run" and a.outcome.startswith("ok: docker.restart") for a in audit
    )
    incidents = await monitor.db.run(monitor.db.load_incidents, service="auth")
    timeline = [
        e
        for i in incidents
        for e in (await monitor.db.run(monitor.db.load_incident, i.id)).timeline
    ]
    assert any(e.kind == "recovery" and "docker.restart" in e.text for e in timeline)
    # and called directly, as the engine does, for a service with nothing bound
    orphan = Incident(
        "inc-x",
        "memory",
        "manual",
        Severity.HIGH,
        "t",
        "d",
        IncidentState.OPEN,
        time.time(),
        time.time(),
    )
    assert (
        await monitor.actions.recover(orphan, "docker.restart")
        == "failed: no container bound to memory"
    )


async def test_log_tail(make_monitor, docker_client) -> None:
    c = await asyncio.to_thread(
        docker_client.run, "for i in 1 2 3 4; do echo line$i; done; sleep 1000"
    )
    monitor = await make_monitor()
    await eventually(lambda: container(monitor, c.name), 20, "the container")

    async def tail() -> list[str]:
        r = await api(monitor, "GET", f"/api/containers/{c.name}/logs?lines=2")
        return r.json()["lines"]

    deadline = time.monotonic() + 10
    while (lines := await tail()) != ["line3", "line4"]:
        assert time.monotonic() < deadline, lines
        await asyncio.sleep(0.1)
    assert await monitor.actions.container_logs(c.name, 10) == ["line1", "line2", "line3", "line4"]
    bad = await api(monitor, "GET", f"/api/containers/{c.name}/logs?lines=0")
    assert bad.status_code == 400


async def test_engine_gone_is_unavailable_and_recovers(
    make_monitor, docker_client, podman_engine
) -> None:
    c = await asyncio.to_thread(docker_client.run, "sleep 1000")
    monitor = await make_monitor()
    await eventually(lambda: container(monitor, c.name), 20, "the container")
    await asyncio.to_thread(podman_engine.stop)
    try:
        status = await eventually(
            lambda: (
                (s := monitor.store.source("docker")) and s.state is SourceState.UNAVAILABLE and s
            ),
            20,
            "docker unavailable",
        )
        assert status.reason == f"no socket at {podman_engine.sock}"
        assert status.retry_at is not None
        assert status.retry_at > time.time() - 1
        body = (await api(monitor, "GET", "/api/containers")).json()
        assert body["source"]["available"] is False
        assert body["source"]["reason"].startswith("no socket")
        r = await api(monitor, "POST", f"/api/containers/{c.name}/restart", OPERATOR)
        assert r.status_code == 503
        assert r.json()["error"]["message"].startswith("docker: not available: no socket")
    finally:
        await asyncio.to_thread(podman_engine.start)
    await eventually(
        lambda: monitor.store.source("docker").state is SourceState.OK, 30, "docker back"
    )
    assert container(monitor, c.name) is not None


async def test_no_socket_is_an_explained_state(make_monitor, tmp_path: Path) -> None:
    monitor = await make_monitor(host=f"unix://{tmp_path}/none.sock")
    status = await eventually(lambda: monitor.store.source("docker"), 10, "a state")
    assert status.state is SourceState.UNAVAILABLE
    assert status.describe(time.time()).startswith(
        f"docker: unavailable: no socket at {tmp_path}/none.sock, retry in"
    )
    assert monitor.self_check()[0] or "docker" not in " ".join(monitor.self_check()[1])


def test_sdks_are_imported_only_when_configured(tmp_path: Path) -> None:
    """Docker configured, Kubernetes not: the docker SDK loads, the kubernetes one never
    (and with neither configured, test_cli_run proves neither loads)."""
    import subprocess
    import sys
    import textwrap

    cfg = tmp_path / "services.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "docker": {"host": f"unix://{tmp_path}/none.sock", "interval": "0.2s"},
                "storage": {"data_dir": str(tmp_path / "data")},
                "services": [{"name": "auth", "url": "http://127.0.0.1:9/health"}],
            }
        )
    )
    code = textwrap.dedent(f"""
        import asyncio, sys, time
        from devmentor_monitor.config.schema import load_config
        from devmentor_monitor.runtime import Monitor
        from devmentor_monitor.demo.fleet import free_port

        async def main():
            async with Monitor(load_config({str(cfg)!r}, env={{}}, port=free_port())) as m:
                deadline = time.monotonic() + 10
                while m.store.source("docker") is None and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
                print(m.store.source("docker").describe(time.time()))
        asyncio.run(main())
        print(",".join(m for m in ("docker", "kubernetes", "textual") if m in sys.modules))
    """)
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr
    state, modules = done.stdout.strip().splitlines()
    assert state.startswith(f"docker: unavailable: no socket at {tmp_path}/none.sock")
    assert modules == "docker"
