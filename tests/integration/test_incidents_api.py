"""Incidents through `--serve`: opened by a real outage, by hand, kept across kill -9,
and written only with the right key."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.integration

OPERATOR = "op-key-0123456789abcdef"
VIEWER = "view-key-0123456789abcdef"
ADMIN = "admin-key-0123456789abcdef"
REPO = Path(__file__).resolve().parents[2]  # the checkout

KEYS = {"DEVMENTOR_API_KEYS": f"ops:operator:{OPERATOR},dash:viewer:{VIEWER},root:admin:{ADMIN}"}


def bearer(key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"} if key else {}


def test_outage_opens_an_incident_and_recovery_resolves_it(fleet, write_config, fast, serve, wait):
    proc = serve("-c", str(write_config(fast(fleet.urls))))
    wait(
        lambda: all(s["status"] == "up" for s in proc.get("/api/services").json()["services"]),
        5,
        what="all up",
    )
    fleet.stop("memory")
    opened = wait(
        lambda: proc.get("/api/incidents?state=open&service=memory").json()["incidents"],
        8,
        what="an open incident for memory",
    )
    assert len(opened) == 1
    assert opened[0]["rule"] == "service_down"
    assert opened[0]["severity"] == "high"
    fleet.start("memory")
    incident_id = opened[0]["id"]
    done = wait(
        lambda: (
            (i := proc.get(f"/api/incidents/{incident_id}").json())["state"] == "resolved" and i
        ),
        8,
        what="the incident resolved",
    )
    assert done["time_to_recover_s"] > 0
    kinds = [e["kind"] for e in done["timeline"]]
    assert kinds[0] == "opened"
    assert kinds[-1] == "resolved"
    assert any(e["kind"] == "check" and "connection refused" in e["text"] for e in done["timeline"])
    # Still exactly one incident: the outage did not open one per failed check.
    assert len(proc.get("/api/incidents?service=memory").json()["incidents"]) == 1
    alerts = proc.get("/api/alerts").json()
    assert "service_down" in {r["name"] for r in alerts["rules"]}
    down = next(
        a for a in alerts["alerts"] if (a["rule"], a["subject"]) == ("service_down", "memory")
    )
    assert down["state"] == "resolved"


def test_manual_incident_survives_kill_9(fleet, write_config, fast, serve, wait):
    cfg = str(write_config(fast(fleet.urls)))
    proc = serve("-c", cfg, env=KEYS)
    r = httpx.post(
        proc.url + "/api/incidents",
        headers=bearer(OPERATOR),
        timeout=5,
        json={"service": "auth", "description": "Manual test", "severity": "low"},
    )
    assert r.status_code == 201, r.text
    incident_id = r.json()["id"]
    assert r.headers["location"] == f"/api/incidents/{incident_id}"
    proc.proc.send_signal(signal.SIGKILL)  # right after the 201: no chance to flush
    proc.proc.wait(5)

    again = serve("-c", cfg, env=KEYS)
    got = again.get(f"/api/incidents/{incident_id}").json()
    assert got["state"] == "open"
    assert got["description"] == "Manual test"
    assert got["timeline"][0]["actor"] == "ops"
    ack = httpx.post(
        again.url + f"/api/incidents/{incident_id}/acknowledge",
        timeout=5,
        headers=bearer(OPERATOR),
        json={"comment": "looking"},
    )
    assert ack.status_code == 200
    assert ack.json()["acknowledged_by"] == "ops"
    again.proc.send_signal(signal.SIGKILL)
    again.proc.wait(5)

    third = serve("-c", cfg, env=KEYS)
    got = third.get(f"/api/incidents/{incident_id}").json()
    assert got["state"] == "acknowledged"
    assert any("looking" in e["text"] for e in got["timeline"])


WRITES = [
    ("POST", "/api/incidents", {"service": "auth", "description": "x", "severity": "low"}),
    ("POST", "/api/incidents/{id}/acknowledge", {}),
    ("POST", "/api/incidents/{id}/resolve", {}),
]


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (None, 401),
        ("wrong-key-0123456789abcdef", 401),
        (VIEWER, 403),
        (OPERATOR, None),
        (ADMIN, None),
    ],
)
def test_authorization_matrix(fleet, write_config, fast, serve, key, expected):
    proc = serve("-c", str(write_config(fast(fleet.urls))), env=KEYS)
    # An incident to act on, opened by an operator.
    seed = httpx.post(
        proc.url + "/api/incidents",
        headers=bearer(OPERATOR),
        timeout=5,
        json={"service": "auth", "description": "seed", "severity": "high"},
    )
    incident_id = seed.json()["id"]
    for method, path, body in WRITES:
        r = httpx.request(
            method,
            proc.url + path.format(id=incident_id),
            json=body,
            headers=bearer(key),
            timeout=5,
        )
        if expected is None:
            assert r.status_code in (200, 201), (path, r.text)
        else:
            assert r.status_code == expected, (path, r.text)
            assert r.json()["error"]["status"] == expected
            if expected == 401:
                assert r.headers["www-authenticate"].startswith("Bearer")
    # Reads stay open on loopback, whatever the key.
    assert proc.get("/api/incidents").status_code == 200
    assert proc.get(f"/api/incidents/{incident_id}").status_code == 200


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b"not json", "body is not JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b'{"service": "auth", "description": "x"}', "missing field(s) severity"),
        (b'{"service": "auth", "description": "x", "severity": "urgent"}', "severity must be"),
        (b'{"service": "nope", "description": "x", "severity": "low"}', "unknown service 'nope'"),
        (b'{"service": "auth", "description": " ", "severity": "low"}', "non-empty"),
        (
            b'{"service": "auth", "description": "x", "severity": "low", "extra": 1}',
            "unknown field(s) extra",
        ),
    ],
)
def test_bad_incident_bodies_are_400(fleet, write_config, fast, serve, body, needle):
    proc = serve("-c", str(write_config(fast(fleet.urls))), env=KEYS)
    r = httpx.post(
        proc.url + "/api/incidents",
        content=body,
        timeout=5,
        headers={**bearer(OPERATOR), "Content-Type": "application/json"},
    )
    assert r.status_code == 400
    assert needle in r.json()["error"]["message"]


def test_unknown_incident_and_bad_filters(fleet, write_config, fast, serve):
    proc = serve("-c", str(write_config(fast(fleet.urls))), env=KEYS)
    assert proc.get("/api/incidents/inc-nope").status_code == 404
    r = httpx.post(
        proc.url + "/api/incidents/inc-nope/resolve", headers=bearer(OPERATOR), timeout=5
    )
    assert r.status_code == 404
    assert proc.get("/api/incidents?state=sleeping").status_code == 400
    assert proc.get("/api/incidents?since=yesterday").status_code == 400


def test_corrupt_database_is_a_clear_message(fleet, write_config, fast, tmp_path):
    state = tmp_path / "state" / "devmentor-monitor"
    state.mkdir(parents=True)
    (state / "monitor.db").write_bytes(b"this is not a database" * 100)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "devmentor_monitor",
            "--serve",
            "-c",
            str(write_config(fast(fleet.urls))),
            "--port",
            "1",
            "--data-dir",
            str(state),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=REPO,
    )
    assert done.returncode == 1
    assert "monitor.db: not a usable SQLite database" in done.stderr
    assert "Traceback" not in done.stderr


def test_non_loopback_without_keys_refuses_to_start(fleet, write_config, fast):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "devmentor_monitor",
            "--serve",
            "--host",
            "0.0.0.0",
            "-c",
            str(write_config(fast(fleet.urls))),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=REPO,
        env={"PATH": "/usr/bin"},
    )
    assert done.returncode == 2
    assert "refusing to serve on 0.0.0.0 with no API keys" in done.stderr
