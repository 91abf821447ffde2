"""How long the start-up restore of pushed metrics (Pusher.restore) takes when history
holds many series that expired.

history.db gets EXPIRED custom series last pushed 2 h ago and LIVE ones pushed within the
last minute, each with 30 samples, with custom_metrics.expire at 1 h; then a fresh Store
is refilled by Pusher.restore, as Monitor.start does before the server listens. Beside
it, the same answer read the way it was before (a name list, then one read per name), on
the same file in the same run. Target: under 250 ms (it delays the exporter's start);
the parser's import (from_series reads names with prometheus_client's, imported on first
use) is timed apart: a start pays it once whatever the number of series.
Usage: bench/custom_restore.py [EXPIRED [LIVE]]. Prints JSON.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

from _common import emit

from devmentor_monitor.config.schema import parse_text
from devmentor_monitor.custom.pusher import CUSTOM_PREFIX, Pusher
from devmentor_monitor.history.model import Sample, custom_series
from devmentor_monitor.history.sqlite import SqliteSeries
from devmentor_monitor.intake import StoreIntake
from devmentor_monitor.store import Store

EXPIRED = int(sys.argv[1]) if len(sys.argv) > 1 else 30_000
LIVE = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
NOW = 1_800_000_000.0
TARGET_S = 0.25


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        history = SqliteSeries(Path(tmp) / "history.db", 30 * 86400.0, clock=lambda: NOW)
        history.open()
        for i in range(EXPIRED + LIVE):
            last = NOW - 7200 if i < EXPIRED else NOW - 30
            name = custom_series("orders", {"shop": f"s{i}"})
            history.write([Sample(name, last - 60 * k, float(k)) for k in range(30)])
        await history.flush()
        config = parse_text(f"custom_metrics: {{expire: 1h, max_series: {LIVE}}}\nservices: []\n")
        store = Store(config, clock=lambda: NOW)
        pusher = Pusher(store, StoreIntake(store, clock=lambda: NOW), config.custom_metrics)
        pusher.clock = lambda: NOW

        started = time.perf_counter()
        import prometheus_client.parser  # noqa: F401 (timed: a start pays it once)

        parser_import = time.perf_counter() - started
        started = time.perf_counter()
        restored = await pusher.restore(history)
        took = time.perf_counter() - started

        started = time.perf_counter()
        before = 0
        for name in await history.names(CUSTOM_PREFIX):  # the read per name it replaced
            last = await history.last(name)
            before += last is not None and last.ts >= NOW - 3600
        per_name = time.perf_counter() - started
        await history.close()
    emit(
        {
            "bench": "custom_restore",
            "expired_series": EXPIRED,
            "live_series": LIVE,
            "restored": restored,
            "restore_s": round(took, 4),
            "target_s": TARGET_S,
            "met": took < TARGET_S and restored == LIVE,
            "parser_import_s": round(parser_import, 4),
            "read_per_name_s": round(per_name, 4),
            "read_per_name_found": before,
        }
    )


if __name__ == "__main__":
    asyncio.run(main())
