"""What the TUI's history reads cost: a time-travel frame (`[`) and the 7d / 30d charts.

A monitor (never started) over a temp data dir gets a month of stored history for the
frozen test config's five services and its host series, as the intake would have written
it: the last 24 h at the real rates (checks every 10 s, host every 5 s; raw samples), the
week before at one sample a minute (1-minute rollups), the rest at one per 5 minutes (hour
rollups). Then, with the clock at the end of that month:

* ``frame_ms``: `replay.load_frame` (what `[` waits for) at 10 minutes, 3 days and 20 days
  ago: raw, minute and hour tiers. Target: under 100 ms, so a key press feels instant.
* ``chart_ms``: one series read for the 7d and 30d ranges at the step a 120-column chart
  uses (`charts.step_for`). Target: under 20 ms per series (the issue's 30 d target).

Prints one JSON object: medians over REPEATS reads, the targets, and met / not met.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import emit, host_info

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "tui"))

import tui_data as data  # noqa: E402
from msgspec.structs import replace  # noqa: E402

from devmentor_monitor.config.schema import parse_text  # noqa: E402
from devmentor_monitor.history.model import (  # noqa: E402
    DAY,
    Sample,
    host_series,
    service_series,
)
from devmentor_monitor.runtime import Monitor  # noqa: E402
from devmentor_monitor.tui.charts import RANGES, step_for  # noqa: E402
from devmentor_monitor.tui.replay import load_frame  # noqa: E402

NOW = data.T
REPEATS = 20
FRAME_TARGET_MS = 100.0
CHART_TARGET_MS = 20.0
HOST_KEYS = ("cpu", "memory", "swap", "load1", "disk_read", "disk_write", "net_rx", "net_tx")
HOST_KEYS += ("disk:/", "disk:/var/lib/docker")


def samples(start: float, end: float, check_every: float, host_every: float) -> list[Sample]:
    out: list[Sample] = []
    t = start
    while t < end:
        for i, name in enumerate(data.LATENCY):
            up = float(int(t / 600 + i) % 50 != 0)  # a 10-minute outage now and then
            out += [
                Sample(service_series(name, "up"), t, up),
                Sample(service_series(name, "ok"), t, up),
                Sample(service_series(name, "latency_seconds"), t, data.LATENCY[name]),
            ]
        t += check_every
    t = start
    while t < end:
        out += [Sample(host_series(k), t, 40.0 + (t % 600) / 60) for k in HOST_KEYS]
        t += host_every
    return out


async def median_ms(read: Any, repeats: int = REPEATS) -> float:
    costs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        await read()
        costs.append((time.perf_counter() - t0) * 1000)
    return round(statistics.median(costs), 2)


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        config = replace(parse_text(data.CONFIG_TEXT), data_dir=tmp)
        monitor = Monitor(config, serve=False, clock=lambda: NOW)
        monitor.db.open()
        monitor.history.open()
        t0 = time.perf_counter()
        written = 0
        for start, end, check, host in (
            (NOW - 30 * DAY, NOW - 7 * DAY, 300.0, 300.0),
            (NOW - 7 * DAY, NOW - DAY, 60.0, 60.0),
            (NOW - DAY, NOW, 10.0, 5.0),
        ):
            day = start
            while day < end:  # a day at a time: bounded memory
                batch = samples(day, min(day + DAY, end), check, host)
                monitor.history.write(batch)
                written += len(batch)
                await monitor.history.flush()
                day += DAY
        fill_s = time.perf_counter() - t0
        queries, store = monitor.queries, monitor.store
        frame = {
            label: await median_ms(lambda ago=ago: load_frame(queries, store, NOW - ago, NOW))
            for label, ago in (("10m", 600.0), ("3d", 3 * DAY), ("20d", 20 * DAY))
        }
        chart = {}
        for name in ("7d", "30d"):
            window = RANGES[name]
            step = step_for(window, 110)
            chart[name] = await median_ms(
                lambda w=window, s=step: queries.history(host_series("cpu"), NOW - w, NOW, s)
            )
        await monitor.history.close()
        monitor.db.close()
    emit(
        {
            "bench": "tui_history",
            "host": host_info(),
            "samples_written": written,
            "fill_seconds": round(fill_s, 1),
            "frame_ms": frame,
            "frame_target_ms": FRAME_TARGET_MS,
            "frame_met": all(v < FRAME_TARGET_MS for v in frame.values()),
            "chart_ms_per_series": chart,
            "chart_target_ms": CHART_TARGET_MS,
            "chart_met": all(v < CHART_TARGET_MS for v in chart.values()),
        }
    )


if __name__ == "__main__":
    asyncio.run(main())
