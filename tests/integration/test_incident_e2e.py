"""End to end: `--serve --demo`, a demo service goes down, one incident and one webhook;
it comes back, the incident resolves and one resolved webhook arrives."""

from __future__ import annotations

import httpx
import pytest
from support.http import Receiver

pytestmark = pytest.mark.integration


def test_demo_outage_opens_notifies_resolves_notifies(write_config, serve, wait):
    receiver = Receiver.in_thread()
    try:
        base = {
            "url": "http://127.0.0.1:1/health",
            "interval": "0.5s",
            "timeout": "0.4s",
            "failure_threshold": 2,
            "expect": {"status": 200},
        }
        cfg = write_config(
            [{"name": n, **base} for n in ("auth", "memory", "project")],
            notifications={
                "channels": [{"name": "ops", "type": "webhook", "url": receiver.base + "/hook"}],
                "retry": {"base": "0.1s", "max": "1s"},
            },
        )
        proc = serve("-c", str(cfg), "--demo")
        project = wait(
            lambda: next(
                (
                    s
                    for s in proc.get("/api/services").json()["services"]
                    if s["name"] == "project" and s["status"] == "up"
                ),
                None,
            ),
            10,
            what="project up",
        )
        control = project["url"].replace("/health", "/_demo")
        httpx.post(control, json={"down": True}, timeout=5).raise_for_status()

        opened = wait(
            lambda: [b for b in receiver.bodies() if b["kind"] == "open"],
            10,
            what="the open webhook",
        )
        incident = proc.get("/api/incidents?state=open").json()["incidents"]
        assert [i["service"] for i in incident] == ["project"]
        assert opened[0]["incident_id"] == incident[0]["id"]
        assert opened[0]["service"] == "project"

        httpx.post(control, json={"down": False}, timeout=5).raise_for_status()
        resolved = wait(
            lambda: [b for b in receiver.bodies() if b["kind"] == "resolved"],
            10,
            what="the resolved webhook",
        )
        assert resolved[0]["incident_id"] == incident[0]["id"]
        got = proc.get(f"/api/incidents/{incident[0]['id']}").json()
        assert got["state"] == "resolved"
        assert got["time_to_recover_s"] > 0
        # Exactly one of each, however many checks failed meanwhile.
        assert sorted(b["kind"] for b in receiver.bodies()) == ["open", "resolved"]
        sent = 'devmentor_notifications_total{channel="ops",result="sent"} 2.0'
        wait(lambda: sent in proc.get("/metrics").text, 5, what="the sent count in /metrics")
    finally:
        receiver.close()
