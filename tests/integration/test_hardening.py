"""Issue 18, hardening, against a real `--serve`: a request head and body past their limits
are refused with a JSON reason (414, 431, 413) and the monitor keeps serving; writes are
rate limited per API key (429 with Retry-After, other keys unaffected); `--read-only` (or
server.read_only) refuses every write with a 403, whatever the key, and keeps the reads."""

from __future__ import annotations

import json
import socket
import sqlite3
import time

import httpx
import pytest

from devmentor_monitor.server.app import ROUTES

pytestmark = pytest.mark.integration
OPS, OTHER, ADMIN = "ops-key-0123456789abcdef", "other-key-0123456789abcdef", "adm-key-0123456789ab"
KEYS = {"DEVMENTOR_API_KEYS": f"ops:operator:{OPS},other:operator:{OTHER},root:admin:{ADMIN}"}
INCIDENT = {"service": "auth", "description": "checking the limits", "severity": "low"}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def raw(port: int, request: bytes) -> tuple[int, dict[str, str], dict]:
    """Send bytes as they are; the status, headers and JSON body of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(request)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, json.loads(body)


@pytest.fixture
def api(fleet, write_config, fast, serve, wait, tmp_path):
    def start(*args: str, **top: object):
        cfg = write_config(fast(fleet.urls), **top)
        proc = serve("-c", str(cfg), "--data-dir", str(tmp_path / "data"), *args, env=KEYS)
        wait(lambda: proc.get("/api/incidents").status_code == 200, 10, what="the database")
        return proc

    return start


def test_oversize_heads_and_bodies_get_a_reason_and_the_monitor_keeps_serving(api):
    proc = api()
    token = b"Authorization: Bearer " + OPS.encode() + b"\r\n"
    big = b"GET /api/services HTTP/1.1\r\nHost: x\r\nX-Big: " + b"s" * 9000 + b"\r\n\r\n"
    status, headers, body = raw(proc.port, big)
    assert status == 431, body
    assert headers["content-type"].startswith("application/json")
    assert "8,192 bytes" in body["error"]["message"]
    assert "sss" not in body["error"]["message"]  # what was sent is not echoed back

    many = b"".join(b"X-H%d: v\r\n" % i for i in range(101))
    status, _, body = raw(proc.port, b"GET /api/services HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
    assert status == 431, body
    assert "over 100 headers" in body["error"]["message"]

    status, _, body = raw(proc.port, b"GET /api/services?q=" + b"a" * 17_000 + b" HTTP/1.1\r\n\r\n")
    assert status == 414, body
    assert "16,384 bytes" in body["error"]["message"]

    padding = json.dumps({**INCIDENT, "description": "x" * 70_000}).encode()
    post = (
        b"POST /api/incidents HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        b"Content-Type: application/json\r\n"
    )
    status, _, body = raw(
        proc.port, post + token + b"Content-Length: %d\r\n\r\n" % len(padding) + padding
    )
    assert status == 413, body
    assert "over 65,536 bytes" in body["error"]["message"]
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(padding), padding)
    status, _, body = raw(proc.port, post + token + b"Transfer-Encoding: chunked\r\n\r\n" + chunked)
    assert status == 413, body
    assert "over 65,536 bytes" in body["error"]["message"]

    assert proc.get("/api/services").status_code == 200
    r = httpx.post(proc.url + "/api/incidents", json=INCIDENT, headers=bearer(OPS), timeout=5)
    assert r.status_code == 201, r.text
    assert (
        proc.get("/api/incidents").json()["incidents"][0]["description"] == INCIDENT["description"]
    )
    assert "Traceback" not in proc.output()


def test_writes_are_rate_limited_per_key_with_retry_after(api, wait, tmp_path):
    proc = api(auth={"write_rate": 2, "write_burst": 2})

    def open_incident(key: str) -> httpx.Response:
        return httpx.post(
            proc.url + "/api/incidents", json=INCIDENT, headers=bearer(key), timeout=5
        )

    assert [open_incident(OPS).status_code for _ in range(2)] == [201, 201]
    refused = open_incident(OPS)
    assert refused.status_code == 429, refused.text
    retry_after = int(refused.headers["Retry-After"])
    assert retry_after >= 1
    message = refused.json()["error"]["message"]
    assert "key 'ops'" in message, message
    assert "2/s (burst 2; auth.write_rate, auth.write_burst)" in message, message
    with sqlite3.connect(tmp_path / "data" / "monitor.db") as db:  # refusals are audited
        audited = db.execute("SELECT actor, action FROM audit WHERE outcome = 'denied: 429'")
        assert audited.fetchall() == [("ops", "incident.open")]
    assert open_incident(OTHER).status_code == 201  # another key has its own bucket
    pushed = httpx.post(  # pushed data has its own, larger bucket
        proc.url + "/api/metrics", json={"name": "queue_depth", "value": 3}, headers=bearer(OPS)
    )
    assert pushed.status_code == 200, pushed.text
    refused_at = time.monotonic()
    wait(lambda: open_incident(OPS).status_code == 201, retry_after + 5, what="the bucket refilled")
    assert time.monotonic() - refused_at < retry_after + 5


@pytest.mark.parametrize("how", ["flag", "config"])
def test_read_only_refuses_every_write_whatever_the_key_and_keeps_the_reads(api, how):
    proc = api("--read-only") if how == "flag" else api(server={"read_only": True})
    writes = [  # every write route in the table, path parameters filled in
        (
            method,
            path.replace("{action}", "restart").replace("{id}", "x1").replace("{name}", "auth"),
        )
        for method, path, _, role, *_ in ROUTES
        if method in ("POST", "DELETE") and role != "public"  # sign-in is not a write
    ]
    assert len(writes) >= 11
    for key in (ADMIN, OPS, None):
        for method, path in writes:
            r = httpx.request(
                method,
                proc.url + path,
                json=INCIDENT,
                headers=bearer(key) if key else {},
                timeout=5,
            )
            assert r.status_code == 403, (method, path, r.text)
            assert "the monitor runs read-only (--read-only)" in r.json()["error"]["message"]
    assert proc.get("/api/incidents").status_code == 200
    assert proc.get("/api/incidents").json()["incidents"] == []
    assert proc.get("/api/services").status_code == 200
    assert "Traceback" not in proc.output()
