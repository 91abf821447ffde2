"""Events lost around poison messages: ROUNDS x 200 valid events on Redis pub/sub, with a
20 KB array nested 10,000 deep in the middle of each round, one `--serve` and one
redis-server throughout. Publishing goes on while the subscriber is away, as a real
publisher would, so every reconnect a poison message forces shows up as loss.

Before the bounded decoder (issue 12, finding 2) one poison message dropped the
connection: 1,300 of 2,000 events lost over ten rounds. Target: none lost, every poison
message counted as rejected (`too_deep`).

    .venv/bin/python bench/poison_events.py [--parser python|hiredis]
    cd /tmp && PYTHONPATH=<old tree> /path/.venv/bin/python /path/bench/poison_events.py
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import yaml
from _common import emit, host_info

TESTS = Path(__file__).resolve().parent.parent / "tests"
sys.path[:0] = [str(TESTS), str(TESTS / "integration")]

from support import processes  # noqa: E402
from support.processes import FleetThread, ServeProc, fast_services  # noqa: E402
from support.redis_server import RedisServer  # noqa: E402
from support.waiting import wait_until  # noqa: E402
from test_event_loss import events_api, lost_around_poison  # noqa: E402

import devmentor_monitor  # noqa: E402

ROUNDS = 10
# `--serve` runs as `python -m devmentor_monitor` from this folder: the tree whose package
# this process imported (so PYTHONPATH=<old tree> measures the old code end to end).
processes.REPO = Path(devmentor_monitor.__file__).resolve().parent.parent
TARGETS = {"lost_total_max": 0, "rejected_too_deep": ROUNDS}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--parser", default="auto", choices=("auto", "python", "hiredis"))
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-poison-"))
    redis = RedisServer(tmp / "redis").start()
    fleet = FleetThread(["auth", "memory", "project"])
    cfg = tmp / "services.yaml"
    cfg.write_text(
        yaml.safe_dump({"events": {"parser": args.parser}, "services": fast_services(fleet.urls)})
    )
    mon = ServeProc(
        ["-c", str(cfg), "--data-dir", str(tmp / "data")],
        tmp / "serve.log",
        {"REDIS_URL": redis.url},
    )
    try:
        mon.wait_ready()
        mon.redis = redis  # type: ignore[attr-defined]
        lost = [
            lost_around_poison(mon, wait_until, f"poison.r{k}", connected_first=k == 0)
            for k in range(ROUNDS)
        ]
        rejected = events_api(mon)["rejected"]
    finally:
        mon.close()
        redis.stop()
        fleet.close()
    result = {
        "host": host_info(),
        "package": str(Path(devmentor_monitor.__file__).parent),
        "parser": args.parser,
        "lost_per_round": lost,
        "lost_total": sum(lost),
        "of": 200 * ROUNDS,
        "rejected": rejected,
        "targets": TARGETS,
    }
    result["meets_targets"] = (
        sum(lost) <= TARGETS["lost_total_max"]
        and rejected.get("too_deep") == TARGETS["rejected_too_deep"]
    )
    emit(result)
    return 0 if result["meets_targets"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
