"""A real Prometheus server scrapes the exporter: `up == 1` and our series arrive."""

from __future__ import annotations

import shutil
import subprocess

import httpx
import pytest

from devmentor_monitor.demo.fleet import free_port

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        shutil.which("prometheus") is None,
        reason="prometheus not installed (scripts/setup --test does)",
    ),
]


def query(base: str, expr: str) -> list[dict]:
    r = httpx.get(f"{base}/api/v1/query", params={"query": expr}, timeout=5)
    r.raise_for_status()
    return r.json()["data"]["result"]


def test_prometheus_scrapes_the_exporter(fleet, write_config, fast, serve, wait, tmp_path):
    proc = serve("-c", str(write_config(fast(fleet.urls))))
    prom_port = free_port()
    (tmp_path / "prometheus.yml").write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: devmentor\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{proc.port}']\n"
    )
    log = (tmp_path / "prometheus.log").open("wb")
    prom = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{prom_port}"
    try:
        up = wait(
            lambda: query(base, 'up{job="devmentor"}'), 30, interval=0.5, what="a first scrape"
        )
        assert up[0]["value"][1] == "1"
        series = wait(
            lambda: query(base, "devmentor_service_up"),
            15,
            interval=0.5,
            what="devmentor_service_up in Prometheus",
        )
        assert {s["metric"]["service"] for s in series} == {"auth", "memory", "project"}
        assert all(s["value"][1] == "1" for s in series)
        lat = query(base, 'devmentor_service_latency_seconds{quantile="0.95"}')
        assert lat
        assert float(lat[0]["value"][1]) > 0
    finally:
        prom.terminate()
        try:
            prom.wait(10)
        except subprocess.TimeoutExpired:
            prom.kill()
        log.close()
