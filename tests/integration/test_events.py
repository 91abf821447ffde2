"""Platform events through a real redis-server: in, rejected, resilient, durable, out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]  # the checkout

pytestmark = pytest.mark.integration

KEY = "operator-key-0123456789abcdef"


def event(etype: str = "deploy.finished", service: str = "auth", **kw: Any) -> bytes:
    body = {
        "type": etype,
        "service": service,
        "severity": "info",
        "message": f"{etype} on {service}",
        "ts": time.time(),
        "data": {"v": 1},
    }
    body.update(kw)
    return json.dumps(body).encode()


def events_api(mon: Any, **params: Any) -> dict[str, Any]:
    return mon.get("/api/events", params=params).json()


def redis_state(mon: Any) -> dict[str, Any]:
    """The subscriber's state in /health (none yet before its first connection attempt)."""
    return next(
        (s for s in mon.get("/health").json()["sources"] if s["name"] == "redis"),
        {"state": None, "reason": "", "text": ""},
    )


@pytest.fixture
def monitor(serve: Any, redis_server: Any, write_config: Any, fleet: Any, fast: Any) -> Any:
    services = fast(fleet.urls)
    for svc in services:  # project is checked only when asked (service.health.check)
        if svc["name"] == "project":
            svc.update(interval="1h", timeout="1s")
    cfg = write_config(
        services,
        auth={"keys": [{"name": "ops", "role": "operator", "key": KEY}]},
        events={
            "parser": "python",  # test_streams.py runs with hiredis
            "rules": [
                {
                    "name": "deploy-failed",
                    "type": "deploy.failed",
                    "min_severity": "error",
                    "severity": "high",
                }
            ],
        },
    )
    mon = serve("-c", str(cfg), env={"REDIS_URL": redis_server.url})
    mon.redis = redis_server
    return mon


def test_published_events_reach_the_api_and_the_disk(monitor: Any, wait: Any) -> None:
    r = monitor.redis.client()
    wait(lambda: redis_state(monitor)["state"] == "ok", 10, what="the subscriber")
    assert "python parser" in redis_state(monitor)["reason"]
    for i in range(50):
        r.publish("devmentor:events", event("deploy.finished", "auth", data={"n": i}))
    r.publish("devmentor:deploys", event("config.changed", "memory"))  # via the pattern

    got = wait(
        lambda: (
            (e := events_api(monitor, type="deploy.", limit=100)["events"]) and len(e) >= 50 and e
        ),
        10,
        what="50 deploy events in /api/events",
    )
    assert [e["data"]["n"] for e in got[:50]] == list(range(49, -1, -1))  # newest first
    assert all(e["origin"] == "redis:devmentor:events" for e in got[:50])
    config_changes = wait(
        lambda: events_api(monitor, type="config.")["events"],
        5,
        what="the pattern-subscribed event",
    )
    assert config_changes[0]["service"] == "memory"
    assert config_changes[0]["origin"] == "redis:devmentor:deploys"
    # heard once, although devmentor:events matches the devmentor:* pattern too
    assert len(events_api(monitor, type="deploy.finished", limit=1000)["events"]) == 50
    # on disk: an `until` range is read from SQLite
    on_disk = events_api(
        monitor, type="deploy.finished", until=f"{time.time() + 60:.0f}", limit=1000
    )
    assert on_disk["source"] == "disk"
    assert len(on_disk["events"]) == 50
    metrics = monitor.get("/metrics").text
    assert 'devmentor_events_received_total{type="deploy.finished"} 50.0' in metrics


def test_garbage_is_counted_and_rejected_and_the_monitor_keeps_serving(
    monitor: Any, wait: Any
) -> None:
    r = monitor.redis.client()
    wait(lambda: redis_state(monitor)["state"] == "ok", 10, what="the subscriber")
    r.publish("devmentor:events", b"{not json")
    r.publish("devmentor:events", b"[1, 2]")
    r.publish("devmentor:events", json.dumps({"type": "deploy.finished"}))
    r.publish("devmentor:events", event(severity="apocalyptic"))
    r.publish("devmentor:events", event(service=42))
    r.publish("devmentor:events", b"\xff\xfe binary")
    r.publish("devmentor:events", event(message="x" * 70_000))
    r.publish("devmentor:events", event("deploy.finished", "project"))  # one good one

    body = wait(
        lambda: (b := events_api(monitor)) and sum(b["rejected"].values()) >= 7 and b,
        10,
        what="seven rejections",
    )
    assert body["rejected"] == {
        "malformed_json": 2,
        "not_an_object": 1,
        "missing_field": 1,
        "bad_value": 1,
        "wrong_type": 1,
        "oversized": 1,
        "too_deep": 0,
    }
    last = body["recent_rejections"][0]
    assert last["reason"] == "oversized"
    assert "65536" in last["detail"]
    missing = next(x for x in body["recent_rejections"] if x["reason"] == "missing_field")
    assert "service" in missing["detail"]
    assert missing["sample"].startswith('{"type"')
    wait(lambda: events_api(monitor, service="project")["events"], 5, what="the good event")
    metrics = monitor.get("/metrics").text
    assert 'devmentor_events_rejected_total{reason="malformed_json"} 2.0' in metrics
    assert monitor.get("/health").status_code == 200
    assert monitor.proc.poll() is None


