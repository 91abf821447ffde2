"""Predictions: streaming anomaly detection, time-to-exhaustion forecasts, root-cause hints.

Pure computation on plain numbers (no I/O, no asyncio, no textual), so the runtime, the
HTTP API, the TUI and the `detect` CLI all share the same code:

* `detector`: `DetectorBank` / `Detector`, online anomaly scores in [0, 1] with flags.
* `forecast`: robust trend fits giving time to exhaustion, leak suspicion, error budget.
* `rootcause`: ranking candidate causes of an incident, each with its evidence.
* `detect_cli`: `devmentor-monitor detect FILE.csv --output OUT.csv` (NAB-style runs).

Submodules are imported explicitly; importing this package loads nothing heavy.
"""
