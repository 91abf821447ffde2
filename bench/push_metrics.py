"""`POST /api/metrics` throughput at the series cap, and `/metrics` with every pushed series.

`--serve` with custom_metrics.max_series at its default (1,000); 1,000 series are pushed
first (10 metric names x 100 label values), then wrk posts batches of 100 samples of held
series (the common case: a job reporting its gauges) at 8 connections for 5 s. Targets:
at least 10,000 samples/s through HTTP, p99 under 100 ms, and a scrape of /metrics with
the 1,000 custom series under 50 ms. Prints JSON.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from _common import Children, cli, emit, free_port, get, have_wrk, host_info, wait_http
from exporter_load import parse_wrk

KEY = "bench-operator-key-0123456789"
CONNECTIONS, DURATION_S, BATCH = 8, 5, 100
TARGET_SAMPLES_S, TARGET_P99_MS, TARGET_SCRAPE_MS = 10_000, 100.0, 50.0


def post(url: str, body: object) -> None:
    req = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {KEY}"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        resp.read()


def main() -> int:
    if not have_wrk():
        emit({"error": "wrk not found on PATH (apt-get install wrk)"})
        return 1
    with tempfile.TemporaryDirectory() as tmp, Children() as kids:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        cfg = Path(tmp) / "services.yaml"
        # no per-key push limit (auth.push_rate: 0): the bench measures the server, not it
        cfg.write_text("auth: {push_rate: 0}\nservices:\n  - {name: job, heartbeat: {grace: 1h}}\n")
        cmd = ["env", f"DEVMENTOR_API_KEYS=bench:operator:{KEY}", *cli(), "--serve"]
        cmd += ["-c", str(cfg), "--port", str(port), "--data-dir", str(Path(tmp) / "data")]
        proc = kids.start("serve", [*cmd, "--log-level", "warning"])
        wait_http(base + "/api/services", proc, kids)
        for m in range(10):  # 1,000 series: the default cap
            post(
                base + "/api/metrics",
                [{"name": f"m{m}", "value": i, "labels": {"k": str(i)}} for i in range(100)],
            )
        batch = [{"name": "m0", "value": 1.5, "labels": {"k": str(i)}} for i in range(BATCH)]
        script = Path(tmp) / "post.lua"
        script.write_text(
            'wrk.method = "POST"\n'
            'wrk.headers["Content-Type"] = "application/json"\n'
            f'wrk.headers["Authorization"] = "Bearer {KEY}"\n'
            f"wrk.body = '{json.dumps(batch)}'\n"
        )
        wrk = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{DURATION_S}s", "--latency", "-s"]
        out = subprocess.run(
            [*wrk, str(script), base + "/api/metrics"],
            capture_output=True,
            text=True,
            timeout=DURATION_S + 30,
            check=True,
        ).stdout
        result = parse_wrk(out)
        scrapes = []
        for _ in range(5):
            time.sleep(1.1)  # past the 1 s metrics cache, after a change: a fresh render
            post(base + "/api/metrics", {"name": "m9", "value": time.time(), "labels": {"k": "0"}})
            t0 = time.perf_counter()
            body = get(base + "/metrics")
            scrapes.append((time.perf_counter() - t0) * 1000)
        custom_lines = sum(
            1 for line in body.decode().splitlines() if line.startswith("devmentor_custom_")
        )
    samples_s = result["rps"] * BATCH
    scrape_ms = sorted(scrapes)[len(scrapes) // 2]
    emit(
        {
            "host": host_info(),
            "load": {
                "tool": "wrk",
                "connections": CONNECTIONS,
                "duration_s": DURATION_S,
                "batch": BATCH,
            },
            "post_metrics": result,
            "samples_per_s": round(samples_s),
            "custom_series_on_metrics": custom_lines,
            "scrape_ms_median": round(scrape_ms, 1),
            "targets": {
                "samples_per_s": f">= {TARGET_SAMPLES_S}",
                "p99_ms": f"< {TARGET_P99_MS:g}",
                "scrape_ms": f"< {TARGET_SCRAPE_MS:g}",
            },
            "met": {
                "samples_per_s": samples_s >= TARGET_SAMPLES_S,
                "p99_ms": result.get("p99_ms", 1e9) < TARGET_P99_MS,
                "scrape_ms": scrape_ms < TARGET_SCRAPE_MS,
                "no_errors": result["non_2xx"] == 0 and result["socket_errors"] == 0,
            },
        }
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
