"""`ultra` loads its HTTP stack (aiohttp, ~12 MiB RSS) only when the exporter is first
asked: its port is bound at start, the demo fleet needs no aiohttp, and its own check of
its /health is answered in process meanwhile, when plain HTTP to that URL lands on the
bound socket (issue 19: RSS at most 48 MiB with --demo). Over TLS, or to an address the
exporter is not bound to, its own check goes over the network as any other: a certificate
or a bind the URL misses must show.

The runtime runs headless in a fresh interpreter, started as `ultra` starts it
(cli.UltraRuntime: demo fleet, exporter on a free port, lazy), since this test process
imported aiohttp long ago. It reports its modules after the first checks, then waits for
the test's requests, which must be served as ever: over TLS too. ssl (~4 MiB with OpenSSL)
waits as long over plain HTTP (asyncio is imported without it: asyncio_ssl.py); the
exporter's TLS loads it at start.
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
    from devmentor_monitor.cli import UltraRuntime  # first, as in the console script
    import asyncio, json, sys
    from devmentor_monitor.config.schema import load_config
    from devmentor_monitor.store import Store

    def say(**fields):
        fields["aiohttp"] = "aiohttp" in sys.modules
        fields["ssl"] = "ssl" in sys.modules
        print(json.dumps(fields), flush=True)

    async def main():
        config = load_config(sys.argv[1], env={}, port=int(sys.argv[2]))
        store = Store(config)
        runtime = UltraRuntime(config, demo=True, serve=True)
        await runtime.first_checks(store)  # as the app does: its first round, then the rest
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


def _config(
    tmp_path: Path, scheme: str, server: dict[str, Any], own: dict[str, Any] | None = None
) -> Path:
    services: list[dict[str, Any]] = [
        {"name": n, "url": f"http://127.0.0.1:{3002 + i}/health", "interval": "10s"}
        for i, n in enumerate(("auth", "memory", "project"))
    ]
    url = f"{scheme}://127.0.0.1:${{MONITORING_PORT}}/health"
    services.append({"name": "monitoring", "url": url, "interval": "10s", **(own or {})})
    doc: dict[str, Any] = {"storage": {"data_dir": str(tmp_path / "data")}, "services": services}
    if server:
        doc["server"] = server
    path = tmp_path / "services.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _lazy_exporter(
    tmp_path: Path,
    scheme: str,
    verify: Any,
    server: dict[str, Any],
    own: dict[str, Any] | None = None,
    *,
    own_ok: bool = True,
    loaded_by_own_check: bool = False,
) -> None:
    port = free_port()
    config = _config(tmp_path, scheme, server, own)
    proc = subprocess.Popen(
        [sys.executable, "-c", PROBE, str(config), str(port)],
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
        checked = dict.fromkeys(("auth", "memory", "project"), True) | {"monitoring": own_ok}
        assert first.get("checked") == checked
        # checks made, own /health answered in process: no HTTP stack; or its own check,
        # over TLS, was the connection that loaded it
        assert first["aiohttp"] is loaded_by_own_check
        assert first["ssl"] is ("tls" in server)  # nor OpenSSL, unless the exporter's TLS
        if not own_ok:
            return
        host = server.get("host", "127.0.0.1")
        base = f"{scheme}://{f'[{host}]' if ':' in host else host}:{port}"
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
        last = json.loads(proc.stdout.readline())
        assert last["aiohttp"] is True
        assert last["ssl"] is True  # aiohttp imports it
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        err = proc.stderr.read() if proc.stderr else ""
        assert "Traceback" not in err, err


def test_ultra_loads_aiohttp_at_the_exporters_first_connection_and_serves_it(tmp_path):
    _lazy_exporter(tmp_path, "http", True, {})


def test_over_tls_its_own_check_goes_over_the_network_and_is_served(tmp_path):
    cert, key = self_signed(tmp_path)
    trust = ssl.create_default_context(cafile=str(cert))
    tls = {"tls": {"cert": str(cert), "key": str(key)}}
    _lazy_exporter(tmp_path, "https", trust, tls, {"ca_file": str(cert)}, loaded_by_own_check=True)


def test_over_tls_a_certificate_its_own_check_distrusts_shows(tmp_path):
    cert, key = self_signed(tmp_path)
    tls = {"tls": {"cert": str(cert), "key": str(key)}}
    _lazy_exporter(tmp_path, "https", False, tls, own_ok=False, loaded_by_own_check=True)


def test_a_bind_its_own_url_misses_shows(tmp_path):
    """Bound to ::1, the own URL names 127.0.0.1: refused, as a real client would be."""
    _lazy_exporter(tmp_path, "http", True, {"host": "::1"}, own_ok=False)
