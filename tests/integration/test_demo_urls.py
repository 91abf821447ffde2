"""`ultra --demo` shows what it checks: its store is built from the configured file before
the demo fleet exists, and the API and the screen must still carry the fleet's URLs (the
ones probed), not the configured 127.0.0.1:3002... that nothing listens on."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import yaml
from support.waiting import eventually

from devmentor_monitor.cli import UltraRuntime
from devmentor_monitor.config.schema import load_config
from devmentor_monitor.demo.fleet import free_port
from devmentor_monitor.store import Store

pytestmark = pytest.mark.integration

CONFIGURED = {
    "auth": "http://127.0.0.1:3002/health",
    "memory": "http://127.0.0.1:3003/health",
    "project": "http://127.0.0.1:3004/health",
}


async def test_a_served_demo_monitor_lists_the_urls_its_checks_hit(tmp_path: Path) -> None:
    doc = {
        "storage": {"data_dir": str(tmp_path / "data")},
        "services": [
            {"name": n, "url": u, "interval": "0.5s", "timeout": "0.4s"}
            for n, u in CONFIGURED.items()
        ],
    }
    path = tmp_path / "services.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    port = free_port()
    config = load_config(path, env={}, port=port)
    store = Store(config)  # as the TUI does: built before its first frame, from the file
    runtime = UltraRuntime(config, demo=True, serve=True)
    await runtime.start(store)
    try:
        fleet = runtime._fleet
        assert fleet is not None
        probed = fleet.urls
        assert set(probed) == set(CONFIGURED)
        assert not set(probed.values()) & set(CONFIGURED.values())
        # every simulated service was asked: the checks hit the fleet's URLs
        await eventually(lambda: all(fleet[n].requests for n in probed), within=10, what="checks")
        async with httpx.AsyncClient() as client:
            r = await client.get(f"http://127.0.0.1:{port}/api/services", timeout=5)
        assert r.status_code == 200
        shown = {s["name"]: s["url"] for s in r.json()["services"]}
        assert shown == probed
        assert {s.name: s.url for s in store.services()} == probed  # the screen's source
    finally:
        await runtime.stop()
