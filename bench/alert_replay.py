"""Pages per scripted outage (issue 14, "Must show"): a real `--serve` checking four stub
services every 2 s (auth the root; memory and project depend on it; ai-gateway on auth and
memory), failure_threshold 3, success_threshold 1, a webhook channel to a real receiver.

Scenarios (tests/support/replay.py, the same ones as tests/integration/test_alert_replay.py),
each run in its own thread with its own stubs, receiver and monitor, so the bench takes
about as long as the longest run (cascade then recovery, about 70 s):

    quiet         everything up                                  target 0 pages
    cold_start    all four down before the monitor starts        1 page per down root,
                                                                 none before check 3
    cascade       auth down, memory+project 2 s later, 40 s      1 page naming them
    recovery      then everything back                           resolved <= 1x2 s + 1 s,
                                                                 0 open 10 s later
    flapping      project up/down every check, 40 s (ft 3)       <= 1 page
    flapping_ft1  the same with failure_threshold 1              <= 1 page
    restart       SIGTERM mid-outage, new --serve, same state    0 pages after restart,
                                                                 same incident, resolved
    silence       POST /api/silences, then the cascade           0 pages ("unsupported"
                                                                 while the route is 404)

A page is a webhook notification of kind open or escalation. Prints JSON: per scenario its
figures and `targets` ({target, value, met}), then `meets_targets`.

    .venv/bin/python bench/alert_replay.py [--only cascade,restart]
    cd /tmp && PYTHONPATH=<other tree> /path/.venv/bin/python /path/bench/alert_replay.py
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from _common import emit, host_info

TESTS = Path(__file__).resolve().parent.parent / "tests"
sys.path.insert(0, str(TESTS))

from support import processes, replay  # noqa: E402

import devmentor_monitor  # noqa: E402

# `--serve` runs as `python -m devmentor_monitor` from the tree this process imported, so
# PYTHONPATH=<other tree> replays that tree's alerting end to end.
processes.REPO = Path(devmentor_monitor.__file__).resolve().parent.parent


def _stop_on_sigterm() -> None:
    """SIGTERM (run_all's time limit) stops every monitor the runs started, by PID."""

    def stop(*_: object) -> None:
        for proc in list(replay.LIVE):
            proc.close()
        os._exit(143)

    signal.signal(signal.SIGTERM, stop)


def main() -> int:
    _stop_on_sigterm()
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="", help="comma-separated runs: " + ", ".join(replay.RUNS))
    args = ap.parse_args()
    runs = [r for r in args.only.split(",") if r] or list(replay.RUNS)
    unknown = [r for r in runs if r not in replay.RUNS]
    if unknown:
        ap.error(f"unknown run(s) {', '.join(unknown)}")
    started = time.monotonic()
    group_wait_key, _ = replay.group_wait_setting()  # once, before the threads
    tmp = Path(tempfile.mkdtemp(prefix="bench-alert-replay-"))

    def one(name: str) -> dict[str, dict[str, Any]]:
        try:
            return replay.run(name, tmp / name)
        except Exception as exc:  # one broken run is a figure, not the end of the bench
            return {s: {"error": f"{type(exc).__name__}: {exc}"[:500]} for s in replay.RUNS[name]}

    with ThreadPoolExecutor(max_workers=len(runs)) as pool:
        results = list(pool.map(one, runs))
    result: dict[str, Any] = {
        "host": host_info(),
        "package": str(Path(devmentor_monitor.__file__).parent),
        "settings": {
            "interval_s": replay.INTERVAL,
            "failure_threshold": replay.FAILURE_THRESHOLD,
            "success_threshold": replay.SUCCESS_THRESHOLD,
            "group_wait": replay.GROUP_WAIT if group_wait_key else None,
            "group_wait_key": group_wait_key,
        },
    }
    met = True
    for out in results:
        for scenario, figures in out.items():
            targets = replay.judge(scenario, figures)
            figures["targets"] = targets
            figures["met"] = all(t["met"] for t in targets.values())
            met = met and figures["met"]
            result[scenario] = figures
    result["wall_s"] = round(time.monotonic() - started, 1)
    result["logs"] = str(tmp)
    result["meets_targets"] = met
    emit(result)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
