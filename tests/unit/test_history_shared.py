"""Issue 20: one history for the fleet. A result heard from another instance (SharedChecks)
shows in the live store but is not written again (its runner wrote it); a service's
history written by one instance reads the same from another; each instance's host
series stay its own. Real SQLite files and a real PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from support.clock import T0, FakeClock

from devmentor_monitor.config.schema import parse_text
from devmentor_monitor.history.model import DAY, Sample, host_series, service_series
from devmentor_monitor.history.postgres import PgSeries
from devmentor_monitor.history.sqlite import SqliteSeries
from devmentor_monitor.intake import StoreIntake
from devmentor_monitor.model import CheckResult
from devmentor_monitor.observations import SharedChecks
from devmentor_monitor.storage.postgres import PgDatabase
from devmentor_monitor.store import Store

CONFIG = """
services:
  - name: api
    url: http://127.0.0.1:1/health
  - name: web
    url: http://127.0.0.1:2/health
"""


async def test_a_shared_result_updates_the_store_and_is_not_written_again(
    tmp_path: Path,
) -> None:
    clock = FakeClock(T0)
    series = SqliteSeries(tmp_path / "history.db", 30 * DAY, clock=clock, batch_interval=0.01)
    await asyncio.to_thread(series.open)
    try:
        store = Store(parse_text(CONFIG), clock=clock)
        intake = StoreIntake(store, clock=clock, history=series)
        intake.observe(CheckResult("api", T0 - 5, ok=True, latency=0.01))  # run here
        intake.observe(
            SharedChecks([CheckResult("web", T0 - 4, ok=False, latency=None, error="500")])
        )
        await series.flush()
        assert store.service("web").checks_total == 1  # the live store has it
        assert store.service("web").status.value == "down"
        assert await series.names("service:web:") == []  # the history: its runner's
        assert await series.names("service:api:") == [
            service_series("api", f) for f in ("latency_seconds", "ok", "up")
        ]
    finally:
        await series.close()


@pytest.fixture
async def two(pg_url: str) -> AsyncIterator[tuple[PgSeries, PgSeries]]:
    """Two instances' histories on one database."""
    db = PgDatabase(pg_url)
    db.open()
    db.close()
    clock = FakeClock(T0)
    a = PgSeries(pg_url, 30 * DAY, instance="a", clock=clock, batch_interval=0.01)
    b = PgSeries(pg_url, 30 * DAY, instance="b", clock=clock, batch_interval=0.01)
    for s in (a, b):
        await asyncio.to_thread(s.open)
    yield a, b
    for s in (a, b):
        await s.close()


async def test_one_instance_writes_a_service_the_other_reads_it_host_series_stay_apart(
    two: tuple[PgSeries, PgSeries],
) -> None:
    a, b = two
    up = service_series("api", "up")
    a.write([Sample(up, T0 - 20, 1.0), Sample(up, T0 - 10, 0.0)])
    a.write([Sample(host_series("cpu"), T0 - 10, 11.0)])
    b.write([Sample(host_series("cpu"), T0 - 10, 22.0)])
    await asyncio.gather(a.flush(), b.flush())

    for s in (a, b):  # the same service history from either
        assert [(p.ts, p.avg) for p in await s.query(up, T0 - 60, T0, 0)] == [
            (T0 - 20, 1.0),
            (T0 - 10, 0.0),
        ]
    # Each its own host's CPU under the usual name, the other's under its instance.
    assert await a.samples(host_series("cpu"), T0 - 60, T0) == ([T0 - 10], [11.0])
    assert await b.samples(host_series("cpu"), T0 - 60, T0) == ([T0 - 10], [22.0])
    assert await a.names("host:") == ["host:cpu"]
    assert "host@b:cpu" in await a.names()
    assert await a.samples("host@b:cpu", T0 - 60, T0) == ([T0 - 10], [22.0])
    assert [s.series for s in await b.latest("host:", 0)] == ["host:cpu"]


async def test_a_scrape_is_written_by_the_instance_whose_share_holds_the_check(
    tmp_path: Path,
) -> None:
    """Every instance scrapes every service's metrics; only one writes them."""
    from devmentor_monitor.observations import Scraped
    from devmentor_monitor.scrape.model import ScrapedSample

    clock = FakeClock(T0)
    series = SqliteSeries(tmp_path / "history.db", 30 * DAY, clock=clock, batch_interval=0.01)
    await asyncio.to_thread(series.open)
    try:
        intake = StoreIntake(Store(parse_text(CONFIG), clock=clock), clock=clock, history=series)
        intake.scrapes_written_here = {"api"}.__contains__  # api's check is in this share
        for service in ("api", "web"):
            name = f"scrape:{service}:queue_depth"
            intake.observe(
                Scraped(service, T0 - 5, [ScrapedSample(name, "queue_depth", {}, 3.0, False)])
            )
        await series.flush()
        assert await series.names("scrape:") == ["scrape:api:queue_depth"]
    finally:
        await series.close()


async def test_a_lost_connection_is_said_the_samples_kept_and_written_on_a_new_one(
    two: tuple[PgSeries, PgSeries], pg_url: str
) -> None:
    """The server drops the history's connections (a restart, a failover): the failed
    batch is reported as the "history" source's state, held, and stored once a new
    connection works; reads connect again too."""
    import psycopg

    from devmentor_monitor.history.model import HistoryError

    a, _ = two
    told: list[str | None] = []
    a.on_state = told.append
    up = service_series("api", "up")
    a.write([Sample(up, T0 - 10, 1.0)])
    await a.flush()
    assert len(await a.query(up, T0 - 60, T0, 0)) == 1  # the reader's connection is open
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'devmentor-history'"
        )
    a.write([Sample(up, T0 - 5, 0.0)])
    with pytest.raises(HistoryError, match="terminating connection"):
        await a.flush()
    assert told[0] is not None
    assert told[0].startswith("cannot write the history at 127.0.0.1:")
    await a.flush()  # the next batch, on a new connection, stores the held sample
    assert told[-1] is None
    assert [p.avg for p in await a.query(up, T0 - 60, T0, 0)] == [1.0, 0.0]
    assert a.dropped == 0
