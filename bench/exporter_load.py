"""Exporter throughput: wrk against `--serve --demo` /metrics and /api/services.

Runs `wrk -t1 -c16 -d10s --latency` against each endpoint and reports req/s and p99
latency; for scale, the same load against prometheus_client's own start_http_server
(default registry) in a separate process. Prints one JSON object; exit 1 on failure.
"""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

from _common import Children, cli, emit, free_port, get, have_wrk, host_info, wait_http

DURATION_S = 10
CONNECTIONS = 16
TARGETS = {"metrics_rps_min": 10000, "metrics_p99_ms_max": 10}
_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}
PROM_SERVER = (
    "import sys, time\n"
    "from prometheus_client import start_http_server\n"
    "start_http_server(int(sys.argv[1]), addr='127.0.0.1')\n"
    "while True: time.sleep(3600)\n"
)


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not m:
        raise ValueError(f"unparsed wrk latency {text!r}")
    return round(float(m[1]) * _UNIT_MS[m[2]], 3)


def parse_wrk(out: str) -> dict[str, Any]:
    """req/s, avg and p50/p90/p99 latency (ms), errors, from `wrk --latency` output."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not rps:
        raise ValueError(f"no Requests/sec in wrk output:\n{out}")
    result: dict[str, Any] = {"rps": round(float(rps[1]), 1)}
    avg = re.search(r"^\s+Latency\s+(\S+)", out, re.M)
    if avg:
        result["avg_ms"] = _ms(avg[1])
    for pct in ("50", "90", "99"):
        m = re.search(rf"^\s+{pct}(?:\.000)?%\s+(\S+)", out, re.M)
        if m:
            result[f"p{pct}_ms"] = _ms(m[1])
    total = re.search(r"(\d+) requests in", out)
    result["requests"] = int(total[1]) if total else None
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    result["non_2xx"] = int(non2xx[1]) if non2xx else 0
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    result["socket_errors"] = sum(int(x) for x in sock.groups()) if sock else 0
    return result


def wrk(url: str) -> dict[str, Any]:
    cmd = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{DURATION_S}s", "--latency", url]
    out = subprocess.run(
        cmd, capture_output=True, text=True, timeout=DURATION_S + 30, check=True
    ).stdout
    result = parse_wrk(out)
    result["body_bytes"] = len(get(url))
    return result


def main() -> int:
    if not have_wrk():
        emit({"error": "wrk not found on PATH (apt-get install wrk)"})
        return 1
    result: dict[str, Any] = {
        "host": host_info(),
        "load": {"tool": "wrk", "threads": 1, "connections": CONNECTIONS, "duration_s": DURATION_S},
    }
    try:
        with Children() as kids:
            port = free_port()
            mon = kids.start(
                "monitor",
                [*cli(), "--serve", "--demo", "--port", str(port), "--log-level", "warning"],
            )
            base = f"http://127.0.0.1:{port}"
            wait_http(f"{base}/api/services", mon, kids)
            result["metrics"] = wrk(f"{base}/metrics")
            result["api_services"] = wrk(f"{base}/api/services")
            if mon.poll() is not None:
                raise RuntimeError(f"monitor died under load: {kids.log_tail(mon)}")

            pport = free_port()
            prom = kids.start("prometheus_client", [sys.executable, "-c", PROM_SERVER, str(pport)])
            wait_http(f"http://127.0.0.1:{pport}/metrics", prom, kids)
            result["prometheus_client_server"] = wrk(f"http://127.0.0.1:{pport}/metrics")
    except (RuntimeError, ValueError, OSError, subprocess.SubprocessError) as exc:
        result["error"] = str(exc)
        emit(result)
        return 1
    prom_rps = result["prometheus_client_server"]["rps"]
    result["ratio_vs_prometheus_client"] = (
        round(result["metrics"]["rps"] / prom_rps, 2) if prom_rps else None
    )
    result["targets"] = TARGETS
    result["meets_targets"] = (
        result["metrics"]["rps"] >= TARGETS["metrics_rps_min"]
        and result["metrics"].get("p99_ms", 1e9) <= TARGETS["metrics_p99_ms_max"]
    )
    emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
