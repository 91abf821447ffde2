"""Start-up cost of the config: import of devmentor_monitor.config.schema and the first load of
services.yaml, in fresh processes, this tree against another one, alternating.

Time to first frame matters, so declaring the config once (msgspec Structs, issue 13) had
to be no slower than the dataclasses it replaced. Target: import + first load of this
tree at most the other tree's, medians over ROUNDS pairs.

    git worktree add /tmp/base HEAD~1
    .venv/bin/python bench/config_load.py --base /tmp/base [--rounds 11]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import emit, host_info

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = 11
STEADY_LOADS = 200

# One fresh interpreter: the editable install's finder is dropped so `root` is imported.
ONE = """
import sys, time
root = sys.argv[1]
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
sys.path.insert(0, root)
t0 = time.perf_counter()
import devmentor_monitor.config.schema as c
t1 = time.perf_counter()
assert c.__file__.startswith(root), c.__file__
path = root + "/services.yaml"
c.load_config(path, env={})
t2 = time.perf_counter()
runs = []
for _ in range(int(sys.argv[2])):
    a = time.perf_counter(); c.load_config(path, env={}); runs.append(time.perf_counter() - a)
print((t1 - t0) * 1e3, (t2 - t1) * 1e3, sorted(runs)[len(runs) // 2] * 1e3)
"""


def once(root: Path, pycache: str) -> list[float]:
    env = {"PYTHONPYCACHEPREFIX": pycache, "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", ONE, str(root), str(STEADY_LOADS)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=60,
    ).stdout
    return [float(x) for x in out.split()]


def summary(rows: list[list[float]]) -> dict[str, float]:
    return {
        "import_ms": round(statistics.median(r[0] for r in rows), 2),
        "first_load_ms": round(statistics.median(r[1] for r in rows), 2),
        "import_and_first_load_ms": round(statistics.median(r[0] + r[1] for r in rows), 2),
        "steady_load_ms": round(statistics.median(r[2] for r in rows), 3),
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", type=Path, required=True, help="the other tree (a worktree)")
    ap.add_argument("--rounds", type=int, default=ROUNDS)
    args = ap.parse_args()
    trees = {"base": args.base.resolve(), "head": ROOT}
    rows: dict[str, list[list[float]]] = {"base": [], "head": []}
    with tempfile.TemporaryDirectory(prefix="bench-config-") as pycache:
        for tree in trees.values():
            once(tree, pycache)  # bytecode compiled once, outside the figures
        for _ in range(args.rounds):
            for name, tree in trees.items():
                rows[name].append(once(tree, pycache))
    result = {
        "host": host_info(),
        "rounds": args.rounds,
        **{name: summary(r) for name, r in rows.items()},
    }
    base, head = result["base"], result["head"]
    result["ratio_import_and_first_load"] = round(
        head["import_and_first_load_ms"] / base["import_and_first_load_ms"], 3
    )
    result["target"] = "head import + first load <= base"
    result["meets_target"] = head["import_and_first_load_ms"] <= base["import_and_first_load_ms"]
    emit(result)
    return 0 if result["meets_target"] else 1


if __name__ == "__main__":
    sys.exit(main())
