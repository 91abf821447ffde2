"""Runs benchmarks against two trees side by side, alternating, and prints the ratios.

A refactor must not cost speed, and this machine is shared and noisy: absolute times
from two separate runs mean little, so each bench runs A, B, A, B... in one session and
every numeric figure is compared as median(B) / median(A).

    git worktree add /tmp/base HEAD~1
    .venv/bin/python bench/ab.py --base /tmp/base --rounds 2 exporter_load events_ingest

The base tree is imported through PYTHONPATH (it wins over the editable install), so
both runs use this venv's interpreter and packages; only our code differs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
TOLERANCE = 0.05  # a figure within 5 % of the base counts as no regression
EXTRA_ARGS = {"events_ingest": ["--rounds", "1"]}
# The figures judged, and which way is better (+1 higher, -1 lower); the rest are shown.
KEY_FIGURES = {
    "exporter_load": {"metrics.rps": 1, "api_services.rps": 1, "metrics.p99_ms": -1},
    "tui_load": {"ours.cpu_percent": -1, "ours.rss_mib_max": -1, "ours.first_frame_s": -1},
    "events_ingest": {
        "python.best_per_s.ours": 1,
        "hiredis.best_per_s.ours": 1,
        "python.ours_vs_bare": 1,
        "hiredis.ours_vs_bare": 1,
    },
}
LIMIT_S = 900


def flatten(data: Any, prefix: str = "") -> dict[str, float]:
    """Every number in a bench's JSON, keyed by its dotted path."""
    out: dict[str, float] = {}
    if isinstance(data, dict):
        for key, value in data.items():
            out.update(flatten(value, f"{prefix}{key}."))
    elif isinstance(data, (int, float)) and not isinstance(data, bool):
        out[prefix.rstrip(".")] = float(data)
    return out


def run(name: str, tree: Path | None) -> dict[str, float]:
    env = dict(os.environ)
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    proc = subprocess.run(
        [sys.executable, str(BENCH / f"{name}.py"), *EXTRA_ARGS.get(name, [])],
        capture_output=True,
        text=True,
        env=env,
        timeout=LIMIT_S,
        cwd=BENCH.parent,
        check=False,
    )
    try:
        return flatten(json.loads(proc.stdout))
    except ValueError:
        sys.stderr.write(f"{name}: no JSON (exit {proc.returncode}): {proc.stderr[-800:]}\n")
        return {}


def compare(name: str, base: Path, rounds: int) -> dict[str, Any]:
    runs: dict[str, list[dict[str, float]]] = {"base": [], "head": []}
    for _ in range(rounds):
        runs["base"].append(run(name, base))
        runs["head"].append(run(name, None))
    figures: dict[str, Any] = {}
    for key in sorted(set().union(*runs["base"], *runs["head"])):
        a = [r[key] for r in runs["base"] if key in r]
        b = [r[key] for r in runs["head"] if key in r]
        if not a or not b:
            continue
        ma, mb = statistics.median(a), statistics.median(b)
        figures[key] = {"base": ma, "head": mb, "ratio": round(mb / ma, 3) if ma else None}
    judged = {
        key: _no_regression(figures.get(key), better)
        for key, better in KEY_FIGURES.get(name, {}).items()
    }
    return {
        "key_figures_within_tolerance": judged,
        "meets_target": all(v is True for v in judged.values()),
        "figures": figures,
    }


def _no_regression(figure: dict[str, Any] | None, better: int) -> bool | None:
    """Head is no worse than base by more than TOLERANCE, in the figure's good direction."""
    if figure is None or not figure["ratio"]:
        return None
    return figure["ratio"] >= 1 - TOLERANCE if better > 0 else figure["ratio"] <= 1 + TOLERANCE


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", type=Path, required=True, help="the other tree (a worktree)")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("benches", nargs="+")
    args = ap.parse_args()
    result = {name: compare(name, args.base.resolve(), args.rounds) for name in args.benches}
    print(
        json.dumps(
            {
                "target": f"each key figure within {TOLERANCE:.0%} of the base",
                "rounds": args.rounds,
                "benches": result,
            },
            indent=2,
        )
    )
    return 0 if all(r["meets_target"] for r in result.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
