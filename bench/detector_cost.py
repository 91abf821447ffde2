"""Cost of the streaming anomaly detector: samples per second per core, bytes per series.

Single process, CPU time (not wall time, so a noisy neighbour does not count). The live
monitor advances one `DetectorBank` per group of series sampled on the same tick, so the
headline figure is a bank of 1000 series; the plain-float one-series `Detector.update`
path (used where values arrive one at a time, and by `detect`) is reported too.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from _common import emit, host_info

from devmentor_monitor.predictions.detector import Detector, DetectorBank

TARGET = 200_000


def bank_rate(series: int, steps: int) -> float:
    rng = np.random.default_rng(series)
    data = rng.normal(100.0, 5.0, (steps, series))
    bank = DetectorBank(series)
    for row in data[:50]:  # warm the code paths
        bank.update(row)
    started = time.process_time()
    for row in data:
        bank.update(row)
    return series * steps / (time.process_time() - started)


def single_rate(samples: int) -> float:
    det = Detector()
    values = np.random.default_rng(0).normal(100.0, 5.0, samples).tolist()
    started = time.process_time()
    for i, v in enumerate(values):
        det.update(float(i), v)
    return samples / (time.process_time() - started)


def main() -> int:
    banks = {
        str(n): round(bank_rate(n, steps))
        for n, steps in ((10, 3000), (100, 2000), (1000, 1000), (10_000, 300))
    }
    headline = int(banks["1000"])
    emit(
        {
            "samples_per_s_per_core": headline,
            "series_per_bank_for_headline": 1000,
            "samples_per_s_by_bank_size": banks,
            "single_series_update_samples_per_s": round(single_rate(50_000)),
            "bytes_per_series": DetectorBank(1000).state_bytes_per_series(),
            "single_series_state_bytes": Detector.state_bytes(),
            "target_samples_per_s": TARGET,
            "numpy": np.__version__,
            "command": f"{Path(sys.executable).name} bench/detector_cost.py",
            "host": host_info(),
        }
    )
    return 0 if headline >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
