"""`/api/services` says how much data each uptime window rests on: a real `--serve` checking
a real service on loopback for a few seconds gives a basis of seconds, not 24 h."""

from __future__ import annotations

import pytest
from support.processes import FleetThread

pytestmark = pytest.mark.integration


def test_a_few_seconds_of_checks_rest_on_a_few_seconds(write_config, fast, serve, wait):
    fleet = FleetThread(["auth"])
    try:
        services = fast(fleet.urls)
        services[0]["slo"] = {"uptime": 99.9, "response_time": "500ms", "error_rate": 1}
        proc = serve("-c", str(write_config(services)))

        def auth() -> dict:
            return proc.get("/api/services").json()["services"][0]

        wait(lambda: auth()["checks_total"] >= 4, 15, what="four checks")
        s = auth()
        assert s["uptime_percent"]["24h"] == 100.0
        held = s["data_seconds"]
        assert 1.0 <= held < 60  # checks every 0.5 s: seconds of data, not a day
        assert s["uptime_basis_seconds"] == {"1h": held, "24h": held, "7d": held, "30d": held}
        assert s["slo"]["basis_seconds"] == held
        assert s["uptime_checks"]["24h"] == s["checks_total"]
        spec = proc.get("/api/openapi.json").json()
        props = spec["components"]["schemas"]["Service"]["properties"]
        assert {"data_seconds", "uptime_basis_seconds", "uptime_checks"} <= set(props)
    finally:
        fleet.close()
