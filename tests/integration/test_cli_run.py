"""`status`, `--serve --demo` and the headless import boundary, as separate processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from support import headless
from support.waiting import wait_until

from devmentor_monitor.demo.fleet import free_port

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]  # the checkout


def run(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "devmentor_monitor", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_status_all_up_exits_0_and_prints_table(fleet, write_config, fast):
    done = run("status", "-c", str(write_config(fast(fleet.urls))))
    assert done.returncode == 0, done.stderr
    for name in ("auth", "memory", "project"):
        assert name in done.stdout
    assert "UP" in done.stdout
    assert "DOWN" not in done.stdout
    assert "3 up, 0 down" in done.stdout


def test_status_exits_1_when_a_service_is_down(fleet, write_config, fast):
    fleet.stop("project")
    done = run("status", "--json", "-c", str(write_config(fast(fleet.urls))))
    assert done.returncode == 1
    report = json.loads(done.stdout)
    by_name = {s["name"]: s for s in report["services"]}
    assert by_name["project"]["status"] == "down"
    assert by_name["project"]["last_check"]["error"] == "connection refused"
    assert by_name["auth"]["status"] == "up"
    assert report["counts"]["down"] == 1
    assert report["host"]["memory"]["total_bytes"] > 0


def test_status_demo_needs_nothing_running():
    done = run("status", "--demo", "--json")
    assert done.returncode == 0, done.stderr
    names = {s["name"] for s in json.loads(done.stdout)["services"]}
    assert names == {"auth", "memory", "ai-gateway", "project", "monitoring"}


def test_serve_demo_shows_live_data(serve, wait):
    proc = serve("--demo")
    services = wait(
        lambda: (s := proc.get("/api/services").json())["counts"]["unknown"] == 0 and s,
        15,
        what="every demo service checked",
    )["services"]
    statuses = {s["name"]: s["status"] for s in services}
    assert set(statuses) == {"auth", "memory", "ai-gateway", "project", "monitoring"}
    assert statuses["monitoring"] == "up"  # the monitor checks its own /health
    assert proc.get("/api/services/monitoring").json()["url"].endswith(f":{proc.port}/health")


# Headless entry points, each the real command in a fresh interpreter: none loads textual
# (only `ultra` draws a screen), and none loads an SDK for something not configured.
# `detect` is held to the same (and to no aiohttp) in tests/unit/test_detect_cli.py.
HEAVY = (*headless.VIEW_ONLY, *headless.SDKS)


def test_serve_path_never_imports_textual_or_unused_sdks(tmp_path):
    port = free_port()
    out = tmp_path / "modules.json"
    proc = headless.start(["--serve", "--port", str(port)], out, headless.clean_env(tmp_path))
    try:
        wait_until(
            lambda: (
                httpx.get(f"http://127.0.0.1:{port}/api/services", timeout=2).status_code == 200
            ),
            20,
            what="--serve to answer",
        )
    finally:
        modules = headless.stop(proc, out)
    assert headless.roots(modules, (*HEAVY, "rich", "plotext")) == []


def test_status_never_imports_textual_or_unused_sdks(tmp_path):
    done, modules = headless.run(
        ["status", "--demo", "--json"], tmp_path / "modules.json", headless.clean_env(tmp_path)
    )
    assert done.returncode == 0, done.stderr
    assert headless.roots(modules, HEAVY) == []


def test_emit_never_imports_textual_or_unused_sdks(tmp_path, redis_server):
    env = headless.clean_env(tmp_path, REDIS_URL=redis_server.url)
    done, modules = headless.run(
        ["emit", "deploy.finished", "--service", "auth"], tmp_path / "modules.json", env
    )
    assert done.returncode == 0, done.stderr
    assert headless.roots(modules, HEAVY) == ["redis"]  # what it publishes with
