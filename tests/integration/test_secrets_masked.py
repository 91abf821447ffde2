"""A bearer token in a container's log, in a platform event and in a Kubernetes event never
reaches a reader: the API, the TUI, the monitor's own log, nor the events on disk.

Everything is real but the Kubernetes API server (the fake of tests/support/kube_fake.py,
serving real API objects): a busybox container on podman prints the token, an event
carrying it is published to a real redis-server, and a kubelet-style Warning event quotes
it (an image pull's error does). A `--serve` subprocess answers the API and writes the
log; the TUI runs the same runtime in-process, as `ultra` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import sqlite3
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from msgspec.structs import replace
from rich.console import Console
from support.kube_fake import FakeKube, event
from support.podman import IMAGE
from support.waiting import until

from devmentor_monitor.config.schema import load_config

pytestmark = pytest.mark.integration

TOKEN = "abcdef0123456789abcdef"
LOG_LINE = f"Authorization: Bearer {TOKEN}"
SHOWN = "Authorization: Bearer ***"
PULL_ERROR = f'Failed to pull image "registry.example/app:1": {LOG_LINE} denied'


@pytest.fixture
def kube() -> Iterator[FakeKube]:
    server = FakeKube()
    server.events = [event("auth.pull", "auth-5d4f8b7c9-x2k8p", "Failed", PULL_ERROR)]
    server.start()
    yield server
    server.stop()


@pytest.fixture
def container(podman_engine: Any) -> Iterator[Any]:
    """A running container whose log holds the token (and a line after it)."""
    import docker

    client = docker.DockerClient(base_url=podman_engine.url, timeout=30)
    c = client.containers.run(
        IMAGE,
        ["sh", "-c", f"echo '{LOG_LINE}'; echo started; sleep 600"],
        detach=True,
        network_mode="none",
        init=True,
        name=f"leaky-{uuid.uuid4().hex[:8]}",
    )
    yield c
    with contextlib.suppress(Exception):
        c.remove(force=True)
    client.close()


@pytest.fixture
def config(tmp_path: Path, podman_engine: Any, kube: FakeKube, fleet: Any) -> Path:
    doc = {
        "docker": {"host": podman_engine.url, "interval": "0.5s", "timeout": "5s"},
        "kubernetes": {
            "kubeconfig": str(kube.kubeconfig(tmp_path / "kubeconfig")),
            "interval": "0.5s",
            "timeout": "2s",
            "watch_timeout": "2s",
        },
        "services": [
            {"name": "auth", "url": fleet.urls["auth"], "interval": "1s", "timeout": "0.5s"}
        ],
    }
    path = tmp_path / "services.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def publish(redis_server: Any) -> None:
    body = {
        "type": "auth.login.failed",
        "service": "auth",
        "severity": "warning",
        "message": f"rejected {LOG_LINE}",
        "ts": time.time(),
        "data": {"headers": {"Authorization": f"Bearer {TOKEN}"}, "token": TOKEN, "user": "bob"},
    }
    redis_server.client().publish("devmentor:events", json.dumps(body))


def render_text(app: Any) -> str:
    """The screen as plain text, as the compositor paints it (tests/tui/tui_data.py)."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), record=True)
    console.print(
        app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    )
    return console.export_text()


def subscribed(mon: Any) -> bool:
    sources = mon.get("/health").json()["sources"]
    return any(s["name"] == "redis" and s["state"] == "ok" for s in sources)


