"""Python memory per service: what the store and the anomaly detector hold for each
service after an hour and after a day of 10 s checks (tracemalloc, in this one process).

COUNT services are checked every 10 s of a simulated clock (no network: the store's
`record_check` and the prediction engine's detectors, as the runtime feeds them); their
summaries are derived once a simulated minute, as a redraw would. tracemalloc snapshots
after 1 h and after 24 h give the bytes per service, the top lines by size, and what grew
between the two. Every history in memory is bounded: after the first hour nothing should
grow (issue 19: RSS under 75 MiB at 1,000 services, flat memory).

Measured (2026-11-29, 20 services, KiB per service, 130 s of CPU each): before issue
19's memory work (main at 8152613): 16.0 after 1 h, 149.9 after 24 h (146 MiB at 1,000
services; the latency ring held a day, 2 x 71 KiB); after it: 9.1 after 1 h, 10.2 after
24 h (10 MiB at 1,000; the rings hold an hour, the recent checks are columns, the
detectors' state arrays, the window counters 2-byte counts). Prints one JSON object.
"""

from __future__ import annotations

import gc
import random
import sys
import time
import tracemalloc
from typing import Any

from _common import emit, host_info

from devmentor_monitor.config.schema import parse_text
from devmentor_monitor.model import CheckResult
from devmentor_monitor.predictions.detector import Detector
from devmentor_monitor.store import Store

COUNT = 20
INTERVAL = 10.0
HOURS = (1, 24)
TOP = 8
T0 = 1_800_000_000.0


def _config(count: int) -> str:
    lines = ["services:"]
    for i in range(count):
        lines += [
            f"  - name: svc-{i:04d}",
            f"    url: http://127.0.0.1:9/svc/{i}/health",
            f"    interval: {INTERVAL:g}s",
        ]
    return "\n".join(lines) + "\n"


def _where(stat: Any) -> str:
    frame = stat.traceback[0]
    path = frame.filename.split("site-packages/")[-1].split("devmentor_monitor/")[-1]
    return f"{path}:{frame.lineno}"


def main() -> int:
    random.seed(19)
    config = parse_text(_config(COUNT))
    names = [s.name for s in config.services]
    tracemalloc.start()
    now = [T0]
    store = Store(config, clock=lambda: now[0])
    # The engine's two detectors a service (latency, failed checks): predictions/engine.py.
    detectors = {n: (Detector(), Detector()) for n in names}
    base = tracemalloc.take_snapshot()
    result: dict[str, Any] = {"host": host_info(), "services": COUNT, "interval_s": INTERVAL}
    snapshots = {}
    step = 0
    started = time.process_time()
    for hours in HOURS:
        while now[0] < T0 + hours * 3600:
            now[0] = T0 + step * INTERVAL
            for i, name in enumerate(names):
                ts = now[0] + i * INTERVAL / COUNT
                latency = 0.002 + random.random() / 1000
                store.record_check(CheckResult(name, ts, True, latency, 200))
                latency_detector, errors_detector = detectors[name]
                latency_detector.update(ts, latency)
                errors_detector.update(ts, 0.0)
            if step % 6 == 0:
                store.services()
            step += 1
        gc.collect()
        snap = tracemalloc.take_snapshot()
        snapshots[hours] = snap
        held = sum(s.size_diff for s in snap.compare_to(base, "filename"))
        result[f"kib_per_service_{hours}h"] = round(held / COUNT / 1024, 1)
        result[f"top_{hours}h"] = [
            f"{_where(s)}: {s.size_diff / COUNT:.0f} B/service"
            for s in snap.compare_to(base, "lineno")[:TOP]
        ]
    first, last = (snapshots[h] for h in HOURS)
    result["grew_after_first_hour_kib_per_service"] = round(
        sum(s.size_diff for s in last.compare_to(first, "filename")) / COUNT / 1024, 2
    )
    result["mib_at_1000_services_24h"] = round(result["kib_per_service_24h"] * 1000 / 1024, 1)
    result["cpu_s"] = round(time.process_time() - started, 1)
    emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
