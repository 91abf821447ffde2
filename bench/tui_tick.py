"""CPU of one overview redraw tick, headless at 160x50: cell-by-cell rows against update_cell.

The TUI's frozen test data (tests/tui/tui_data.py) fills the store; then, TICKS times, the
clock moves 1 s, every service gets a new check (latency, trend and age change), the host
gets a sample, and `app.tick()` plus a paint run. CPU time (process_time) is taken around
tick + paint only. Two variants, alternated in rounds in this one process so that noise
hits both alike:

* ``cells``: ServicesTable._set_cells (only changed cells and their rows drawn again);
* ``update_cell``: DataTable.update_cell for each changed cell (every cell drawn again).

Prints one JSON object: per variant the median ms per tick, and the ratio.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from _common import emit, host_info

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "tui"))

import tui_data as data  # noqa: E402

from devmentor_monitor.config.schema import parse_text  # noqa: E402
from devmentor_monitor.model import CheckResult  # noqa: E402
from devmentor_monitor.tui.app import MonitorApp  # noqa: E402
from devmentor_monitor.tui.widgets import ServicesTable  # noqa: E402

TICKS = 100
ROUNDS = 3
SIZE = (160, 50)
FAST = ServicesTable._set_cells


def _update_cell(self: ServicesTable, row: str, changed: dict[str, object]) -> None:
    for col, value in changed.items():
        self.update_cell(row, col, value)


async def ticks(variant: str) -> list[float]:
    ServicesTable._set_cells = FAST if variant == "cells" else _update_cell  # type: ignore
    config = parse_text(data.CONFIG_TEXT)
    now = [data.T]
    monitor = data.frozen_monitor(config)
    app = MonitorApp(config, **data.views_of(monitor), clock=lambda: now[0], hostname=data.HOSTNAME)
    costs: list[float] = []
    async with app.run_test(size=SIZE) as pilot:
        app.tick(force=True)
        await pilot.pause()
        for i in range(TICKS):
            now[0] += 1
            for name, latency in data.LATENCY.items():
                monitor.intake.observe(
                    CheckResult(
                        name,
                        now[0],
                        ok=True,
                        status_code=200,
                        latency=latency * (1 + 0.01 * (i % 7)),
                    )
                )
            monitor.intake.observe(data.system_sample(now[0], 30.0 + (i * 13) % 20))
            start = time.process_time()
            app.tick()
            await pilot.pause()
            costs.append(time.process_time() - start)
    return costs


def main() -> int:
    samples: dict[str, list[float]] = {"cells": [], "update_cell": []}
    for _ in range(ROUNDS):
        for variant in samples:
            samples[variant] += asyncio.run(ticks(variant))
    ServicesTable._set_cells = FAST  # type: ignore[method-assign]
    result: dict[str, Any] = {
        "host": host_info(),
        "size": f"{SIZE[0]}x{SIZE[1]}",
        "ticks_per_variant": TICKS * ROUNDS,
    }
    for variant, costs in samples.items():
        result[variant] = {
            "median_ms": round(statistics.median(costs) * 1000, 2),
            "p90_ms": round(statistics.quantiles(costs, n=10)[-1] * 1000, 2),
        }
    result["cells_vs_update_cell"] = round(
        result["cells"]["median_ms"] / result["update_cell"]["median_ms"], 2
    )
    emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
