"""CPU of one overview tick with 1,000 services, headless at 160x50: which way of keeping
the services table current is cheaper.

The TUI's frozen data (tests/tui/tui_data.py) plus 995 more services fill the store; then,
TICKS times, the clock moves 1 s, a tenth of the services get a new check (10 s checks),
the host a sample, and `app.tick()` plus a paint run; CPU time (process_time) is taken
around tick + paint only. Variants, alternated in rounds in this one process:

* ``visible``: as shipped: cells computed and set for the rows on screen only; when more
  than BULK_ROWS rows changed, the changed cells' cache entries dropped in one pass
  (set_rows_cells);
* ``visible_per_row``: the same rows, each changed row's cache entries dropped with a
  pass of its own (set_cells) however many changed;
* ``all_rows``: every row computed and its changed cells set by key (as dolphie does),
  one by one (the table before issue 19).
* ``visible_fine_age``: as ``visible``, with the age column to the second (`12s`, `1m5s`)
  instead of in steps (`10s`, `1m`: units.coarse_age): every visible row's age cell
  changes each tick.

Prints one JSON object: per variant the median and p90 ms per tick.

A changed row repaints its own screen line only (widgets.repaint_rows): before, any
changed cell dropped the table's line cache and repainted all its visible rows. Same
run, alternated, 3 x 30 ticks each (this setup, tick + paint, process_time): table lines
painted per tick 36 -> 19, median 32.3-33.2 -> 29.4-30.3 ms, mean 38-43 -> 33-36 ms.
Live, `ultra -c` 1,000 services (10 s checks) at 160x50 in tmux, both trees side by side
for 60 s: 7.50 -> 6.40 % of a core (with uvloop, as --serve runs; uvloop alone took the
main thread 7.57 -> 6.90 %); `--serve` of the same file 4.5 %, `ultra` at 5 services
1.38 % on both trees (fresh processes, same uptime). uvloop's import (~10 ms) did not
show at start: `tui_load.py --startup-only --starts 6 --base /work/main`, first frame
0.565 s vs 0.581 s on main, values 0.845 vs 0.846 s (medians, same run).
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
from devmentor_monitor.tui import widgets  # noqa: E402
from devmentor_monitor.tui.app import MonitorApp  # noqa: E402
from devmentor_monitor.units import format_age  # noqa: E402

COUNT = 1000
TICKS = 30
ROUNDS = 2
SIZE = (160, 50)
EXTRA = [f"svc-{i:04d}" for i in range(COUNT - len(data.LATENCY))]
VISIBLE = widgets.ServicesTable.visible_keys
BULK = widgets.BULK_ROWS
COARSE = widgets.coarse_age


def _fine_age(seconds: float) -> str:
    return format_age(seconds).removesuffix(" ago")


def _all_keys(self: widgets.ServicesTable) -> list[str]:
    return list(self._lines)


def _variant(name: str) -> None:
    widgets.ServicesTable.visible_keys = _all_keys if name == "all_rows" else VISIBLE  # type: ignore[method-assign]
    widgets.BULK_ROWS = BULK if name in ("visible", "visible_fine_age") else 10**9
    widgets.coarse_age = _fine_age if name == "visible_fine_age" else COARSE  # type: ignore[assignment]


async def ticks(variant: str) -> list[float]:
    _variant(variant)
    extra = "".join(f"  - name: {n}\n    url: http://127.0.0.1:1/{n}\n" for n in EXTRA)
    config = parse_text(data.CONFIG_TEXT + extra)
    now = [data.T]
    monitor = data.frozen_monitor(config)
    names = [*data.LATENCY, *EXTRA]
    for i, n in enumerate(EXTRA):
        monitor.intake.observe(CheckResult(n, now[0] - i % 10, ok=True, latency=0.002))
    app = MonitorApp(config, **data.views_of(monitor), clock=lambda: now[0], hostname=data.HOSTNAME)
    costs: list[float] = []
    async with app.run_test(size=SIZE) as pilot:
        app.tick(force=True)
        await pilot.pause()
        for i in range(TICKS):
            now[0] += 1
            for n in names[i % 10 :: 10]:
                monitor.intake.observe(
                    CheckResult(n, now[0], ok=True, status_code=200, latency=0.002 + i % 7 / 1000)
                )
            monitor.intake.observe(data.system_sample(now[0], 30.0 + (i * 13) % 20))
            start = time.process_time()
            app.tick()
            await pilot.pause()
            costs.append(time.process_time() - start)
    return costs


def main() -> int:
    samples: dict[str, list[float]] = {
        "visible": [],
        "visible_fine_age": [],
        "visible_per_row": [],
        "all_rows": [],
    }
    for _ in range(ROUNDS):
        for variant in samples:
            samples[variant] += asyncio.run(ticks(variant))
    _variant("visible")
    result: dict[str, Any] = {
        "host": host_info(),
        "size": f"{SIZE[0]}x{SIZE[1]}",
        "services": COUNT,
        "ticks_per_variant": TICKS * ROUNDS,
    }
    for variant, costs in samples.items():
        result[variant] = {
            "median_ms": round(statistics.median(costs) * 1000, 2),
            "p90_ms": round(statistics.quantiles(costs, n=10)[-1] * 1000, 2),
        }
    result["ratio_visible_vs_fine_age"] = round(
        result["visible"]["median_ms"] / result["visible_fine_age"]["median_ms"], 3
    )
    emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