def test_the_token_is_masked_in_the_api_the_log_and_on_disk(
    config: Path, container: Any, redis_server: Any, serve: Any, wait: Any, tmp_path: Path
) -> None:
    mon = serve("-c", str(config), env={"REDIS_URL": redis_server.url})
    wait(lambda: subscribed(mon), 15, what="the event subscriber")
    publish(redis_server)

    # The container's log tail (GET /api/containers/{id}/logs).
    wait(
        lambda: any(
            c["name"] == container.name for c in mon.get("/api/containers").json()["containers"]
        ),
        20,
        what="the container listed",
    )
    logs = wait(
        lambda: (
            (r := mon.get(f"/api/containers/{container.name}/logs")).status_code == 200
            and "started" in r.text
            and r
        ),
        15,
        what="the log tail",
    )
    assert SHOWN in logs.json()["lines"]
    assert TOKEN not in logs.text

    # The platform event and the Kubernetes event (GET /api/events).
    def both() -> Any:
        r = mon.get("/api/events", params={"limit": 500})
        types = {e["type"] for e in r.json()["events"]}
        return {"auth.login.failed", "kubernetes.failed"} <= types and r

    events = wait(both, 15, what="both events in /api/events")
    assert TOKEN not in events.text
    login = next(e for e in events.json()["events"] if e["type"] == "auth.login.failed")
    assert login["message"] == f"rejected {SHOWN}"
    assert login["data"] == {"headers": {"Authorization": "***"}, "token": "***", "user": "bob"}
    pull = next(e for e in events.json()["events"] if e["type"] == "kubernetes.failed")
    assert SHOWN in pull["message"]
    kube_events = mon.get("/api/kubernetes/events")
    assert SHOWN in kube_events.text
    assert TOKEN not in kube_events.text

    # The monitor's own log has the Kubernetes Warning event, masked.
    wait(lambda: "workload event" in mon.output(), 10, what="the workload event logged")
    log = mon.output()
    assert "Bearer ***" in log
    assert TOKEN not in log

    # On disk: what a restart (or `report`) reads back holds no token either.
    db = tmp_path / "state" / "devmentor-monitor" / "monitor.db"

    def stored() -> list[str]:
        with sqlite3.connect(db) as conn:
            rows = conn.execute("SELECT body FROM events WHERE type = 'auth.login.failed'")
            return [r[0].decode() if isinstance(r[0], bytes) else r[0] for r in rows]

    (body,) = wait(stored, 10, what="the event written")
    assert TOKEN not in body
    assert SHOWN in body


async def test_the_token_is_masked_in_the_tui(
    config: Path, container: Any, redis_server: Any, tmp_path: Path
) -> None:
    from devmentor_monitor.cli import UltraRuntime
    from devmentor_monitor.tui.app import MonitorApp

    cfg = replace(
        load_config(config, env={"REDIS_URL": redis_server.url}), data_dir=str(tmp_path / "tui")
    )
    app = MonitorApp(cfg, runtime=UltraRuntime(cfg, demo=False, serve=False))
    async with app.run_test(size=(200, 50)) as pilot:
        await until(pilot, lambda: app.commands is not None, "the runtime", within=15)
        store = app.store
        assert store is not None

        def redis_ok() -> bool:
            s = store.source("redis")
            return s is not None and s.state.value == "ok"

        await until(pilot, redis_ok, "the event subscriber", within=15)
        await asyncio.to_thread(publish, redis_server)

        # d: the container's log tail
        await pilot.press("d")
        await until(
            pilot,
            lambda: store.docker.get("containers", container.id) is not None,
            "the container listed",
            within=20,
        )
        from textual.widgets import DataTable

        table = app.screen.query_one("#containers", DataTable)
        await until(pilot, lambda: container.id in table.rows, "its row", within=5)
        table.move_cursor(row=table.get_row_index(container.id))
        await pilot.pause()
        await pilot.press("l")
        await until(pilot, lambda: "started" in render_text(app), "the log tail", within=15)
        text = render_text(app)
        assert SHOWN in text
        assert TOKEN not in text

        # e: the event tail, with the platform event and the Kubernetes one
        await pilot.press("e")
        await until(
            pilot,
            lambda: (
                "auth.login.failed" in render_text(app) and "kubernetes.failed" in render_text(app)
            ),
            "both events in the tail",
            within=15,
        )
        text = render_text(app)
        assert f"rejected {SHOWN}" in text
        assert TOKEN not in text

        # k: the cluster's Warning events
        await pilot.press("k")
        await until(pilot, lambda: "Failed" in render_text(app), "the k view", within=15)
        assert TOKEN not in render_text(app)
        await pilot.press("q")
