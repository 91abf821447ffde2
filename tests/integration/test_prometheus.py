"""A real Prometheus server scrapes the exporter: `up == 1` and our series arrive."""

from __future__ import annotations

import pytest
from support.prometheus import MISSING, PROMETHEUS, Prometheus

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(PROMETHEUS is None, reason=MISSING),
]


def test_prometheus_scrapes_the_exporter(fleet, write_config, fast, serve, wait, tmp_path):
    proc = serve("-c", str(write_config(fast(fleet.urls))))
    prom = Prometheus(tmp_path, [f"127.0.0.1:{proc.port}"])
    try:
        up = wait(
            lambda: prom.query('up{job="devmentor"}'), 30, interval=0.5, what="a first scrape"
        )
        assert up[0]["value"][1] == "1"
        series = wait(
            lambda: prom.query("devmentor_service_up"),
            15,
            interval=0.5,
            what="devmentor_service_up in Prometheus",
        )
        assert {s["metric"]["service"] for s in series} == {"auth", "memory", "project"}
        assert all(s["value"][1] == "1" for s in series)
        lat = prom.query('devmentor_service_latency_seconds{quantile="0.95"}')
        assert lat
        assert float(lat[0]["value"][1]) > 0
    finally:
        prom.stop()
