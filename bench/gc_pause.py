"""Full garbage collections at 1,000 services: how long one stalls the loop, with and
without `gc.freeze()` after start-up (issue 19).

The TUI's frozen data (tests/tui/tui_data.py) plus 995 more services fill the store; the
app runs headless at 160x50 (its widgets live, as in `ultra`) and `/api/services` has a
body (server/services_body.py). Then, per variant:

* TICKS times the clock moves 1 s and a tenth of the services get a check, in BATCHES
  with the services body rendered after each, as scrapes 100 ms apart would; then the TUI
  ticks and paints. Taken: each render's and tick's wall time (a collection the churn
  sets off lands in one of them, on the loop) and every automatic collection's
  generation and duration (gc.callbacks start/stop);
* then FULL times `gc.collect(2)`: a full pass, the one that walks every live object
  (bar the frozen ones).

Variants, in this one process, one after the other on the same live objects:
``none`` (as before), ``freeze`` (gc.freeze() once the app and body are up, as cli.py
does after start-up), ``freeze_t0`` (the same and gen-0 threshold 7,000 instead of 700).
Prints one JSON object with the figures and the target (render p99 < 5 ms).
"""

from __future__ import annotations

import asyncio
import gc
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
from devmentor_monitor.server.services_body import ServicesBody  # noqa: E402
from devmentor_monitor.tui.app import MonitorApp  # noqa: E402

COUNT = 1000
FULL = 5
TICKS = 40
BATCHES = 10  # scrapes per simulated second, each after a tenth of its checks
SIZE = (160, 50)
VARIANTS = ("none", "freeze", "freeze_t0")
TARGETS = {"render_p99_ms_max": 5.0}
EXTRA = [f"svc-{i:04d}" for i in range(COUNT - len(data.LATENCY))]


class GcClock:
    """Every collection's generation and duration, from gc.callbacks."""

    def __init__(self) -> None:
        self.runs: list[tuple[int, float]] = []
        self._start = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.runs.append((info["generation"], time.perf_counter() - self._start))


def _ms(values: list[float]) -> dict[str, float]:
    if not values:
        return {"count": 0}
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return {
        "count": len(values),
        "median_ms": round(statistics.median(values) * 1000, 2),
        "p99_ms": round(p99 * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
    }


async def measure() -> dict[str, Any]:
    extra = "".join(f"  - name: {n}\n    url: http://127.0.0.1:1/{n}\n" for n in EXTRA)
    config = parse_text(data.CONFIG_TEXT + extra)
    now = [data.T]
    monitor = data.frozen_monitor(config)
    names = [*data.LATENCY, *EXTRA]
    for i, n in enumerate(EXTRA):
        monitor.intake.observe(CheckResult(n, now[0] - i % 10, ok=True, latency=0.002))
    app = MonitorApp(config, **data.views_of(monitor), clock=lambda: now[0], hostname=data.HOSTNAME)
    body = ServicesBody(monitor.store, monitor.queries)
    body.body()
    clock = GcClock()
    results: dict[str, Any] = {}
    threshold = gc.get_threshold()
    async with app.run_test(size=SIZE) as pilot:
        app.tick(force=True)
        await pilot.pause()
        for variant in VARIANTS:
            gc.collect()
            if variant != "none":
                gc.freeze()
            if variant == "freeze_t0":
                gc.set_threshold(7000, *threshold[1:])
            gc.callbacks.append(clock)
            try:
                clock.runs.clear()
                renders: list[float] = []
                ticks: list[float] = []
                for i in range(TICKS):
                    now[0] += 1
                    due = names[i % 10 :: 10]
                    for b in range(BATCHES):
                        for n in due[b::BATCHES]:
                            monitor.intake.observe(
                                CheckResult(n, now[0], ok=True, status_code=200, latency=0.002)
                            )
                        start = time.perf_counter()
                        body.body()
                        renders.append(time.perf_counter() - start)
                    start = time.perf_counter()
                    app.tick()
                    await pilot.pause()
                    ticks.append(time.perf_counter() - start)
                auto = {
                    f"gen{gen}": _ms([d for g, d in clock.runs if g == gen]) for gen in (0, 1, 2)
                }
                clock.runs.clear()
                for _ in range(FULL):
                    gc.collect(2)
                full = [d for g, d in clock.runs if g == 2]
            finally:
                gc.callbacks.remove(clock)
                frozen = gc.get_freeze_count()
                gc.unfreeze()
                gc.set_threshold(*threshold)
            results[variant] = {
                "frozen_objects": frozen,
                "full_collect": _ms(full),
                "tick_and_paint": _ms(ticks),
                "api_services_render": _ms(renders),
                "automatic_collections": auto,
            }
    body.close()
    return results


def main() -> int:
    results = asyncio.run(measure())
    base = results["none"]["full_collect"]["median_ms"]
    result: dict[str, Any] = {
        "host": host_info(),
        "services": COUNT,
        "size": f"{SIZE[0]}x{SIZE[1]}",
        **results,
        "full_collect_ratio_freeze_vs_none": round(
            results["freeze"]["full_collect"]["median_ms"] / base, 3
        ),
        "targets": {
            name: {
                "target": TARGETS["render_p99_ms_max"],
                "value": r["api_services_render"]["p99_ms"],
                "met": r["api_services_render"]["p99_ms"] < TARGETS["render_p99_ms_max"],
            }
            for name, r in results.items()
        },
    }
    emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
