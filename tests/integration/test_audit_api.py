"""GET /api/audit on a running `--serve`: who did what, when, from where and how it ended,
newest first, filtered, for the admin role only; `audit verify` beside it holds."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from datetime import UTC, datetime

import httpx
import pytest
from support.headless import clean_env
from support.processes import REPO

pytestmark = pytest.mark.integration

OPERATOR = "op-key-0123456789abcdef"
VIEWER = "view-key-0123456789abcdef"
ADMIN = "admin-key-0123456789abcdef"
KEYS = {"DEVMENTOR_API_KEYS": f"ops:operator:{OPERATOR},dash:viewer:{VIEWER},root:admin:{ADMIN}"}


def bearer(key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"} if key else {}


def test_the_audit_lists_writes_for_admins_only(fleet, write_config, fast, serve, tmp_path):
    data = tmp_path / "data"
    proc = serve("-c", str(write_config(fast(fleet.urls))), "--data-dir", str(data), env=KEYS)
    before = time.time()
    with httpx.Client(base_url=proc.url, timeout=5) as client:
        made = client.post(
            "/api/incidents",
            headers=bearer(OPERATOR),
            json={"service": "auth", "description": "audited", "severity": "low"},
        )
        assert made.status_code == 201, made.text
        incident = made.json()["id"]
        refused = client.post(f"/api/incidents/{incident}/resolve")  # no key: 401, audited
        assert refused.status_code == 401
        acked = client.post(f"/api/incidents/{incident}/acknowledge", headers=bearer(OPERATOR))
        assert acked.status_code == 200

        def audit(query: str = "", key: str | None = ADMIN) -> httpx.Response:
            return client.get(f"/api/audit{query}", headers=bearer(key))

        r = audit()
        assert r.status_code == 200, r.text
        entries = r.json()["entries"]
        mine = [e for e in entries if e["target"] == incident]
        # newest first: who, what, on what, from where, how it ended
        assert [(e["actor"], e["action"], e["source"], e["outcome"]) for e in mine] == [
            ("ops", "incident.acknowledge", "127.0.0.1", "ok"),
            ("anonymous", "incident.resolve", "127.0.0.1", "denied: 401"),
            ("ops", "incident.open", "127.0.0.1", "ok"),
        ]
        opened = mine[-1]
        assert before - 1 <= opened["ts"] <= time.time()
        assert opened["time"] == datetime.fromtimestamp(opened["ts"], UTC).isoformat(
            timespec="milliseconds"
        ).replace("+00:00", "Z")
        assert opened["count"] == 1
        assert re.fullmatch("[0-9a-f]{64}", opened["hash"])
        assert len({e["hash"] for e in entries}) == len(entries)
        assert [e["id"] for e in entries] == sorted((e["id"] for e in entries), reverse=True)

        # filters
        by_actor = audit("?actor=anonymous").json()["entries"]
        assert {e["actor"] for e in by_actor} == {"anonymous"}
        assert [e["action"] for e in audit("?action=incident.open").json()["entries"]] == [
            "incident.open"
        ]
        prefix = {e["action"] for e in audit("?action=incident.").json()["entries"]}
        assert prefix == {"incident.open", "incident.resolve", "incident.acknowledge"}
        assert audit(f"?since={int(time.time()) + 3600}").json()["entries"] == []
        assert len(audit("?since=1h").json()["entries"]) == len(entries)
        cut = datetime.fromtimestamp(mine[0]["ts"] - 2e-6, UTC)  # just before the ack
        later = audit(f"?since={cut.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}").json()["entries"]
        assert later == mine[:1]
        newest = audit("?limit=1").json()["entries"]
        assert newest == entries[:1]

        # bad input: a 400 that says what is wrong
        for query, words in (
            ("?who=ops", "unknown query parameter 'who'"),
            ("?since=yesterday", "bad value for 'since'"),
            ("?limit=1001", "bad value for 'limit'"),
        ):
            bad = audit(query)
            assert bad.status_code == 400, query
            assert words in bad.json()["error"]["message"]

        # admin only
        assert audit(key=OPERATOR).status_code == 403
        assert "has the operator role; this needs admin" in audit(key=OPERATOR).text
        assert audit(key=VIEWER).status_code == 403
        assert audit(key=None).status_code == 401
        assert audit(key="wrong-key-0123456789abcdef").status_code == 401

    # The chain those rows are in verifies beside the running monitor (read-only, WAL).
    check = subprocess.run(
        [sys.executable, "-m", "devmentor_monitor.cli", "audit", "verify", "--data-dir", str(data)],
        cwd=REPO,
        env=clean_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert check.returncode == 0, check.stderr
    assert check.stdout.startswith(f"audit chain ok: {len(entries)} entries")


def test_the_openapi_document_states_the_audit_route(fleet, write_config, fast, serve):
    proc = serve("-c", str(write_config(fast(fleet.urls))))
    doc = proc.get("/api/openapi.json").json()
    op = doc["paths"]["/api/audit"]["get"]
    assert op["x-required-role"] == "admin"
    assert {} not in op["security"]  # a key is needed even where reads are open
    assert {p["name"] for p in op["parameters"]} == {"actor", "action", "since", "limit"}
    assert {"401", "403", "400"} <= set(op["responses"])
    entry = doc["components"]["schemas"]["AuditEntry"]
    assert {"actor", "action", "source", "outcome", "ts", "count", "hash"} <= set(entry["required"])
