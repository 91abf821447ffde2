"""Issue 16: custom metrics (POST /api/metrics) and heartbeat services (POST
/api/heartbeat/{name}) against a real `--serve`: validation and caps with their reasons,
devmentor_custom_* on /metrics and in history (kept across a restart), a missed
heartbeat opening an incident through the normal alerting path and the next beat
resolving it, and writes refused without an operator key."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import time

import httpx
import pytest

from devmentor_monitor.history.model import custom_series
from devmentor_monitor.history.sqlite import SqliteSeries

pytestmark = pytest.mark.integration
OPERATOR = "op-key-0123456789abcdef"
VIEWER = "view-key-0123456789abcdef"
KEYS = {"DEVMENTOR_API_KEYS": f"ops:operator:{OPERATOR},dash:viewer:{VIEWER}"}
AUTH = {"Authorization": f"Bearer {OPERATOR}"}
CAPS = {"max_series": 3, "max_labels": 2, "max_values_per_label": 2}


def push(proc, body, headers=AUTH) -> httpx.Response:
    return httpx.post(proc.url + "/api/metrics", json=body, headers=headers, timeout=5)


def beat(proc, name: str, headers=AUTH) -> httpx.Response:
    return httpx.post(proc.url + f"/api/heartbeat/{name}", headers=headers, timeout=5)


def error(r: httpx.Response) -> str:
    return r.json()["error"]["message"]


@pytest.fixture
def start(write_config, serve, wait, tmp_path):
    """A `--serve` with keys, the caps above and its own data folder; ``services`` as
    given (default one service checked over HTTP at the monitor's own /health)."""

    def run(services=None, **top):
        cfg = write_config(
            services or [{"name": "self", "url": "http://127.0.0.1:9/health"}],
            custom_metrics=CAPS,
            **top,
        )
        proc = serve("-c", str(cfg), "--data-dir", str(tmp_path / "data"), env=KEYS)
        wait(lambda: proc.get("/api/incidents").status_code == 200, 10, what="the database")
        return proc

    return run


def test_bad_names_labels_values_and_times_are_400_with_the_reason(start):
    proc = start()
    cases = [
        ({"name": "1orders", "value": 1}, "body.name: '1orders' is not a metric name"),
        ({"name": "orders-total", "value": 1}, "is not a metric name"),
        ({"name": "orders", "value": 1, "labels": {"__name__": "x"}}, "'__' are reserved"),
        ({"name": "orders", "value": 1, "labels": {"shop-eu": "x"}}, "'shop-eu' is not a label"),
        ({"name": "orders", "value": 1, "labels": {"shop": 3}}, "body.labels.shop must be a str"),
        ({"name": "orders", "value": "12"}, "body.value must be a finite number"),
        ({"name": "orders", "value": True}, "body.value must be a finite number"),
        ({"name": "orders", "value": 1, "ts": 1_700_000_000_000}, "looks like milliseconds"),
        ({"name": "orders", "value": 1, "ts": 1_000_000}, "at most 3600 s back"),
        ({"name": "orders", "value": 1, "unit": "s"}, "unknown field(s) unit"),
        ([{"name": "ok", "value": 1}, {"name": "9", "value": 1}], "[1].name: '9'"),
        ([], "an empty list"),
        (
            {"name": "orders", "value": 1, "labels": {"a": "1", "b": "2", "c": "3"}},
            "3 labels, at most 2 (custom_metrics.max_labels)",
        ),
    ]
    for body, reason in cases:
        r = push(proc, body)
        assert r.status_code == 400, (body, r.text)
        assert reason in error(r), (body, error(r))
    # NaN and Infinity are not JSON, but Python's decoder reads them: refused all the same.
    for literal in (b"NaN", b"Infinity", b"-Infinity"):
        r = httpx.post(
            proc.url + "/api/metrics",
            content=b'{"name": "orders", "value": ' + literal + b"}",
            headers={**AUTH, "Content-Type": "application/json"},
            timeout=5,
        )
        assert r.status_code == 400, r.text
        assert "finite number" in error(r)
    # Nothing of a refused batch was taken, not even its good first sample.
    assert "devmentor_custom_" not in proc.get("/metrics").text


def test_one_series_twice_at_one_time_is_400_naming_both_items(start, wait):
    """The store would keep the last value and history the first, so /metrics would
    change at a restart: such a request is refused whole, naming both items."""
    proc = start()
    same_now = [{"name": "orders", "value": 10}, {"name": "orders", "value": 30}]
    r = push(proc, same_now)
    assert r.status_code == 400, r.text
    assert "[1] repeats [0]: both are orders at ts" in error(r)
    ts = round(time.time(), 3)
    labelled = [
        {"name": "orders", "value": 1, "labels": {"shop": "eu"}, "ts": ts},
        {"name": "orders", "value": 2, "labels": {"shop": "us"}},
        {"name": "orders", "value": 3, "labels": {"shop": "eu"}, "ts": ts},
    ]
    r = push(proc, labelled)
    assert r.status_code == 400, r.text
    assert '[2] repeats [0]: both are orders{shop="eu"} at ts' in error(r)
    assert "devmentor_custom_orders" not in proc.get("/metrics").text
    # Other labels at one time, or one series at two times, are taken.
    ok = [
        {"name": "orders", "value": 10, "labels": {"shop": "eu"}, "ts": ts - 1},
        {"name": "orders", "value": 30, "labels": {"shop": "eu"}, "ts": ts},
        {"name": "orders", "value": 5, "labels": {"shop": "us"}, "ts": ts},
    ]
    assert push(proc, ok).status_code == 200
    eu, us = 'devmentor_custom_orders{shop="eu"} 30.0', 'devmentor_custom_orders{shop="us"} 5.0'
    wait(lambda: eu in (text := proc.get("/metrics").text) and us in text, 5, what="both")


def test_too_many_series_or_label_values_is_422_and_held_series_still_update(start):
    proc = start()
    two = [{"name": "queue_depth", "value": 1, "labels": {"queue": q}} for q in ("a", "b")]
    assert push(proc, two).status_code == 200
    third_value = push(proc, {"name": "queue_depth", "value": 1, "labels": {"queue": "c"}})
    assert third_value.status_code == 422, third_value.text
    assert "label 'queue' of queue_depth already has 2 values" in error(third_value)
    assert "custom_metrics.max_values_per_label" in error(third_value)
    assert push(proc, {"name": "signups", "value": 7}).status_code == 200  # series 3 of 3
    fourth = push(proc, {"name": "revenue_eur", "value": 10.5})
    assert fourth.status_code == 422, fourth.text
    assert "custom_metrics.max_series (3)" in error(fourth)
    # At the cap, a series already held is still taken (the last value wins).
    again = push(proc, {"name": "queue_depth", "value": 9, "labels": {"queue": "a"}})
    assert again.status_code == 200, again.text
    assert again.json() == {"accepted": 1, "series": 3}
    text = proc.get("/metrics").text
    assert 'devmentor_custom_queue_depth{queue="a"} 9.0' in text
    assert "devmentor_custom_revenue_eur" not in text
    assert 'queue="c"' not in text


def test_a_pushed_metric_is_on_metrics_in_history_and_back_after_a_restart(
    start, serve, wait, tmp_path
):
    proc = start()
    r = push(proc, {"name": "orders_total", "value": 42, "labels": {"shop": 'eu "west"'}})
    assert r.status_code == 200, r.text
    assert r.json() == {"accepted": 1, "series": 1}
    line = 'devmentor_custom_orders_total{shop="eu \\"west\\""} 42.0'
    wait(lambda: line in proc.get("/metrics").text, 5, what="the pushed value on /metrics")
    assert "# TYPE devmentor_custom_orders_total gauge" in proc.get("/metrics").text
    proc.signal(signal.SIGTERM)
    assert proc.proc.wait(10) == 0

    history = SqliteSeries(tmp_path / "data" / "history.db", 30 * 86400.0)

    async def stored() -> tuple[list[str], float | None]:
        names = await history.names("custom:")
        last = await history.last(custom_series("orders_total", {"shop": 'eu "west"'}))
        await history.close()
        return names, None if last is None else last.value

    names, value = asyncio.run(stored())
    assert names == [custom_series("orders_total", {"shop": 'eu "west"'})]
    assert value == 42.0

    again = serve(
        "-c", str(tmp_path / "services.yaml"), "--data-dir", str(tmp_path / "data"), env=KEYS
    )
    wait(lambda: line in again.get("/metrics").text, 10, what="the value restored from history")


def test_a_missed_heartbeat_opens_an_incident_and_the_next_beat_resolves_it(start, wait):
    proc = start(
        [
            {"name": "nightly-backup", "heartbeat": {"grace": "3s"}, "interval": "0.5s"},
            {"name": "self", "url": "http://127.0.0.1:9/health"},
        ]
    )
    first = beat(proc, "nightly-backup")
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "up"

    def service() -> dict:
        return next(
            s for s in proc.get("/api/services").json()["services"] if s["name"] == "nightly-backup"
        )

    assert service()["url"] is None
    assert service()["heartbeat"]["last_beat"] == pytest.approx(first.json()["ts"])

    def opened() -> list[dict]:
        r = proc.get("/api/incidents?state=open&service=nightly-backup").json()["incidents"]
        return [i for i in r if i["opened_at"] > first.json()["ts"]]

    incident = wait(opened, 10, what="an incident for the missed heartbeat")[0]
    assert incident["rule"] == "service_down"
    assert service()["status"] == "down"
    assert "no heartbeat for" in service()["last_check"]["error"]
    assert "(grace 3 s)" in service()["last_check"]["error"]
    detail = proc.get(f"/api/incidents/{incident['id']}").json()
    assert any("no heartbeat for" in e["text"] for e in detail["timeline"]), detail["timeline"]

    assert beat(proc, "nightly-backup").json()["status"] == "up"
    done = wait(
        lambda: (
            (i := proc.get(f"/api/incidents/{incident['id']}").json())["state"] == "resolved" and i
        ),
        8,
        what="the incident resolved by the beat",
    )
    assert done["timeline"][-1]["kind"] == "resolved"


def test_a_restart_keeps_the_last_beat(start, serve, wait, tmp_path):
    services = [{"name": "etl", "heartbeat": {"grace": "1h"}, "interval": "0.5s"}]
    proc = start(services)
    ts = beat(proc, "etl").json()["ts"]
    proc.signal(signal.SIGTERM)
    assert proc.proc.wait(10) == 0

    again = serve(
        "-c", str(tmp_path / "services.yaml"), "--data-dir", str(tmp_path / "data"), env=KEYS
    )
    (etl,) = wait(
        lambda: [
            s
            for s in again.get("/api/services").json()["services"]
            if s["name"] == "etl" and s["status"] != "unknown"
        ],
        5,
        what="etl judged after the restart",
    )
    # Judged from the beat before the restart: up at once, not unknown for a whole grace.
    assert etl["status"] == "up"
    assert etl["heartbeat"]["last_beat"] == pytest.approx(ts, abs=0.002)


def test_heartbeat_for_an_unknown_or_probed_service_is_404_or_409(start, tmp_path):
    proc = start(
        [
            {"name": "cron", "heartbeat": {"grace": "10m"}},
            {"name": "auth", "url": "http://127.0.0.1:9/health"},
        ]
    )
    unknown = beat(proc, "nope")
    assert unknown.status_code == 404
    assert "no service named 'nope'; heartbeat services: cron" in error(unknown)
    probed = beat(proc, "auth")
    assert probed.status_code == 409
    assert "auth is checked over HTTP" in error(probed)
    # Beats are audited per key and minute: the first as its own row, the rest appended
    # as one row with a count at the minute's end or at stop (the trail is append-only).
    assert [beat(proc, "cron").status_code for _ in range(3)] == [200, 200, 200]
    proc.signal(signal.SIGTERM)
    assert proc.proc.wait(10) == 0
    with sqlite3.connect(tmp_path / "data" / "monitor.db") as db:
        rows = db.execute(
            "SELECT actor, target, outcome, count FROM audit WHERE action = 'heartbeat' ORDER BY id"
        ).fetchall()
    assert rows == [("ops", "cron", "ok", 1), ("ops", "cron", "ok", 2)], rows


@pytest.mark.parametrize(("key", "status"), [(None, 401), ("wrong" * 4, 401), (VIEWER, 403)])
def test_pushes_and_beats_need_an_operator_key(start, key, status):
    proc = start([{"name": "cron", "heartbeat": {"grace": "10m"}}])
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    r = push(proc, {"name": "orders", "value": 1}, headers=headers)
    assert r.status_code == status, r.text
    b = beat(proc, "cron", headers=headers)
    assert b.status_code == status, b.text
    assert "devmentor_custom_orders" not in proc.get("/metrics").text
    cron = proc.get("/api/services").json()["services"][0]
    assert cron["heartbeat"]["last_beat"] is None
