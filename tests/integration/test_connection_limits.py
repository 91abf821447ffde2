"""Issue 12, finding 3: a thousand idle connections must not take the monitor down.

A real `--serve --demo` under RLIMIT_NOFILE 1,024 watches its fleet and its own /health. 1,000
connections send part of a request head and then nothing. Before the fix they held
every descriptor: /health failed 30 of 30, host sampling hit "Too many open files" and
the monitor opened an incident against itself.
"""

from __future__ import annotations

import asyncio
import json
import resource
import statistics
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml
from support.idle_flood import IdleFlood, allow_fds

from devmentor_monitor.demo.fleet import free_port

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
FD_LIMIT = 1024
HEAD_TIMEOUT = 5.0  # server.connections.HEAD_TIMEOUT; not imported, so this module still
# runs (and fails as it should) against the code from before the fix


def _limit_fds() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (FD_LIMIT, FD_LIMIT))


def _config(tmp_path: Path, port: int) -> Path:
    """The demo fleet (in the monitor's process, as `--demo` runs it) and its own /health."""
    own = {
        "name": "monitoring",
        "url": f"http://127.0.0.1:{port}/health",
        "expect": {"status": 200, "body": {"status": "ok"}},
    }
    services = [
        {"name": n, "url": "http://127.0.0.1:9/health"} for n in ("auth", "memory", "project")
    ] + [own]
    path = tmp_path / "services.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "intervals": {"health": "0.5s", "system": "1s"},
                "health": {"timeout": "0.4s", "failure_threshold": 2},
                "services": services,
            }
        )
    )
    return path


@pytest.fixture
def limited_serve(tmp_path):
    port = free_port()
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "devmentor_monitor",
            "--serve",
            "--demo",
            "--port",
            str(port),
            "-c",
            str(_config(tmp_path, port)),
            "--data-dir",
            str(tmp_path / "d"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=REPO,
        preexec_fn=_limit_fds,
    )
    yield proc, f"http://127.0.0.1:{port}", port, tmp_path / "serve.log"
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
    log.close()


def _health(url: str) -> dict | None:
    """The /health body when it answers 200 within 2 s, else None."""
    try:
        r = httpx.get(url + "/health", timeout=2)
    except httpx.HTTPError:
        return None
    return r.json() if r.status_code == 200 else None


def _incidents(url: str) -> list | None:
    try:
        return httpx.get(url + "/api/incidents", timeout=5).json()["incidents"]
    except httpx.HTTPError:
        return None


def test_a_thousand_idle_connections_do_not_take_the_monitor_down(limited_serve, wait):
    proc, url, port, log = limited_serve
    if not allow_fds(4096):
        pytest.skip("cannot raise this test's own open-file limit for 1,000 sockets")
    wait(
        lambda: (
            (h := _health(url))
            and any(s["name"] == "system" for s in h["sources"])
            and httpx.get(url + "/api/services/monitoring", timeout=2).json()["status"] == "up"
        ),
        15,
        what="a healthy monitor that sees itself up",
    )

    flood = IdleFlood(port, 1000)
    flood.open()
    try:
        flood.watch(1.5)  # refusals beyond the cap arrive at once
        answers = [_health(url) for _ in range(30)]
        incidents = _incidents(url)
        flood.watch(HEAD_TIMEOUT + 4)
    finally:
        flood.close()

    ok = [a for a in answers if a is not None and a["status"] == "ok"]
    assert len(ok) == 30, f"/health answered {len(ok)} of 30 during 1,000 idle connections"
    conns = ok[0]["connections"]
    assert conns["cap"] == 768  # 1,024 less a quarter kept for the monitor's own work
    assert conns["waiting_for_request"] >= 500, "the probes ran after the flood had gone"
    assert incidents == [], "the monitor opened an incident during its own saturation"
    assert "Too many open files" not in log.read_text(errors="replace")
    # Beyond the cap: a clear 503 in the API's JSON shape, then closed.
    assert flood.refused, "no connection beyond the cap was refused"
    head, _, body = flood.refused[0].answer.partition(b"\r\n\r\n")
    assert b"Retry-After: 1" in head
    assert json.loads(body)["error"]["status"] == 503
    # The idle ones are closed once the head timeout has passed, not an hour later.
    assert flood.still_open == 0
    admitted = [c for c in flood.conns if c not in flood.refused]
    lived = [c.closed_at - c.opened for c in admitted if c.closed_at is not None]
    assert HEAD_TIMEOUT - 0.5 <= statistics.median(lived) <= HEAD_TIMEOUT + 2
    assert proc.poll() is None


async def test_an_idle_keep_alive_connection_is_closed_after_the_idle_timeout():
    """In process, with a short idle timeout: the answer, then the close."""
    from devmentor_monitor.aio import web
    from devmentor_monitor.server.connections import Gate

    async def hello(request: web.BaseRequest) -> web.Response:
        return web.Response(text="hi")

    gate = Gate(web.Server(hello), 8, keepalive_timeout=0.5)
    listener = await asyncio.get_running_loop().create_server(gate, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        answered = await asyncio.wait_for(reader.readuntil(b"hi"), 5)
        assert answered.startswith(b"HTTP/1.1 200")
        t0 = asyncio.get_running_loop().time()
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed by the server
        assert 0.3 <= asyncio.get_running_loop().time() - t0 < 3
        assert gate.snapshot()["open"] == 0
    finally:
        writer.close()
        listener.close()
        gate.close()
