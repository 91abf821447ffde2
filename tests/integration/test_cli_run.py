"""`status`, `--serve --demo` and the headless import boundary, as separate processes."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]  # the checkout

def run(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "devmentor_monitor", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


def test_status_all_up_exits_0_and_prints_table(fleet, write_config, fast):
    done = run("status", "-c", str(write_config(fast(fleet.urls))))
    assert done.returncode == 0, done.stderr
    for name in ("auth", "memory", "project"):
        assert name in done.stdout
    assert "UP" in done.stdout and "DOWN" not in done.stdout
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
    services = wait(lambda: (s := proc.get("/api/services").json())["counts"]["unknown"] == 0
                    and s, 15, what="every demo service checked")["services"]
    statuses = {s["name"]: s["status"] for s in services}
    assert set(statuses) == {"auth", "memory", "ai-gateway", "project", "monitoring"}
    assert statuses["monitoring"] == "up"  # the monitor checks its own /health
    assert proc.get("/api/services/monitoring").json()["url"].endswith(f":{proc.port}/health")


def test_serve_path_never_imports_textual_or_unused_sdks():
    code = textwrap.dedent("""
        import asyncio, sys
        from devmentor_monitor.cli import build_parser, _load
        from devmentor_monitor.runtime import Monitor
        from devmentor_monitor.demo.fleet import free_port

        args = build_parser().parse_args(["--serve", "--port", str(free_port())])
        async def main():
            async with Monitor(_load(args)) as m:
                await asyncio.sleep(0.3)
        asyncio.run(main())
        heavy = [m for m in ("textual", "docker", "kubernetes", "redis", "rich", "plotext")
                 if m in sys.modules]
        print(",".join(heavy))
    """)
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""
