"""Issue 20: the fleet's one history, in PostgreSQL. Two `--serve` instances share 6
services through a real Redis, checked every second on a counting stub: each check is
one row in the shared history, whichever instance ran it, and both instances answer a
service's long window (hours-old latencies seeded before they started, the last
minute's checks by step) the same."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from support.counting import CountingStub
from support.redis_server import RedisServer

from devmentor_monitor.history.model import HOUR, Sample, service_series
from devmentor_monitor.history.postgres import PgSeries
from devmentor_monitor.storage.postgres import PgDatabase

pytestmark = pytest.mark.integration

N = 6


@pytest.fixture
def stub() -> Iterator[CountingStub]:
    s = CountingStub(N)
    yield s
    s.close()


async def seed(url: str, samples: list[Sample]) -> None:
    series = PgSeries(url, 30 * 86400.0, batch_interval=0.01)
    series.open()
    series.write(samples)
    await series.flush()
    await series.close()


def test_each_check_is_one_row_and_both_instances_answer_the_same_window(
    stub: CountingStub,
    redis_server: RedisServer,
    pg_url: str,
    write_config: Any,
    serve: Any,
    tmp_path: Path,
    wait: Any,
) -> None:
    db = PgDatabase(pg_url)
    db.open()  # the schema, as the first instance would make it
    db.close()
    now = time.time()
    old = [(now - 3 * HOUR + 60 * i, 0.001 * (i + 1)) for i in range(60)]  # before any ring
    latency = service_series("svc-1", "latency_seconds")
    asyncio.run(seed(pg_url, [Sample(latency, t, v) for t, v in old]))

    services = [
        {"name": f"svc-{i}", "url": stub.url(i), "interval": "1s", "timeout": "0.8s"}
        for i in range(N)
    ]
    cfg = write_config(
        services,
        redis={"url": redis_server.url},
        storage={"url": pg_url},
        cluster={"enabled": True, "heartbeat": "0.2s", "lease": "1.5s"},
    )
    a, b = (
        serve("--config", str(cfg), env={"XDG_STATE_HOME": str(tmp_path / f"state-{k}")})
        for k in range(2)
    )

    def split() -> bool:
        views = [p.get("/api/fleet").json() for p in (a, b)]
        return all(
            len(v["members"]) == 2 and sum(m["checks"] for m in v["members"]) == N for v in views
        )

    wait(split, 15, what="two members sharing the checks")
    started = time.time()
    wait(
        lambda: all(p.get("/api/services/svc-1").json()["checks_total"] >= 4 for p in (a, b)),
        15,
        what="a few checks of svc-1 on both",
    )

    # A day's latencies: the seeded hours from the shared history, the same from both.
    day = [p.get("/api/services/svc-1?window=24h").json()["latency_history_ms"] for p in (a, b)]
    for answer in day:
        assert [(round(t, 3), ms) for t, ms in answer if t < now - HOUR] == [
            (round(t, 3), round(v * 1000, 2)) for t, v in old
        ]
    # The last minute by step, from the history alone: every check of every service,
    # whoever ran it, the same through both (once their batches are in).
    until = time.time() - 1
    for i in range(N):
        path = f"/api/services/svc-{i}/history?since={started - 30:.0f}&until={until:.0f}&step=5"

        def same(path: str = path) -> bool:
            ra, rb = (p.get(path).json() for p in (a, b))
            return bool(ra["points"]) and (ra["points"], ra["summary"]) == (
                rb["points"],
                rb["summary"],
            )

        wait(same, 5, what=f"the same history of svc-{i} from both")

    a.close()
    b.close()  # both stopped: every batch stored
    with psycopg.connect(pg_url) as conn:
        rows = dict(
            conn.execute(
                "SELECT s.name, count(*) FROM history_raw r JOIN history_series s "
                "ON s.id = r.series WHERE s.name LIKE 'service:%%:up' GROUP BY s.name"
            ).fetchall()
        )
    # Each check asked at the stub is one row, never two; only a check in flight when its
    # instance stopped (one per instance) has none.
    for i in range(N):
        hits = len(stub.hits[stub.path(i)])
        assert hits - 2 <= rows[service_series(f"svc-{i}", "up")] <= hits, (i, hits, rows)
