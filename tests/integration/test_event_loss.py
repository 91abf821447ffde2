"""No event lost (issue 12): stream batches on disk before the ack, a poison message
rejected while the subscription carries on, and reads after a restart that see the disk.

Real redis-server and `--serve` processes; every wait has a deadline.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

pytestmark = pytest.mark.integration

STREAM = "devmentor:events:stream"
GROUP = "devmentor-monitor"
CHANNEL = "devmentor:events"
DEPTH = 10_000
POISON = b"[" * DEPTH + b"]" * DEPTH  # 20 KB, under the 64 KiB limit, 10,000 levels deep


def event(etype: str, i: int) -> bytes:
    return json.dumps(
        {
            "type": etype,
            "service": "auth",
            "severity": "info",
            "message": f"{etype} {i}",
            "ts": time.time(),
            "data": {"i": i},
        }
    ).encode()


def events_api(mon: Any, **params: Any) -> dict[str, Any]:
    return mon.get("/api/events", params={"limit": 1000, **params}).json()


def redis_ok(mon: Any) -> bool:
    return any(
        s["name"] == "redis" and s["state"] == "ok" for s in mon.get("/health").json()["sources"]
    )


def rows_on_disk(data_dir: Path, etype: str) -> int:
    """Counted straight from the SQLite file, as a reader after a crash would."""
    conn = sqlite3.connect(data_dir / "monitor.db", timeout=5)
    try:
        return conn.execute("SELECT COUNT(*) FROM events WHERE type = ?", (etype,)).fetchone()[0]
    finally:
        conn.close()


def everything_acknowledged(client: Any, last_id: bytes) -> bool:
    """The group has been handed every entry up to `last_id` and acknowledged them all."""
    group = next((g for g in client.xinfo_groups(STREAM) if g["name"] == GROUP.encode()), None)
    return group is not None and group["last-delivered-id"] == last_id and group["pending"] == 0


# ---------------------------------------------------------------------- finding 1
def test_stream_events_are_on_disk_once_acknowledged(
    serve: Any,
    redis_server: Any,
    write_config: Any,
    fleet: Any,
    fast: Any,
    wait: Any,
    tmp_path: Path,
) -> None:
    n = 300
    cfg = write_config(fast(fleet.urls), events={"mode": "stream", "consumer": "test"})
    data = tmp_path / "data"
    args = ("-c", str(cfg), "--data-dir", str(data))
    env = {"REDIS_URL": redis_server.url}
    first = serve(*args, env=env)
    wait(lambda: redis_ok(first), 10, what="the stream reader")
    r = redis_server.client()
    ids = [r.xadd(STREAM, {"event": event("deploy.finished", i)}) for i in range(n)]
    wait(lambda: everything_acknowledged(r, ids[-1]), 15, what=f"all {n} entries acknowledged")

    assert rows_on_disk(data, "deploy.finished") == n  # acknowledged means committed
    first.close()  # a clean stop
    assert first.proc.returncode == 0, first.output()
    assert rows_on_disk(data, "deploy.finished") == n

    second = serve(*args, env=env)
    body = events_api(second, type="deploy.finished", since="1h", until=f"{time.time() + 60:.0f}")
    assert sorted(e["data"]["i"] for e in body["events"]) == list(range(n))


# ---------------------------------------------------------------------- finding 2
@pytest.fixture
def monitor(
    serve: Any, redis_server: Any, write_config: Any, fleet: Any, fast: Any, wait: Any
) -> Any:
    cfg = write_config(fast(fleet.urls), events={"parser": "python"})
    mon = serve("-c", str(cfg), env={"REDIS_URL": redis_server.url})
    wait(lambda: redis_ok(mon), 10, what="the subscriber")
    mon.redis = redis_server
    return mon


def lost_around_poison(
    mon: Any, wait: Any, etype: str, n: int = 200, connected_first: bool = True
) -> int:
    """Publish n valid events with one poison message in the middle; how many never arrive.

    ``connected_first=False`` publishes even while the subscriber is away (backing off
    after a crash), as a publisher would: how the loss was measured over ten rounds.
    """
    if connected_first:
        wait(lambda: redis_ok(mon), 10, what="the subscriber")
    r = mon.redis.client()
    for i in range(n):
        if i == n // 2:
            r.publish(CHANNEL, POISON)
        r.publish(CHANNEL, event(etype, i))

    def arrived() -> int:
        return len(events_api(mon, type=etype)["events"])

    with contextlib.suppress(AssertionError):  # counted below, with a useful message
        wait(lambda: arrived() == n, 10, what=f"all {n} events")
    return n - arrived()


def test_a_poison_message_is_rejected_and_the_events_around_it_arrive(
    monitor: Any, wait: Any
) -> None:
    lost = lost_around_poison(monitor, wait, "poison.round")
    assert lost == 0, f"{lost} of 200 events lost around one poison message"
    body = events_api(monitor)
    assert body["rejected"]["too_deep"] == 1
    assert body["recent_rejections"][0]["reason"] == "too_deep"
    metrics = monitor.get("/metrics").text
    assert 'devmentor_events_rejected_total{reason="too_deep"} 1.0' in metrics
    assert monitor.proc.poll() is None


def test_a_poison_stream_entry_is_rejected_and_acknowledged(
    serve: Any, redis_server: Any, write_config: Any, fleet: Any, fast: Any, wait: Any
) -> None:
    """Unacknowledged, it would be re-read first after every reconnect: a stuck stream."""
    cfg = write_config(fast(fleet.urls), events={"mode": "stream", "consumer": "test"})
    mon = serve("-c", str(cfg), env={"REDIS_URL": redis_server.url})
    wait(lambda: redis_ok(mon), 10, what="the stream reader")
    r = redis_server.client()
    ids = [
        r.xadd(STREAM, {"event": POISON if i == 50 else event("deploy.finished", i)})
        for i in range(101)
    ]
    wait(lambda: everything_acknowledged(r, ids[-1]), 15, what="every entry acknowledged")
    body = events_api(mon, type="deploy.finished")
    assert len(body["events"]) == 100
    assert body["rejected"]["too_deep"] == 1


async def test_a_poison_websocket_command_is_answered_and_the_socket_stays_open(
    serve: Any, write_config: Any, fleet: Any, fast: Any
) -> None:
    mon = serve("-c", str(write_config(fast(fleet.urls))))
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(mon.url.replace("http", "ws") + "/ws") as ws,
    ):  # no feed frames
        assert (await ws.receive_json(timeout=5))["type"] == "subscribed"
        await ws.send_str(POISON.decode())
        reply = await ws.receive(timeout=5)
        assert reply.type is aiohttp.WSMsgType.TEXT, f"the socket closed: {reply}"
        error = json.loads(reply.data)
        assert error["type"] == "error"
        assert error["reason"] == "too_deep"
        await ws.send_json({"subscribe": ["incidents"]})
        assert (await ws.receive_json(timeout=5))["topics"] == ["incidents"]


# ---------------------------------------------------------------------- finding 6
def test_events_from_before_a_restart_are_read_with_since(
    serve: Any,
    redis_server: Any,
    write_config: Any,
    fleet: Any,
    fast: Any,
    wait: Any,
    tmp_path: Path,
) -> None:
    cfg = write_config(fast(fleet.urls), events={"parser": "python"})
    args = ("-c", str(cfg), "--data-dir", str(tmp_path / "data"))
    env = {"REDIS_URL": redis_server.url}
    first = serve(*args, env=env)
    wait(lambda: redis_ok(first), 10, what="the subscriber")
    for i in range(50):
        redis_server.client().publish(CHANNEL, event("deploy.finished", i))
    wait(
        lambda: (
            len(
                events_api(first, type="deploy.finished", until=f"{time.time() + 60:.0f}")["events"]
            )
            == 50
        ),
        10,
        what="50 events on disk",
    )
    first.close()

    second = serve(*args, env=env)
    wait(lambda: redis_ok(second), 10, what="the subscriber after the restart")
    second.redis = redis_server
    redis_server.client().publish(CHANNEL, event("deploy.finished", 50))  # one in memory
    got = wait(
        lambda: (
            (e := events_api(second, type="deploy.finished", since="1h")["events"])
            and e[0]["data"]["i"] == 50
            and e
        ),
        10,
        what="the event after the restart",
    )
    assert [e["data"]["i"] for e in got] == list(range(50, -1, -1))  # newest first, once each
    limited = events_api(second, type="deploy.finished", since="1h", limit=10)["events"]
    assert [e["data"]["i"] for e in limited] == list(range(50, 40, -1))
