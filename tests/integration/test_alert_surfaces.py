"""Issue 14, Surfaces, through a real `--serve`: a cascade (auth down, memory and project
depending on it) and a silenced service (billing). The incident detail lists the signals,
the dependents, who was notified when and why it paged; /api/alerts says which alert is
inhibited by which incident and which one is silenced by which silence; the services say
whether they flap, with their burn rates. Stub services on loopback, a real webhook
receiver."""

from __future__ import annotations

import time

import httpx
import pytest
from support.http import Receiver
from support.processes import FleetThread

pytestmark = pytest.mark.integration

OPERATOR = "op-key-0123456789abcdef"
KEYS = {"DEVMENTOR_API_KEYS": f"ops:operator:{OPERATOR}"}
SLO = {"uptime": 99.9, "response_time": "200ms", "error_rate": 0.1}


def test_incident_detail_and_alerts_say_why(write_config, fast, serve, wait):
    fleet = FleetThread(["auth", "memory", "project", "billing"])
    receiver = Receiver.in_thread()
    try:
        services = fast(fleet.urls)
        for s in services:
            if s["name"] in ("memory", "project"):
                s["depends_on"] = ["auth"]
            if s["name"] == "auth":
                s["slo"] = SLO
        cfg = write_config(
            services,
            notifications={
                "channels": [{"name": "ops", "type": "webhook", "url": receiver.base + "/hook"}],
                "retry": {"base": "0.1s", "max": "1s"},
            },
            alerting={"route": {"group_wait": "2s", "group_interval": "1m"}},
        )
        proc = serve("-c", str(cfg), env=KEYS)
        wait(
            lambda: all(s["status"] == "up" for s in proc.get("/api/services").json()["services"]),
            10,
            what="all up",
        )
        made = httpx.post(
            proc.url + "/api/silences",
            headers={"Authorization": f"Bearer {OPERATOR}"},
            timeout=5,
            json={
                "matchers": [
                    {"name": "service", "value": "billing", "isRegex": False, "isEqual": True}
                ],
                "duration": "1h",
                "comment": "billing migration",
            },
        )
        assert made.status_code == 201, made.text
        sid = made.json()["id"]

        fleet.stop("auth")
        fleet.stop("billing")
        time.sleep(0.5)
        fleet.stop("memory")
        fleet.stop("project")
        [page] = wait(
            lambda: [b for b in receiver.bodies() if b["kind"] == "open"], 15, what="the page"
        )
        assert page["service"] == "auth"

        def detail(incident_id: str) -> dict:
            r = proc.get(f"/api/incidents/{incident_id}")
            assert r.status_code == 200, r.text
            return r.json()

        # The root's incident: its own signal and its dependents' (inhibited) ones.
        def root_complete() -> dict | None:
            d = detail(page["incident_id"])
            services = {s["service"] for s in d["signals"]}
            sent = all(n["state"] == "sent" for n in d["notifications"])
            return d if services >= {"auth", "memory", "project"} and sent else None

        auth = wait(
            root_complete,
            10,
            what="the dependents' signals in the root's incident, the page sent",
        )
        assert auth["title"]
        assert auth["timeline"]
        down = {s["service"]: s for s in auth["signals"] if s["rule"] == "service_down"}
        assert set(down) == {"auth", "memory", "project"}
        for s in down.values():
            assert s["kind"] == "down"
            assert s["state"] == "firing"
            assert s["first_at"] <= s["last_at"]
            assert s["value"] == 1.0
        assert sorted(auth["dependents"]) == ["memory", "project"]
        assert auth["silenced_by"] is None
        assert auth["flapping"] is False
        [note] = auth["notifications"]
        assert note["channel"] == "ops"
        assert note["kind"] == "open"
        assert note["state"] == "sent"
        assert note["attempts"] >= 1
        assert note["sent_at"] >= note["created_at"]
        assert note["last_error"] is None
        assert auth["why_paged"].startswith(
            "service_down on auth confirmed after 2 failed checks; routed to ops; "
        ), auth["why_paged"]
        assert "memory" in auth["why_paged"]
        assert "project" in auth["why_paged"]

        # The silenced service's incident: recorded, marked, never sent.
        def billing_incident() -> dict | None:
            found = proc.get("/api/incidents?state=open&service=billing").json()["incidents"]
            if not found:
                return None
            d = detail(found[0]["id"])
            return d if d["silenced_by"] is not None else None

        billing = wait(billing_incident, 10, what="billing's incident, silenced")
        assert billing["silenced_by"] == {"id": sid, "comment": "billing migration"}
        assert billing["why_paged"] == f"not paged: silenced by {sid} (billing migration)"
        assert billing["notifications"] == []
        assert billing["paged_at"] is None

        # /api/alerts: who holds each alert, and why the quiet ones are quiet.
        def alerts() -> dict[tuple[str, str], dict]:
            body = proc.get("/api/alerts").json()
            assert body["rules"]
            return {(a["rule"], a["subject"]): a for a in body["alerts"]}

        def all_firing() -> dict[tuple[str, str], dict] | None:
            a = alerts()
            names = ("auth", "memory", "project", "billing")
            firing = all(a.get(("service_down", s), {}).get("state") == "firing" for s in names)
            return a if firing else None

        got = wait(
            all_firing,
            10,
            what="every service_down alert firing",
        )
        root = got[("service_down", "auth")]
        assert root["incident"] == auth["id"]
        assert root["inhibited_by"] is None
        assert root["silenced_by"] is None
        assert root["flapping"] is False
        for dependent in ("memory", "project"):
            a = got[("service_down", dependent)]
            assert a["incident"] == auth["id"]
            assert a["inhibited_by"] == {"incident": auth["id"], "service": "auth"}
            assert a["silenced_by"] is None
        muted = got[("service_down", "billing")]
        assert muted["silenced_by"] == {"id": sid, "comment": "billing migration"}
        assert muted["inhibited_by"] is None
        assert muted["incident"] == billing["id"]
        assert {"since", "value", "threshold", "service"} <= set(muted)

        # Services: flapping or not, the percent state change, burn rates where an SLO is.
        listed = {s["name"]: s for s in proc.get("/api/services").json()["services"]}
        for s in listed.values():
            assert s["flapping"] is False
            assert 0.0 <= s["flap_change_percent"] <= 100.0
        assert [b["pair"] for b in listed["auth"]["burn_rates"]] == ["fast", "slow"]
        assert listed["billing"]["burn_rates"] == []  # no SLO, no burn rate
        one = proc.get("/api/services/auth").json()
        assert one["flapping"] is False
        assert {"long", "short", "factor", "burning"} <= set(one["burn_rates"][0])
    finally:
        receiver.close()
        fleet.close()
