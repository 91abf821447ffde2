"""Health-check cost: CPU of `--serve` checking 1000 endpoints every 10 s.

A separate `demo --count 1000 --latency-ms 2` process serves the endpoints; the monitor
runs from a temp services.yaml (interval 10 s, timeout 2 s, max_in_flight 10, small
histories). After a warm-up, over a fixed window: monitor CPU (user+system delta), its
main thread's alone (the event loop: psutil per-thread times; the rest is the history
writer and other threads), checks done (delta of the sum of
devmentor_service_checks_total), and the demo server's CPU separately. Prints one JSON
object; exit 1 on failure.

``--base TREE`` runs a second monitor from another source tree (its PYTHONPATH) against
the same demo server in the same window, and prints its figures beside ours: an A/B
that machine noise moves much less than two separate runs.

    .venv/bin/python bench/health_checks.py --base /path/to/other/worktree

Measured (issue 19, 2 shared cores, A/B in one window of 30 s, `--base` the tree
before): main-thread CPU per check 853 us before the lean http:// client
(health/plainhttp.py) and the 20 ms scheduler tick, 394 us after; the whole process
9.3 % -> 4.7 % of a core, its main thread 8.5 % -> 3.9 % (ab.py-style alternation over
3 windows of 25 s with tui_fleet's 1,000 services: 849 -> 412 us, medians). With it,
one bench/tui_fleet.py run on the loaded machine (load average ~3.5) gave `ultra` 2.37 %
at 5 services and 10.3 % at 1,000 (ratio 4.35, was 5.75; target < 3), `--serve` 7.0 %:
the rest of the gap is the TUI's own work at 1,000 rows.

Then (branch i19d-cpu, `--base` main at de62cfc, one window of 30 s, load ~2): main-thread
CPU per check 409 -> 225 us, the process 4.8 -> 2.7 % of a core, its main thread 4.1 ->
2.2 %: the scheduler's 0.1 s tick (checks go out and come back together), workers instead
of a task per check, one timer for the answers' deadlines, a history writer not woken by
each write, a cheaper prediction step (bench/tui_fleet.py has the `ultra` side).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
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


def main_thread_seconds(pid: int) -> float:
    """CPU seconds of a process's main thread (its thread id is the pid on Linux)."""
    for t in psutil.Process(pid).threads():
        if t.id == pid:
            return t.user_time + t.system_time
    return 0.0


def start_monitor(kids: Children, cfg: Path, port: int, tree: str | None) -> Any:
    """`--serve` from this tree, or from ``tree`` (its package first on PYTHONPATH), each
    with its own data dir beside its config."""
    data = cfg.with_suffix(".data")
    cmd = [*cli(), "--serve", "-c", str(cfg), "--port", str(port), "--log-level", "warning"]
    cmd += ["--data-dir", str(data)]
    if tree is None:
        return kids.start("monitor", cmd)
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = tree
    try:
        return kids.start(f"monitor ({tree})", cmd)
    finally:
        if saved is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = saved


def figures(mon_cpu: float, main_cpu: float, checks: float, wall: float) -> dict[str, Any]:
    return {
        "checks": int(checks),
        "checks_per_s": round(checks / wall, 1),
        "cpu_percent_of_one_core": round(100 * mon_cpu / wall, 1),
        "cpu_ms_per_check": round(1000 * mon_cpu / checks, 3) if checks else None,
        "main_thread_cpu_percent": round(100 * main_cpu / wall, 2),
        "main_thread_us_per_check": round(1e6 * main_cpu / checks, 1) if checks else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", help="another source tree, measured beside this one")
    args = parser.parse_args()
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
            mon = start_monitor(kids, cfg, mon_port, None)
            base = f"http://127.0.0.1:{mon_port}"
            other: tuple[Any, str] | None = None
            if args.base:
                other_port = free_port()
                other_cfg = Path(tmp) / "base.yaml"  # its own port; the same services
                other_cfg.write_text(services_yaml(demo_port, other_port))
                other_proc = start_monitor(kids, other_cfg, other_port, args.base)
                other = (other_proc, f"http://127.0.0.1:{other_port}")
                wait_http(f"{other[1]}/api/services", other_proc, kids, deadline_s=60)
            wait_http(f"{base}/api/services", mon, kids, deadline_s=60)
            time.sleep(WARMUP_S)

            t0, c0 = time.monotonic(), checks_total(base)
            oc0 = checks_total(other[1]) if other else 0.0
            m0, d0, mt0 = cpu_seconds(mon.pid), cpu_seconds(demo.pid), main_thread_seconds(mon.pid)
            o0 = (cpu_seconds(other[0].pid), main_thread_seconds(other[0].pid)) if other else None
            time.sleep(WINDOW_S)
            # /metrics is cached for up to 1 s, so read it after the CPU samples
            wall = time.monotonic() - t0
            m1, d1, mt1 = cpu_seconds(mon.pid), cpu_seconds(demo.pid), main_thread_seconds(mon.pid)
            o1 = (cpu_seconds(other[0].pid), main_thread_seconds(other[0].pid)) if other else None
            c1 = checks_total(base)
            oc1 = checks_total(other[1]) if other else 0.0
            failures = failures_total(base)
            procs = [("monitor", mon), ("demo", demo)] + ([("base", other[0])] if other else [])
            for name, proc in procs:
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited: {kids.log_tail(proc)}")
    except (RuntimeError, OSError, ValueError) as exc:
        result["error"] = str(exc)
        emit(result)
        return 1
    mon_cpu = m1 - m0
    result.update(figures(mon_cpu, mt1 - mt0, c1 - c0, wall))
    result.update(
        {
            "expected_checks_per_s": ENDPOINTS / INTERVAL_S,
            "failures_total_at_end": int(failures),
            "demo_server_cpu_percent_of_one_core": round(100 * (d1 - d0) / wall, 1),
            "target": TARGET,
            "meets_target": 100 * mon_cpu / wall <= TARGET["cpu_percent_max"],
        }
    )
    if o0 is not None and o1 is not None:
        result["base"] = {
            "tree": args.base,
            **figures(o1[0] - o0[0], o1[1] - o0[1], oc1 - oc0, wall),
        }
    emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
