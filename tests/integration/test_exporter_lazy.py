"""`ultra` loads its HTTP stack (aiohttp, ~12 MiB RSS) only when the exporter is first
asked: its port is bound at start, the demo fleet needs no aiohttp, and its own check of
its /health is answered in process meanwhile (issue 19: RSS at most 48 MiB with --demo).

The runtime runs headless in a fresh interpreter, started as `ultra` starts it
(cli.UltraRuntime: demo fleet, exporter on a free port, lazy), since this test process
imported aiohttp long ago. It reports its modules after the first checks, then waits for
the test's requests, which must be served as ever: over TLS too. (ssl is not asserted:
asyncio imports it itself on Python 3.11, in every process that uses it.)
"""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from support.certs import self_signed
from support.processes import REPO

from devmentor_monitor.demo.fleet import free_port

pytestmark = pytest.mark.integration

PROBE = textwrap.dedent("""
    import asyncio, json, sys
    from devmentor_monitor.cli import UltraRuntime
    from devmentor_monitor.config.schema import load_config
    from devmentor_monitor.store import Store

    def say(**fields):
        fields["aiohttp"] = "aiohttp" in sys.modules
        print(json.dumps(fields), flush=True)

    async def main():
        config = load_config(sys.argv[1], env={}, port=int(sys.argv[2]))
        store = Store(config)
        runtime = UltraRuntime(config, demo=True, serve=True)
        await runtime.start(store)
        loop = asyncio.get_running_loop()
        for _ in range(300):  # every service checked once, the monitor's own included
            checks = {n: store.last_check(n) for n in store.service_names()}
            if all(checks.values()):
                break
            await asyncio.sleep(0.05)
        say(checked={n: c.ok for n, c in checks.items() if c})
        await loop.run_in_executor(None, sys.stdin.readline)  # the test's requests
        say()
        await runtime.stop()

    asyncio.run(main())
""")


def _config(tmp_path: Path, scheme: str, tls: dict[str, str] | None) -> Path:
    services: list[dict[str, Any]] = [
        {"name": n, "url": f"http://127.0.0.1:{3002 + i}/health", "interval": "10s"}
        for i, n in enumerate(("auth", "memory", "project"))
    ]
    own = f"{scheme}://127.0.0.1:${{MONITORING_PORT}}/health"
    services.append({"name": "monitoring", "url": own, "interval": "10s"})
    doc: dict[str, Any] = {"storage": {"data_dir": str(tmp_path / "data")}, "services": services}
    if tls:
        doc["server"] = {"tls": tls}
    path = tmp_path / "services.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _lazy_exporter(tmp_path: Path, scheme: str, verify: Any, tls: dict[str, str] | None) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", PROBE, str(_config(tmp_path, scheme, tls)), str(port)],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdin is not None
        first = json.loads(proc.stdout.readline() or "{}")
        assert first.get("checked") == dict.fromkeys(
            ("auth", "memory", "project", "monitoring"), True
        )
        assert first["aiohttp"] is False  # checks made, own /health answered: no HTTP stack
        base = f"{scheme}://127.0.0.1:{port}"
        with httpx.Client(verify=verify, timeout=15) as client:
            health = client.get(f"{base}/health")  # the connection that loads the stack
            metrics = client.get(f"{base}/metrics")
        assert health.status_code == 200
        assert health.json()["status"] == "ok"
        assert sum(health.json()["services"].values()) == 4
        assert metrics.status_code == 200
        assert 'devmentor_service_up{service="monitoring"} 1' in metrics.text
        proc.stdin.write("\n")
        proc.stdin.flush()
        assert json.loads(proc.stdout.readline())["aiohttp"] is True
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        err = proc.stderr.read() if proc.stderr else ""
        assert "Traceback" not in err, err


def test_ultra_loads_aiohttp_at_the_exporters_first_connection_and_serves_it(tmp_path):
    _lazy_exporter(tmp_path, "http", True, None)


def test_over_tls_too(tmp_path):
    cert, key = self_signed(tmp_path)
    trust = ssl.create_default_context(cafile=str(cert))
    _lazy_exporter(tmp_path, "https", trust, {"cert": str(cert), "key": str(key)})
