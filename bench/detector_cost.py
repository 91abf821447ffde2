"""Cost of the streaming anomaly detector: samples per second per core, bytes per series.

Single process, CPU time (not wall time, so a noisy neighbour does not count), every
expert on (five-minute samples with timestamps, so the time-of-day profile learns and
speaks). Figures:

* one series through `Detector.update` (plain floats: what the live engine and `detect`
  run), target 100,000 samples/s;
* a `DetectorBank` (numpy, one call per tick for a group sampled together) of 1,000 and of
  10,000 series;
* the live engine (`PredictionEngine`) at 10,000 series, one sample each per tick, as
  `predictions.max_series: 10000` allows: CPU per tick for feeding and for publishing,
  and memory per series measured with tracemalloc (Python objects included);
* bytes of numeric state per series.
"""

from __future__ import annotations

import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
from _common import emit, host_info

from devmentor_monitor.predictions.detector import Detector, DetectorBank

STEP = 300.0
TARGET_SINGLE = 100_000  # samples/s, one series, pure Python
TARGET_TICK_MS = 1000.0  # the engine ticks once a second: 10,000 series must fit in it


def bank_rate(series: int, steps: int) -> float:
    rng = np.random.default_rng(series)
    data = rng.normal(100.0, 5.0, (steps + 400, series))
    bank = DetectorBank(series)
    for t, row in enumerate(data[:400]):  # past warm-up, every expert active
        bank.update(row, t * STEP)
    started = time.process_time()
    for t, row in enumerate(data[400:], start=400):
        bank.update(row, t * STEP)
    return series * steps / (time.process_time() - started)


def single_rate(samples: int) -> float:
    values = np.random.default_rng(0).normal(100.0, 5.0, samples).tolist()
    best = 0.0
    for _ in range(3):
        det = Detector()
        update = det.update
        started = time.process_time()
        for i, v in enumerate(values):
            update(i * STEP, v)
        best = max(best, samples / (time.process_time() - started))
    return best


def engine_shape(series: int, ticks: int) -> dict[str, float]:
    """The live engine itself with `series` series, one sample each per tick: its feed
    (`_update`: the detector, flags, marks) and its publication (`step()`: scores, status,
    marks to the store), CPU per tick, and memory per series (tracemalloc, everything the
    engine keeps for a series: detector, record, marks)."""
    from devmentor_monitor.config.schema import parse_text
    from devmentor_monitor.predictions.engine import PredictionEngine
    from devmentor_monitor.store import Store

    now = [1_700_000_000.0]
    config = parse_text(f"predictions: {{max_series: {series}}}\nservices: []\n")
    store = Store(config, clock=lambda: now[0])
    engine = PredictionEngine(store, config, clock=lambda: now[0])
    rng = np.random.default_rng(7)
    data = rng.normal(100.0, 5.0, (ticks + 300, series)).tolist()
    tracemalloc.start()  # slows allocation ~5x: on for creation and a few ticks only
    before = tracemalloc.get_traced_memory()[0]
    # The engine's own per-series path (what _feed_* call for each new sample).
    watched = [engine._get(f"bench:{i}", None, f"series {i}", "", "") for i in range(series)]
    held = 0
    for t, row in enumerate(data[:300]):
        for s, v in zip(watched, row, strict=True):
            engine._update(s, now[0] + t * STEP, v)
        if t == 5:  # the state's size is fixed from the first samples on
            held = tracemalloc.get_traced_memory()[0] - before
            tracemalloc.stop()
    feed, publish = [], []
    for t, row in enumerate(data[300:], start=300):
        now[0] = 1_700_000_000.0 + t * STEP
        started = time.process_time()
        for s, v in zip(watched, row, strict=True):
            engine._update(s, now[0], v)
        fed = time.process_time()
        engine.step(now[0])
        publish.append(time.process_time() - fed)
        feed.append(fed - started)
    total = sorted(f + p for f, p in zip(feed, publish, strict=True))
    feed.sort()
    publish.sort()
    return {
        "series": series,
        "cpu_ms_per_tick_median": round(1000 * total[len(total) // 2], 1),
        "cpu_ms_per_tick_max": round(1000 * total[-1], 1),
        "feed_ms_median": round(1000 * feed[len(feed) // 2], 1),
        "publish_ms_median": round(1000 * publish[len(publish) // 2], 1),
        "bytes_per_series_python": round(held / series),
        "megabytes_total": round(held / 2**20, 1),
    }


def main() -> int:
    single = round(single_rate(100_000))
    banks = {str(n): round(bank_rate(n, steps)) for n, steps in ((1000, 600), (10_000, 100))}
    engine = engine_shape(10_000, 20)
    met = {
        "single_series_at_least_100k": single >= TARGET_SINGLE,
        "engine_10k_series_fit_a_tick": engine["cpu_ms_per_tick_max"] < TARGET_TICK_MS,
    }
    emit(
        {
            "single_series_samples_per_s": single,
            "bank_samples_per_s": banks,
            "engine_10000_series": engine,
            "state_bytes_per_series": {
                "bank": DetectorBank(1000).state_bytes_per_series(),
                "detector_numeric": Detector().state_bytes(),
            },
            "targets": {
                "single_series_samples_per_s": TARGET_SINGLE,
                "engine_tick_ms_at_10000_series": TARGET_TICK_MS,
            },
            "met": met,
            "numpy": np.__version__,
            "command": f"{Path(sys.executable).name} bench/detector_cost.py",
            "host": host_info(),
        }
    )
    return 0 if all(met.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
