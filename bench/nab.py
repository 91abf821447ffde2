"""NAB score of the anomaly detector on the 34 tuning series, via the shared scorer.

Runs `nab_score.py run` exactly as the data's README says, with `devmentor-monitor detect`
as the detector command (one process per file, so start-up cost is included), and prints
the normalized score of each of NAB's three profiles plus the exact command.
Paths can be moved with NAB_DATA (the nab/ directory) and NAB_SCORER.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import cli, emit, host_info

SHARED = Path(__file__).resolve().parents[2] / "shared"
NAB = Path(os.environ.get("NAB_DATA", SHARED / "data" / "nab"))
SCORER = Path(os.environ.get("NAB_SCORER", SHARED / "tools" / "nab_score.py"))
PUBLISHED = {
    "windowed Gaussian": 39.6,
    "Twitter ADVec": 47.1,
    "Random Cut Forest": 51.7,
    "KNN CAD": 58.0,
    "earthgecko Skyline": 58.2,
    "Numenta HTM": 70.1,
    "ARTime": 74.9,
}


def main() -> int:
    detector = " ".join(shlex.quote(part) for part in cli())
    with tempfile.TemporaryDirectory() as out:
        report = Path(out) / "report.json"
        cmd = [
            sys.executable,
            str(SCORER),
            "run",
            "--cmd",
            f"{detector} detect {{infile}} --output {{outfile}}",
            "--data",
            str(NAB / "data"),
            "--windows",
            str(NAB / "combined_windows.json"),
            "--out",
            str(Path(out) / "results"),
            "--name",
            "devmentor",
            "--quiet",
            "--json",
            str(report),
        ]
        started = time.monotonic()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        elapsed = time.monotonic() - started
        if proc.returncode != 0:
            emit(
                {
                    "error": f"scorer exited {proc.returncode}",
                    "stderr": proc.stderr[-1500:],
                    "command": shlex.join(cmd),
                }
            )
            return 1
        profiles = json.loads(report.read_text())["profiles"]
    emit(
        {
            "nab_files": 34,
            "scores": {name: round(p["normalized"], 2) for name, p in profiles.items()},
            "thresholds": {name: p["threshold"] for name, p in profiles.items()},
            "target_standard": 60.0,
            "published_standard_full_corpus": PUBLISHED,
            "command": shlex.join(cmd[:-2]).replace(str(Path(out)), "$(mktemp -d)"),
            "seconds": round(elapsed, 1),
            "host": host_info(),
        }
    )
    return 0 if profiles["standard"]["normalized"] >= 60.0 else 1


if __name__ == "__main__":
    sys.exit(main())
