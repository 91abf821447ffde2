"""The demo's simulated services answer over small asyncio servers, without aiohttp
(demo/fleet.py): `demo --count N` (the benches' stub) and the fleet's live controls."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from support import headless
from support.waiting import wait_until

from devmentor_monitor.demo.fleet import DemoFleet, free_port

pytestmark = pytest.mark.integration


def test_demo_count_serves_each_endpoint_and_never_loads_aiohttp(tmp_path: Path) -> None:
    port = free_port()
    out = tmp_path / "modules.json"
    proc = headless.start(
        ["demo", "--count", "3", "--port", str(port)], out, headless.clean_env(tmp_path)
    )
    try:
        log = out.with_suffix(".log")
        wait_until(lambda: "url_pattern" in log.read_text(), 15, what="the stub")
        pattern = json.loads(log.read_text().splitlines()[0])["url_pattern"]
        with httpx.Client(timeout=5) as client:
            ok = client.get(pattern.format(i=2))
            missing = client.get(f"http://127.0.0.1:{port}/svc/2/metrics")
            posted = client.post(pattern.format(i=2))
        assert (ok.status_code, ok.json()) == (200, {"status": "ok"})
        assert ok.headers["content-type"] == "application/json; charset=utf-8"
        assert missing.status_code == 404
        assert posted.status_code == 405
    finally:
        modules = headless.stop(proc, out)
    assert "aiohttp" not in modules


async def test_a_service_changes_live_and_its_port_closes_and_reopens() -> None:
    fleet = DemoFleet(["auth"], seed=1)
    await fleet.start()
    svc = fleet["auth"]
    control = svc.url.replace("/health", "/_demo")
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            bad = await client.post(control, content=b"{not json")
            assert bad.status_code == 400
            changed = await client.post(control, json={"down": True, "latency_ms": 0})
            assert changed.json()["down"] is True
            down = await client.get(svc.url)
            assert (down.status_code, down.json()["status"]) == (503, "unavailable")
        port = svc.port
        await svc.stop()
        async with httpx.AsyncClient(timeout=5) as client:
            with pytest.raises(httpx.ConnectError):
                await client.get(svc.url)
        await svc.start()
        assert svc.port == port  # the same URL after a restart
        async with httpx.AsyncClient(timeout=5) as client:
            assert (await client.get(svc.url)).status_code == 503
    finally:
        await fleet.stop()


async def test_a_first_look_at_the_demo_shows_no_simulated_failures_until_told() -> None:
    """`status --demo` checks each service once: the profiles' error rates (~1 % in all)
    made that first look show a random failure now and then. Simulated 500s start after
    the service's first CLEAN_START_S, or at once when asked for (POST /_demo)."""
    fleet = DemoFleet(["auth"], seed=1)
    fleet["auth"].behaviour.update({"error_rate": 1.0, "latency_ms": 0})
    await fleet.start()
    svc = fleet["auth"]
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            first = [(await client.get(svc.url)).status_code for _ in range(20)]
            assert first == [200] * 20
            told = await client.post(svc.url.replace("/health", "/_demo"), json={"error_rate": 1})
            assert told.status_code == 200
            assert (await client.get(svc.url)).status_code == 500
    finally:
        await fleet.stop()
