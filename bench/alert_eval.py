"""Alert-evaluation cost per tick: 1,000 services x 5 service rules (+ host rules).

Two cases: the steady state (a tick sees the ~100 services whose checks arrived in the
last second, 1,000 endpoints at a 10 s interval) and the worst case (every service
re-evaluated). Target: under 5 ms per tick. Prints JSON.
"""

from __future__ import annotations

import random
import statistics
import time

from _common import emit

from devmentor_monitor.config.schema import parse_text
from devmentor_monitor.incidents.rules import Evaluator, default_rules
from devmentor_monitor.model import CheckResult, SystemSample
from devmentor_monitor.store import Store

SERVICES = 1000
SERVICE_RULES = (
    "service_down",
    "latency_slo",
    "error_rate_slo",
    "burn_rate_fast",
    "burn_rate_slow",
)


def build() -> tuple[Store, Evaluator, list[str]]:
    # min_coverage 0: every burn window is evaluated from the first check on (the worst
    # case; by default a window waits until the checks cover a quarter of it).
    lines = ["alerting: {burn_rate: {min_coverage: 0}}", "services:"]
    for i in range(SERVICES):
        lines += [
            f"  - name: s{i}",
            f"    url: http://127.0.0.1:1/s{i}",
            "    slo: {uptime: 99.9, response_time: 200ms, error_rate: 0.5}",
        ]
    config = parse_text("\n".join(lines))
    store = Store(config)
    rules = [
        r
        for r in default_rules(config)
        if r.name in SERVICE_RULES or r.metric in ("cpu", "memory", "disk")
    ]
    names = store.service_names()
    now = time.time()
    rng = random.Random(1)
    for step in range(60):  # ten minutes of history at a 10 s interval
        for name in names:
            ok = rng.random() > 0.01
            store.record_check(
                CheckResult(
                    name,
                    now - 600 + step * 10,
                    ok=ok,
                    latency=rng.uniform(0.01, 0.3) if ok else None,
                )
            )
    store.record_system(
        SystemSample(
            ts=now,
            cpu_percent=50,
            cpu_per_core=(50.0,),
            load=(1, 1, 1),
            mem_total=1,
            mem_used=1,
            mem_available=1,
            mem_percent=50,
            swap_total=0,
            swap_used=0,
            swap_percent=0,
            disks=(),
            disk_read_bytes=0,
            disk_write_bytes=0,
            net_rx_bytes=0,
            net_tx_bytes=0,
        )
    )
    return store, Evaluator(rules, store), names


def timed(fn, rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def main() -> None:
    _, ev, names = build()
    now = time.time()
    ev.evaluate(now, None)  # warm: alerts created for whatever breaches already
    rng = random.Random(2)
    steady = timed(lambda: ev.evaluate(now, set(rng.sample(names, 100))), 50)
    worst = timed(lambda: ev.evaluate(now, None), 20)
    per_tick = statistics.median(steady)
    emit(
        {
            "services": SERVICES,
            "service_rules": len(SERVICE_RULES),
            "rules_total": len(ev.rules),
            "steady_tick_ms": {
                "median": round(per_tick, 3),
                "max": round(max(steady), 3),
                "changed_services": 100,
            },
            "all_services_tick_ms": {
                "median": round(statistics.median(worst), 3),
                "max": round(max(worst), 3),
            },
            "target": {"tick_ms_max": 5},
            "meets_target": per_tick < 5,
        }
    )


if __name__ == "__main__":
    main()
