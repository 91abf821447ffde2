"""The monitor's own cost, through a real `--serve`: GET /api/self and /metrics give its
CPU, memory and each source's poll times (mean and max over the last minute), and say
when a source cannot keep to its interval. Stub services on loopback."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families
from support.processes import FleetThread

pytestmark = pytest.mark.integration


def test_api_self_and_metrics_show_the_monitors_own_cost(write_config, fast, serve, wait):
    fleet = FleetThread(["auth", "memory", "project"])
    try:
        # One request in flight and 200 ms answers: three services every 0.5 s queue for
        # the slot, so a check (counted from its wait) outlasts its interval.
        for name in fleet.urls:
            fleet.behave(name, latency_ms=200, jitter=0.0)
        cfg = write_config(
            fast(fleet.urls), health={"max_in_flight": 1}, intervals={"system": "1s"}
        )
        proc = serve("-c", str(cfg))

        def sampled():
            body = proc.get("/api/self").json()
            polls = {p["source"]: p for p in body["polls"]}
            return body if {"health", "system"} <= set(polls) and body["slow"] else None

        body = wait(sampled, 15, what="health and system polls timed, health slow")
        assert body["rss_bytes"] > 10 * 2**20  # a Python process with aiohttp: tens of MiB
        assert body["cpu_ratio"] is not None
        assert 0 <= body["cpu_ratio"] < 4
        polls = {p["source"]: p for p in body["polls"]}
        health = polls["health"]
        assert health["interval_s"] == 0.5
        assert health["slow"] is True
        assert health["max_s"] > 0.5
        assert health["max_s"] >= health["mean_s"]
        assert health["mean_s"] >= 0.2  # each answer alone takes 200 ms
        assert polls["system"]["slow"] is False
        assert any(line.startswith("health checks slow: ") for line in body["slow"])
        assert body["slow"][0].endswith(" > 0.5 s")

        text = proc.get("/metrics").text
        families = {f.name: f for f in text_string_to_metric_families(text)}
        assert families["devmentor_self_rss_bytes"].samples[0].value > 10 * 2**20
        assert "devmentor_self_cpu_ratio" in families
        seen = {
            (s.labels["source"], s.labels["stat"]): s.value
            for s in families["devmentor_self_poll_seconds"].samples
        }
        assert {("health", "mean"), ("health", "max"), ("system", "mean")} <= set(seen)
        assert seen[("health", "max")] > 0.5
    finally:
        fleet.close()
