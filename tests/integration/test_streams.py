"""Live streams from the embedded server with real clients: WebSocket, SSE, a stuck client."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import aiohttp
import httpx
import psutil
import pytest

pytestmark = pytest.mark.integration

KEY = "operator-key-0123456789abcdef"
MIB = 1024 * 1024


def event(i: int, service: str = "auth", size: int = 0) -> bytes:
    return json.dumps(
        {
            "type": "deploy.finished",
            "service": service,
            "severity": "info",
            "message": f"event {i} " + "x" * size,
            "ts": time.time(),
            "data": {"i": i},
        }
    ).encode()


@pytest.fixture
def monitor(
    serve: Any, redis_server: Any, write_config: Any, fleet: Any, fast: Any, wait: Any
) -> Any:
    cfg = write_config(
        fast(fleet.urls),
        auth={"keys": [{"name": "ops", "role": "operator", "key": KEY}]},
        events={"memory": 200},
    )
    mon = serve("-c", str(cfg), env={"REDIS_URL": redis_server.url})
    redis = wait(
        lambda: next(
            (
                s
                for s in mon.get("/health").json()["sources"]
                if s["name"] == "redis" and s["state"] == "ok"
            ),
            None,
        ),
        10,
        what="subscriber",
    )
    assert "hiredis parser" in redis["reason"]  # the test extra installs it; auto picks it
    mon.redis = redis_server
    return mon


async def test_websocket_subscribes_and_receives_events_and_incidents(monitor: Any) -> None:
    r = monitor.redis.client()
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(monitor.url.replace("http", "ws") + "/ws?topics=events") as ws,
    ):
        hello = await ws.receive_json(timeout=5)
        assert hello["type"] == "subscribed"
        assert hello["topics"] == ["events"]
        await ws.send_str("not json")
        assert (await _reply(ws))["type"] == "error"
        await ws.send_json({"subscribe": ["nonsense"]})
        err = await _reply(ws)
        assert err["type"] == "error"
        assert "unknown topics" in err["error"]
        await ws.send_json({"subscribe": ["incidents"]})
        assert (await _reply(ws))["topics"] == ["events", "incidents"]

        r.publish("devmentor:events", event(1, "memory"))
        got = await _until(
            ws, lambda m: m["topic"] == "events" and m["data"]["service"] == "memory"
        )
        assert got["data"]["type"] == "deploy.finished"
        assert got["data"]["data"] == {"i": 1}

        resp = await http.post(
            monitor.url + "/api/incidents",
            headers={"Authorization": f"Bearer {KEY}"},
            json={"service": "auth", "description": "login errors", "severity": "high"},
        )
        assert resp.status == 201
        inc = await _until(ws, lambda m: m["topic"] == "incidents")
        assert inc["data"]["change"] == "opened"
        assert inc["data"]["incident"]["service"] == "auth"


def gauge(monitor: Any, name: str) -> float:
    return float(
        next(
            line.split()[-1]
            for line in monitor.get("/metrics").text.splitlines()
            if line.startswith(name + " ")
        )
    )


async def _reply(ws: Any, within: float = 5) -> dict[str, Any]:
    """The answer to a command: the next object, past any feed frames (arrays) before it."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        frame = await ws.receive_json(timeout=max(0.1, deadline - time.monotonic()))
        if isinstance(frame, dict):
            return frame
    raise AssertionError("no answer to the command")


async def _until(ws: Any, match: Any, within: float = 10) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        frame = await ws.receive_json(timeout=max(0.1, deadline - time.monotonic()))
        for item in frame if isinstance(frame, list) else [frame]:
            if "topic" in item and match(item):
                return item
    raise AssertionError("no matching message")


def test_sse_streams_services_and_rejects_bad_topics(monitor: Any, fleet: Any) -> None:
    bad = monitor.get("/api/events/stream", params={"topics": "gossip"})
    assert bad.status_code == 400
    assert "topics must be" in bad.json()["error"]["message"]
    fleet.stop("memory")
    seen: list[dict[str, Any]] = []
    with httpx.stream(
        "GET", monitor.url + "/api/events/stream", params={"topics": "services"}, timeout=10
    ) as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        name = None
        for line in resp.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: ") and name == "services":
                seen.append(json.loads(line[6:]))
                if seen[-1]["name"] == "memory" and seen[-1]["status"] == "down":
                    break
    assert seen[-1]["last_check"]["error"]  # says why


def test_a_stuck_client_costs_bounded_memory_and_is_disconnected(monitor: Any, wait: Any) -> None:
    r = monitor.redis.client()
    proc = psutil.Process(monitor.proc.pid)
    base = gauge(monitor, "devmentor_live_readers")  # the Redis incident publisher's
    stuck = socket.create_connection(("127.0.0.1", monitor.port))
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.sendall(b"GET /api/events/stream?topics=events HTTP/1.1\r\nHost: x\r\n\r\n")
    wait(
        lambda: gauge(monitor, "devmentor_live_readers") == base + 1,
        5,
        what="the stuck client connected",
    )
    rss_mid = 0
    sent = 0
    with httpx.stream(
        "GET", monitor.url + "/api/events/stream", params={"topics": "events"}, timeout=30
    ) as fast:
        lines = fast.iter_lines()
        for burst in range(30):  # 30,000 events of ~2 KB: 60 MB pushed at the stuck client
            pipe = r.pipeline(transaction=False)
            for i in range(1000):
                pipe.publish("devmentor:events", event(burst * 1000 + i, size=1900))
            pipe.execute()
            sent += 1000
            last = -1
            for line in lines:  # the fast client keeps up, burst by burst
                if line.startswith("data: ") and '"i":' in line:
                    last = json.loads(line[6:])["data"]["i"]
                    if last == sent - 1:
                        break
            assert last == sent - 1, f"fast client stopped at {last} of {sent}"
            if sent == 10_000:  # caches and queues are full by now: memory has its plateau
                rss_mid = proc.memory_info().rss
    # Kept, the last 20,000 would be 40 MB more; allocator noise is a few MiB, so growth
    # well under half of that means nothing per message is being kept.
    growth = (proc.memory_info().rss - rss_mid) / MIB
    assert growth < 16, f"RSS grew {growth:.1f} MiB while 40 MB more went to a stuck client"
    dropped = gauge(monitor, "devmentor_live_messages_dropped_total")
    assert dropped > 20_000  # the stuck client's queue kept only its newest messages
    # it never took a byte for WRITE_TIMEOUT seconds: the monitor hung up on it
    wait(
        lambda: gauge(monitor, "devmentor_live_readers") == base,
        30,
        what="the stuck client disconnected",
    )
    stuck.close()
    assert monitor.get("/api/services").status_code == 200
