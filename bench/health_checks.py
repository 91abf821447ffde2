"""Health-check cost: CPU of `--serve` checking 1000 endpoints every 10 s.

A separate `demo --count 1000 --latency-ms 2` process serves the endpoints; the monitor
runs from a temp services.yaml (interval 10 s, timeout 2 s, max_in_flight 10, small
histories). After a warm-up, over a fixed window: monitor CPU (user+system delta),
checks done (delta of the sum of devmentor_service_checks_total), and the demo server's
CPU separately. Prints one JSON object; exit 1 on failure.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import Children, cli, cpu_seconds, emit, free_port, get, host_info, wait_http

ENDPOINTS = 1000
INTERVAL_S = 10
WARMUP_S = 15
WINDOW_S = 30
TARGET = {"endpoints": ENDPOINTS, "interval_s": INTERVAL_S, "cpu_percent_max": 15}


def services_yaml(demo_port: int, mon_port: int) -> str:
    lines = [
        "server:",
        "  host: 127.0.0.1",
        f"  port: {mon_port}",
        "health:",
        "  timeout: 2s",
        "  max_in_flight: 10",
        "history:",
        "  system_points: 100",
        "  service_points: 100",
        "  recent_checks: 5",
        "services:",
    ]
    for i in range(ENDPOINTS):
        lines += [
            f"  - name: s{i}",
            f"    url: http://127.0.0.1:{demo_port}/svc/{i}/health",
            f"    interval: {INTERVAL_S}s",
            "    timeout: 2s",
        ]
    return "\n".join(lines) + "\n"


def checks_total(base: str) -> float:
    """Sum of every devmentor_service_checks_total sample (success + failure)."""
    total = 0.0
    for line in get(f"{base}/metrics").decode().splitlines():
        if line.startswith("devmentor_service_checks_total{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def failures_total(base: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in get(f"{base}/metrics").decode().splitlines()
        if line.startswith("devmentor_service_checks_total{") and 'result="failure"' in line
    )


def main() -> int:
    result: dict[str, Any] = {"host": host_info(), "warmup_s": WARMUP_S, "window_s": WINDOW_S}
    try:
        with Children() as kids, tempfile.TemporaryDirectory() as tmp:
            demo_port, mon_port = free_port(), free_port()
            demo = kids.start(
                "demo",
                [
                    *cli(),
                    "demo",
                    "--count",
                    str(ENDPOINTS),
                    "--latency-ms",
                    "2",
                    "--port",
                    str(demo_port),
                ],
            )
            wait_http(f"http://127.0.0.1:{demo_port}/svc/0/health", demo, kids)
            cfg = Path(tmp) / "services.yaml"
            cfg.write_text(services_yaml(demo_port, mon_port))
            mon = kids.start(
                "monitor",
                [
                    *cli(),
                    "--serve",
                    "-c",
                    str(cfg),
                    "--port",
                    str(mon_port),
                    "--log-level",
                    "warning",
                ],
            )
            base = f"http://127.0.0.1:{mon_port}"
            wait_http(f"{base}/api/services", mon, kids, deadline_s=60)
            time.sleep(WARMUP_S)

            t0, c0 = time.monotonic(), checks_total(base)
            m0, d0 = cpu_seconds(mon.pid), cpu_seconds(demo.pid)
            time.sleep(WINDOW_S)
            # /metrics is cached for up to 1 s, so read it after the CPU samples
            wall = time.monotonic() - t0
            m1, d1 = cpu_seconds(mon.pid), cpu_seconds(demo.pid)
            c1 = checks_total(base)
            failures = failures_total(base)
            for name, proc in (("monitor", mon), ("demo", demo)):
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited: {kids.log_tail(proc)}")
    except (RuntimeError, OSError, ValueError) as exc:
        result["error"] = str(exc)
        emit(result)
        return 1
    checks = c1 - c0
    mon_cpu = m1 - m0
    result.update(
        {
            "checks": int(checks),
            "checks_per_s": round(checks / wall, 1),
            "expected_checks_per_s": ENDPOINTS / INTERVAL_S,
            "failures_total_at_end": int(failures),
            "cpu_percent_of_one_core": round(100 * mon_cpu / wall, 1),
            "cpu_ms_per_check": round(1000 * mon_cpu / checks, 3) if checks else None,
            "demo_server_cpu_percent_of_one_core": round(100 * (d1 - d0) / wall, 1),
            "target": TARGET,
            "meets_target": 100 * mon_cpu / wall <= TARGET["cpu_percent_max"],
        }
    )
    emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
