"""How long the start-up rebuild of the derived figures from history.db takes.

50 services checked every 10 s for 7 days (the last 24 h as raw samples, the rest as the
rollups the writer folds them into; older days written at one check a minute, which gives
the same rollup rows) and 8 host series every 5 s for 24 h, written through SqliteSeries.
Then a fresh Store is refilled by StoreIntake.restore_history, as Monitor.start does
before the sources run, while a ticker on the event loop records its worst stall.
Also: what one service summary (uptime 1h/24h/7d/30d) costs once the counters are full.
Target: rebuild under 2 s (it delays the first check). The loop's worst stall is shown
beside the same ticker's over 2 s of nothing (the machine's own noise): the rebuild runs
before the exporter listens and before the sources start, so only the TUI's first frames
could feel it. Prints JSON.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import emit

from devmentor_monitor.config.schema import parse_text
from devmentor_monitor.history.model import DAY, Sample, host_series, service_series
from devmentor_monitor.history.sqlite import SqliteSeries
from devmentor_monitor.intake import StoreIntake
from devmentor_monitor.store import Store

SERVICES = int(sys.argv[1]) if len(sys.argv) > 1 else 50
HOST_KEYS = ("cpu", "memory", "swap", "load1", "disk_read", "disk_write", "net_rx", "net_tx")
NOW = 1_800_000_000.0


def config() -> str:
    lines = ["services:"]
    for i in range(SERVICES):
        lines += [
            f"  - name: s{i}",
            f"    url: http://127.0.0.1:1/s{i}",
            "    slo: {uptime: 99.9, response_time: 200ms, error_rate: 0.5}",
        ]
    return "\n".join(lines)


def checks(name: str, since: float, until: float, every: float) -> list[Sample]:
    out = []
    ts = since
    while ts < until:
        ok = int(ts) % 997 != 0
        out += [
            Sample(service_series(name, "up"), ts, float(ok)),
            Sample(service_series(name, "ok"), ts, float(ok)),
            Sample(service_series(name, "latency_seconds"), ts, 0.01 + (int(ts) % 50) / 1000),
        ]
        ts += every
    return out


async def fill(series: SqliteSeries, clock: list[float]) -> int:
    written = 0
    # Day by day, oldest first, with the clock following (the writer drops raw samples
    # older than 24 h and minutes older than 7 d, as it would have at the time).
    for day in range(7, 0, -1):
        start = NOW - day * DAY
        clock[0] = start + DAY
        every = 10.0 if day == 1 else 60.0
        for i in range(SERVICES):
            batch = checks(f"s{i}", start, start + DAY, every)
            series.write(batch)
            written += len(batch)
            await series.flush()  # a day of 50 services at once is past the writer's cap
        if day == 1:
            for key in HOST_KEYS:
                batch = [
                    Sample(host_series(key), ts, float(int(ts) % 100))
                    for ts in (start + 5.0 * k for k in range(int(DAY / 5)))
                ]
                series.write(batch)
                written += len(batch)
        await series.flush()
    assert series.dropped == 0, f"the fill lost {series.dropped} samples"
    return written


async def stalled(work: Any) -> tuple[Any, float]:
    """``work``'s result and the event loop's worst stall while it ran (seconds)."""
    stall = 0.0
    done = False

    async def ticker() -> None:
        nonlocal stall
        last = time.perf_counter()
        while not done:
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            stall = max(stall, now - last - 0.001)
            last = now

    tick = asyncio.create_task(ticker())
    result = await work
    done = True
    await tick
    return result, stall


async def restore(series: SqliteSeries, clock: list[float]) -> tuple[float, float, Store]:
    store = Store(parse_text(config()), clock=lambda: clock[0])
    intake = StoreIntake(store, clock=lambda: clock[0], history=series)
    took, stall = await stalled(intake.restore_history())
    return took, stall, store


async def main() -> None:
    clock = [NOW]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "history.db"
        series = SqliteSeries(path, 30 * DAY, clock=lambda: clock[0])
        series.open()
        t0 = time.perf_counter()
        written = await fill(series, clock)
        fill_s = time.perf_counter() - t0
        clock[0] = NOW
        gc.collect()  # the fill's garbage is not the restoring process's (a fresh start)
        # The machine's own noise: the same ticker over the same time, doing nothing.
        _, idle = await stalled(asyncio.sleep(2.0))
        took, stall, store = await restore(series, clock)
        # The second restore reads a warm page cache, as a restart soon after a stop does.
        warm, warm_stall, _ = await restore(series, clock)
        size = series.file_bytes()
        await series.close()
    s = store.service("s0")
    store.SUMMARY_TTL = 0
    reps = 2000
    t0 = time.perf_counter()
    for _ in range(reps):  # SUMMARY_TTL 0: each call derives the figures again
        store.service("s0")
    summary_us = (time.perf_counter() - t0) / reps * 1e6
    emit(
        {
            "services": SERVICES,
            "history": "7 d of checks (10 s for the last 24 h), 8 host series (5 s, 24 h)",
            "samples_written": written,
            "fill_seconds": round(fill_s, 1),
            "file_mib": round(size / 2**20, 1),
            "restore_seconds": round(took, 3),
            "restore_seconds_warm": round(warm, 3),
            "loop_worst_stall_ms": round(max(stall, warm_stall) * 1000, 1),
            "loop_worst_stall_idle_ms": round(idle * 1000, 1),
            "restored": {
                "uptime_7d_s0": s.uptime_7d,
                "uptime_30d_s0": s.uptime_30d,
                "latency_points_s0": len(store.latency_history("s0")),
                "host_series": len(store.series_names()),
            },
            "summary_us": round(summary_us, 1),
            "target": {"restore_seconds": 2.0},
            "meets_target": took < 2.0,
        }
    )


if __name__ == "__main__":
    asyncio.run(main())
