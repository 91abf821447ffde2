"""Predictions: streaming anomaly detection, time-to-exhaustion forecasts, root-cause hints.

Pure computation on plain numbers (no I/O, no asyncio, no textual), so the runtime, the
HTTP API, the TUI and the `detect` CLI all share the same code:

* `model`: `Prediction` and the engine's `PredictionStatus`, what the store holds.
* `detector`: `DetectorBank` / `Detector`, online anomaly scores in [0, 1] with flags.
* `forecast`: robust trend fits giving time to exhaustion, leak suspicion, error budget.
* `rootcause`: ranking candidate causes of an incident, each with its evidence.
* `capacity`: replica advice from CPU and latency load ratios (AUTO_SCALE_ENABLED).
* `engine`: the live engine the runtime ticks: feeds every stored series to a detector,
  refreshes forecasts and advice, ranks causes of open incidents, writes the store.
* `detect_cli`: `devmentor-monitor detect FILE.csv --output OUT.csv` (NAB-style runs).

Submodules are imported explicitly; importing this package loads nothing heavy.
"""
