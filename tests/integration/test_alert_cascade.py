"""Issue 14 end to end through `--serve`: a root goes down and its two dependents fail a
moment later; one page, naming the dependents, then one resolved. Stub services on
loopback, a real webhook receiver."""

from __future__ import annotations

import time

import pytest
from support.http import Receiver
from support.processes import FleetThread

pytestmark = pytest.mark.integration


def test_a_cascade_pages_once_naming_the_dependents(write_config, fast, serve, wait):
    fleet = FleetThread(["auth", "memory", "project", "billing"])
    receiver = Receiver.in_thread()
    try:
        services = fast(fleet.urls)
        for s in services:
            if s["name"] in ("memory", "project"):
                s["depends_on"] = ["auth"]
        cfg = write_config(
            services,
            notifications={
                "channels": [{"name": "ops", "type": "webhook", "url": receiver.base + "/hook"}],
                "retry": {"base": "0.1s", "max": "1s"},
            },
            alerting={"route": {"group_wait": "2s", "group_interval": "1m"}},
        )
        proc = serve("-c", str(cfg))
        wait(
            lambda: all(s["status"] == "up" for s in proc.get("/api/services").json()["services"]),
            10,
            what="all up",
        )
        fleet.stop("auth")
        time.sleep(0.5)
        fleet.stop("memory")
        fleet.stop("project")
        opened = wait(
            lambda: [b for b in receiver.bodies() if b["kind"] == "open"],
            15,
            what="the page",
        )
        time.sleep(3)  # time for any second page to arrive (there must be none)
        pages = [b for b in receiver.bodies() if b["kind"] == "open"]
        assert len(pages) == 1, pages
        assert opened[0]["service"] == "auth"
        assert opened[0]["severity"] == "critical"
        assert "memory" in opened[0]["description"]
        assert "project" in opened[0]["description"]
        incidents = proc.get("/api/incidents?state=open").json()["incidents"]
        assert [i["service"] for i in incidents] == ["auth"]
        assert 'devmentor_incidents_open{severity="critical"} 1.0' in proc.get("/metrics").text

        for name in ("auth", "memory", "project"):
            fleet.start(name)
        wait(
            lambda: [b for b in receiver.bodies() if b["kind"] == "resolved"],
            15,
            what="the resolved",
        )
        wait(
            lambda: proc.get("/api/incidents?state=open").json()["incidents"] == [],
            5,
            what="no incident open",
        )
        time.sleep(2)
        assert sorted(b["kind"] for b in receiver.bodies()) == ["open", "resolved"]
        sent = 'devmentor_notifications_total{channel="ops",result="sent"} 2.0'
        wait(lambda: sent in proc.get("/metrics").text, 5, what="the sent count")
    finally:
        receiver.close()
        fleet.close()


def test_a_restart_mid_outage_neither_pages_again_nor_forgets(write_config, fast, serve, wait):
    fleet = FleetThread(["auth", "billing"])
    receiver = Receiver.in_thread()
    try:
        cfg = write_config(
            fast(fleet.urls),
            notifications={
                "channels": [{"name": "ops", "type": "webhook", "url": receiver.base + "/hook"}],
                "retry": {"base": "0.1s", "max": "1s"},
            },
            alerting={"route": {"group_wait": "1s"}},
        )
        proc = serve("-c", str(cfg))
        wait(
            lambda: all(s["status"] == "up" for s in proc.get("/api/services").json()["services"]),
            10,
            what="all up",
        )
        fleet.stop("auth")
        [page] = wait(
            lambda: [b for b in receiver.bodies() if b["kind"] == "open"], 15, what="the page"
        )
        proc.close()  # SIGTERM in the middle of the outage

        again = serve("-c", str(cfg))
        wait(
            lambda: next(
                s["status"] == "down"
                for s in again.get("/api/services").json()["services"]
                if s["name"] == "auth"
            ),
            10,
            what="auth seen down again",
        )
        time.sleep(4)  # several checks and dispatcher ticks after the restart
        assert [b["kind"] for b in receiver.bodies()] == ["open"]  # no second page
        [inc] = again.get("/api/incidents?state=open").json()["incidents"]
        assert inc["id"] == page["incident_id"]  # not forgotten

        fleet.start("auth")
        resolved = wait(
            lambda: [b for b in receiver.bodies() if b["kind"] == "resolved"],
            15,
            what="the resolved after the restart",
        )
        assert resolved[0]["incident_id"] == page["incident_id"]
    finally:
        receiver.close()
        fleet.close()