def test_redis_dies_and_returns_without_a_monitor_restart(monitor: Any, wait: Any) -> None:
    server = monitor.redis
    wait(lambda: redis_state(monitor)["state"] == "ok", 10, what="the subscriber")
    server.stop()
    down = wait(
        lambda: (s := redis_state(monitor))["state"] == "unavailable" and s,
        10,
        what="redis shown unavailable",
    )
    assert str(server.port) in down["reason"]
    assert "retry in" in down["text"]
    assert monitor.get("/api/services").status_code == 200  # still serving
    assert monitor.get("/metrics").status_code == 200
    server.start()  # same port
    wait(lambda: redis_state(monitor)["state"] == "ok", 40, what="the subscriber back")
    server.client().publish("devmentor:events", event("deploy.finished", "memory"))
    wait(
        lambda: events_api(monitor, service="memory", type="deploy.")["events"],
        10,
        what="an event after the restart",
    )
    assert monitor.proc.poll() is None


def test_stream_mode_reads_what_was_published_while_the_monitor_was_down(
    serve: Any, redis_server: Any, write_config: Any, fleet: Any, fast: Any, wait: Any
) -> None:
    cfg = write_config(fast(fleet.urls), events={"mode": "stream", "consumer": "test"})
    env = {"REDIS_URL": redis_server.url}
    env_with = {**os.environ, **env}
    first = serve("-c", str(cfg), env=env)
    wait(lambda: redis_state(first)["state"] == "ok", 10, what="the stream reader")
    emit = [sys.executable, "-m", "devmentor_monitor", "emit", "-c", str(cfg)]
    subprocess.run(
        [*emit, "deploy.started", "--service", "auth"],
        env=env_with,
        check=True,
        cwd=REPO,
        capture_output=True,
        timeout=30,
    )
    wait(lambda: events_api(first, type="deploy.started")["events"], 10, what="a live entry")
    first.close()

    for i in range(5):  # nobody reading now
        out = subprocess.run(
            [*emit, "deploy.finished", "--service", "auth", "--message", f"while down {i}"],
            env=env_with,
            check=True,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert "appended deploy.finished to stream devmentor:events:stream" in out.stdout

    second = serve("-c", str(cfg), env=env)
    got = wait(
        lambda: (e := events_api(second, type="deploy.finished")["events"]) and len(e) == 5 and e,
        15,
        what="the five entries published while down",
    )
    assert [e["message"] for e in reversed(got)] == [f"while down {i}" for i in range(5)]
    started = events_api(second, type="deploy.started")["events"]
    assert [e["seq"] for e in started] == [0]  # from disk: acknowledged, never re-read
    pending = redis_server.client().xpending("devmentor:events:stream", "devmentor-monitor")
    wait(
        lambda: (
            redis_server.client().xpending("devmentor:events:stream", "devmentor-monitor")[
                "pending"
            ]
            == 0
        ),
        5,
        what=f"every entry acknowledged (was {pending})",
    )


def test_events_correlate_with_incidents_and_request_checks(monitor: Any, wait: Any) -> None:
    r = monitor.redis.client()
    heard = r.pubsub()
    heard.subscribe("devmentor:incidents")
    wait(lambda: redis_state(monitor)["state"] == "ok", 10, what="the subscriber")
    # a rule: deploy.failed at error or worse opens a high-severity incident
    r.publish(
        "devmentor:events",
        event("deploy.failed", "memory", severity="error", message="rollout of v9 failed"),
    )
    inc = wait(
        lambda: next(
            (
                i
                for i in monitor.get("/api/incidents").json()["incidents"]
                if i["rule"] == "event:deploy-failed"
            ),
            None,
        ),
        10,
        what="an incident opened by the event rule",
    )
    assert inc["service"] == "memory"
    assert inc["severity"] == "high"
    # a later event about the same service joins the incident's timeline
    r.publish(
        "devmentor:events",
        event("memory.gc.pause", "memory", severity="warning", message="gc pause 900 ms"),
    )
    wait(
        lambda: any(
            "gc pause 900 ms" in e["text"]
            for e in monitor.get(f"/api/incidents/{inc['id']}").json()["timeline"]
        ),
        10,
        what="the event in the incident's timeline",
    )
    # the incident went out on devmentor:incidents for other instances
    msg = wait(lambda: heard.get_message(timeout=0.2), 10, what="a subscribe confirmation")
    got = []
    wait(
        lambda: (
            (m := heard.get_message(timeout=0.2))
            and m["type"] == "message"
            and got.append(json.loads(m["data"])) is None
            and any(x["incident"]["id"] == inc["id"] for x in got)
        ),
        10,
        what=f"the incident on devmentor:incidents (after {msg})",
    )
    opened = next(x for x in got if x["incident"]["id"] == inc["id"])
    assert opened["type"] == "incident.opened"
    assert opened["incident"]["service"] == "memory"
    # service.health.check asks for a check now
    before = monitor.get("/api/services/project").json()["checks_total"]
    for _ in range(3):
        r.publish("devmentor:events", event("service.health.check", "project"))
    wait(
        lambda: monitor.get("/api/services/project").json()["checks_total"] > before,
        5,
        what="an immediate check of project",
    )
