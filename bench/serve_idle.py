"""Idle footprint of `--serve --demo`: CPU % of one core and RSS over a quiet window.

After a warm-up, samples the process every second for the window: CPU from the
user+system delta over the whole window, RSS max/last in MiB. Nothing scrapes it
during the window. Prints one JSON object; exit 1 on failure.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import psutil
from _common import Children, cli, cpu_seconds, emit, free_port, host_info, wait_http

WARMUP_S = 10
WINDOW_S = 30
MIB = 1024 * 1024
TARGET = {"rss_mib_max": 60}


def main() -> int:
    result: dict[str, Any] = {"host": host_info(), "warmup_s": WARMUP_S, "window_s": WINDOW_S}
    try:
        with Children() as kids:
            port = free_port()
            mon = kids.start(
                "monitor",
                [*cli(), "--serve", "--demo", "--port", str(port), "--log-level", "warning"],
            )
            wait_http(f"http://127.0.0.1:{port}/api/services", mon, kids)
            time.sleep(WARMUP_S)
            proc = psutil.Process(mon.pid)
            rss: list[int] = []
            t0, c0 = time.monotonic(), cpu_seconds(mon.pid)
            for i in range(1, WINDOW_S + 1):
                rss.append(proc.memory_info().rss)
                time.sleep(max(0.0, t0 + i - time.monotonic()))
            wall, cpu = time.monotonic() - t0, cpu_seconds(mon.pid) - c0
            rss.append(proc.memory_info().rss)
            threads = proc.num_threads()
            if mon.poll() is not None:
                raise RuntimeError(f"monitor exited: {kids.log_tail(mon)}")
    except (RuntimeError, OSError, psutil.Error) as exc:
        result["error"] = str(exc)
        emit(result)
        return 1
    result.update(
        {
            "cpu_percent_of_one_core": round(100 * cpu / wall, 2),
            "rss_mib_max": round(max(rss) / MIB, 1),
            "rss_mib_first": round(rss[0] / MIB, 1),
            "rss_mib_last": round(rss[-1] / MIB, 1),
            "threads": threads,
            "target": TARGET,
            "meets_target": max(rss) / MIB <= TARGET["rss_mib_max"],
        }
    )
    emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
