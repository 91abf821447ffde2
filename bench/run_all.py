"""Runs every benchmark one after the other and prints their JSON as one object.

Each runs in its own interpreter (so they never share a process or a port), with a
time limit; a failing one is reported under its name and makes the exit code 1.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
SCRIPTS = (
    "exporter_load",
    "health_checks",
    "serve_idle",
    "alert_eval",
    "incident_writes",
    "tui_load",
    "tui_tick",
    "tui_history",
    "detector_cost",
    "nab",
    "docker_poll",
    "kube_hang",
    "events_ingest",
    "idle_connections",
    "poison_events",
    "alert_replay",
    "scrape",
    "history_write",
    "history_restore",
    "push_metrics",
    "custom_restore",
)
LIMIT_S = 180
LIMITS_S = {"tui_load": 900, "events_ingest": 600}  # glances install; 4 ingest runs


def run(name: str) -> tuple[dict[str, Any], bool]:
    proc = subprocess.Popen(
        [sys.executable, str(BENCH / f"{name}.py")],
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=BENCH.parent,
    )
    limit = LIMITS_S.get(name, LIMIT_S)
    try:
        out, err = proc.communicate(timeout=limit)
    except subprocess.TimeoutExpired:  # SIGTERM first: the bench then stops its own children
        proc.terminate()
        try:
            proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
        return {"error": f"timed out after {limit} s"}, False
    try:
        data = json.loads(out)
    except ValueError:
        data = {"error": f"no JSON (exit {proc.returncode})", "stderr": err[-1500:]}
    return data, proc.returncode == 0


def main() -> int:
    combined: dict[str, Any] = {}
    ok = True
    for name in SCRIPTS:
        combined[name], passed = run(name)
        ok = ok and passed
    print(json.dumps(combined, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
