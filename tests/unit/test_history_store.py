"""The history store's promises beyond the tiers: a sample counted once however often it
is written, bad values kept out without losing the good ones, nothing acknowledged lost
at close, and a store whose file goes away (or cannot be written) that says so, keeps
the samples, and recovers by itself. Real SQLite files in tmp_path."""

from __future__ import annotations

import asyncio
import logging
import math
import shutil
import sqlite3
import threading
import tracemalloc
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from support.clock import T0, FakeClock
from support.waiting import eventually

from devmentor_monitor.history import sqlite as history_sqlite
from devmentor_monitor.history.model import DAY, HOUR, MINUTE, HistoryError, Sample
from devmentor_monitor.history.sqlite import SqliteSeries

START = T0 - T0 % HOUR


def make(request: pytest.FixtureRequest, tmp_path: Path, retention: float, clock: Any) -> Any:
    """A history store on SQLite (history.db in tmp_path), or with the "postgres"
    param on a fresh database of the session's PostgreSQL, migrated as the store does."""
    if getattr(request, "param", "sqlite") == "postgres":
        from devmentor_monitor.history.postgres import PgSeries
        from devmentor_monitor.storage.postgres import PgDatabase

        url = request.getfixturevalue("pg_url")
        db = PgDatabase(url)
        db.open()
        db.close()
        return PgSeries(url, retention, clock=clock, batch_interval=0.01)
    return SqliteSeries(tmp_path / "history.db", retention, clock=clock, batch_interval=0.01)


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SqliteSeries]:
    """Both backends: the same promises."""
    s = make(request, tmp_path, 30 * DAY, FakeClock(START + HOUR))
    await asyncio.to_thread(s.open)
    yield s
    await s.close()


@pytest.fixture
async def file_store(tmp_path: Path) -> AsyncIterator[SqliteSeries]:
    s = SqliteSeries(
        tmp_path / "history.db", 30 * DAY, clock=FakeClock(START + HOUR), batch_interval=0.01
    )
    await asyncio.to_thread(s.open)
    yield s
    await s.close()


async def test_a_sample_written_twice_counts_once(store: SqliteSeries) -> None:
    name = "service:auth:latency_seconds"
    store.write([Sample(name, START, 0.1), Sample(name, START + 10, 0.3)])
    await store.flush()
    # A retried write, and a repeat inside one batch: the first value stays, in every tier.
    store.write([Sample(name, START, 9.0), Sample(name, START + 20, 0.2)])
    store.write([Sample(name, START + 20, 7.0)])
    await store.flush()
    raw = await store.query(name, START, START + MINUTE, 1)
    assert [(p.ts, p.avg) for p in raw] == [(START, 0.1), (START + 10, 0.3), (START + 20, 0.2)]
    for step in (MINUTE, HOUR):
        (point,) = await store.query(name, START, START + MINUTE, step)
        assert point.count == 3
        assert point.avg == pytest.approx(0.2)
        assert (point.min, point.max) == (0.1, 0.3)
    assert store.duplicates == 2


async def test_bad_values_are_refused_and_the_rest_stored(store: SqliteSeries) -> None:
    name = "scrape:auth:queue_depth"
    store.write(
        [
            Sample(name, START, 1.0),
            Sample(name, START + 10, math.nan),  # a scraped NaN
            Sample(name, START + 20, math.inf),
            Sample(name, START + 30, 2.0),
            Sample(name, START + 2 * HOUR + 10, 3.0),  # over an hour ahead of the clock
        ]
    )
    await store.flush()
    points = await store.query(name, START, START + 3 * HOUR, 1)
    assert [(p.ts, p.avg) for p in points] == [(START, 1.0), (START + 30, 2.0)]
    assert store.refused == 3
    assert store.failures == 0


async def test_close_stores_what_was_written(tmp_path: Path) -> None:
    path, clock = tmp_path / "history.db", FakeClock(START + HOUR)
    first = SqliteSeries(path, 30 * DAY, clock=clock, batch_interval=5.0)
    await asyncio.to_thread(first.open)
    first.write([Sample("host:cpu", START + k * 5, float(k)) for k in range(100)])
    await first.close()  # no flush: close stores it (the writer waits 5 s for more)
    first.write([Sample("host:cpu", START + 600, 1.0)])  # after close: counted, not queued
    await first.flush()  # returns at once
    assert first.dropped == 1

    again = SqliteSeries(path, 30 * DAY, clock=clock)
    await asyncio.to_thread(again.open)
    try:
        (point,) = await again.query("host:cpu", START, START + HOUR, HOUR)
        assert point.count == 100
        assert point.max == 99.0
    finally:
        await again.close()
    assert await again.query("host:cpu", START, START + HOUR, HOUR) == []  # closed: empty


async def test_a_file_removed_under_the_store_is_started_afresh(
    file_store: SqliteSeries, caplog: pytest.LogCaptureFixture
) -> None:
    store = file_store
    store.write([Sample("host:cpu", START, 1.0)])
    await store.flush()
    assert [p.avg for p in await store.query("host:cpu", START, START + 60, 1)] == [1.0]
    for suffix in ("", "-wal", "-shm"):
        store.path.with_name(store.path.name + suffix).unlink(missing_ok=True)
    with caplog.at_level(logging.ERROR, logger="devmentor_monitor.history"):
        store.write([Sample("host:cpu", START + 5, 2.0)])
        await store.flush()
    assert "history file removed or replaced" in caplog.text
    assert store.path.exists()
    # The new file holds what came after; the reader follows it.
    assert [p.avg for p in await store.query("host:cpu", START, START + 60, 1)] == [2.0]
    assert store.failures == 1


async def test_a_failing_write_is_reported_kept_and_retried(file_store: SqliteSeries) -> None:
    store = file_store
    told: list[str | None] = []
    store.on_state = told.append
    store.write([Sample("host:cpu", START, 1.0)])
    await store.flush()
    # The file goes, and something that is not a database takes its place: every write
    # fails until it is moved away.
    store.path.unlink()
    store.path.mkdir()
    store.write([Sample("host:cpu", START + 5, 2.0)])
    with pytest.raises(HistoryError, match=r"history\.db"):
        await store.flush()
    store.write([Sample("host:cpu", START + 10, 3.0)])
    with pytest.raises(HistoryError):
        await store.flush()
    assert store.failures >= 2
    assert len(told) == 1
    assert told[0] is not None
    assert "cannot write history.db" in told[0]

    shutil.rmtree(store.path)
    await store.flush()  # the held samples go into a new file
    assert told[-1] is None
    points = await store.query("host:cpu", START, START + 60, 1)
    assert [p.avg for p in points] == [2.0, 3.0]
    assert store.dropped == 0


@pytest.mark.parametrize("request_", ["sqlite", "postgres"])
async def test_series_no_longer_written_are_forgotten_after_the_hour_tier(
    request: pytest.FixtureRequest, tmp_path: Path, request_: str
) -> None:
    """Custom and scraped series come and go; one that stops is listed (and costs the
    retention pass) only while a tier still holds some of it."""
    clock = FakeClock(START)
    request.param = request_  # type: ignore[attr-defined]
    store = make(request, tmp_path, 10 * DAY, clock)
    await asyncio.to_thread(store.open)
    gone, kept = 'custom:orders{shop="old"}', 'custom:orders{shop="new"}'
    try:
        store.write([Sample(gone, START, 1.0), Sample(kept, START, 1.0)])
        while clock.now < START + 10 * DAY:  # kept: a sample every 12 h
            clock.advance(12 * HOUR)
            store.write([Sample(kept, clock.now, 2.0)])
            await asyncio.wrap_future(store.enforce_retention())
        # Ten days on: the old series' hour is still inside retention (10 d).
        assert await store.names("custom:") == sorted([gone, kept])
        assert [p.count for p in await store.query(gone, START, clock.now, HOUR)] == [1]

        clock.advance(HOUR)  # its hour is past retention: every tier is empty
        await asyncio.wrap_future(store.enforce_retention())
        assert await store.names("custom:") == [kept]
        assert await store.query(gone, START, clock.now, HOUR) == []

        # It comes back in the batch the next pass runs after: the sample is stored
        # first, so the pass keeps the name (and its new row).
        clock.advance(2 * MINUTE)
        store.write([Sample(gone, clock.now - 1, 3.0)])
        await asyncio.wrap_future(store.enforce_retention())
        assert await store.names("custom:") == sorted([gone, kept])
        assert [p.avg for p in await store.query(gone, clock.now - MINUTE, clock.now, 1)] == [3.0]
    finally:
        await store.close()


class StalledDisk(SqliteSeries):
    """A disk that stalls (slow, not failing): a batch's commit waits until let go."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stalled = threading.Event()
        self.go = threading.Event()

    def _commit(self, conn: sqlite3.Connection, batches: list[Sequence[Sample]]) -> None:
        self.stalled.set()
        self.go.wait(timeout=30)
        super()._commit(conn, batches)


async def test_a_stalled_writer_holds_at_most_max_queued_samples(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A scrape hands over thousands of samples in one call: the cap counts samples, so a
    stalled disk costs at most the cap's memory, and the rest is counted as dropped."""
    monkeypatch.setattr(history_sqlite, "MAX_QUEUED", 20_000)
    store = StalledDisk(
        tmp_path / "history.db", 30 * DAY, clock=FakeClock(START + HOUR), batch_interval=0.01
    )
    await asyncio.to_thread(store.open)
    try:
        store.write([Sample("host:cpu", START, 1.0)])
        await eventually(store.stalled.is_set, what="the writer stalled in a commit")
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            with caplog.at_level(logging.INFO, logger="devmentor_monitor.history"):
                for call in range(100):  # 100 scrapes of 1,000 samples: 5 times the cap
                    store.write(
                        [
                            Sample(f'scrape:api:requests{{path="/{k}"}}', START + call, k)
                            for k in range(1000)
                        ]
                    )
            held = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        # 19 calls fit beside the sample in the stalled batch; the other 81 are dropped,
        # and what stays in memory is the cap's worth (~180 B a sample with its own name),
        # not 100,000 samples' (~18 MB).
        assert store.dropped == 81 * 1000
        assert held < 20_000 * 300, held
        assert caplog.text.count("history writer behind: dropping samples") == 1

        store.go.set()
        await store.flush()
        assert store.written == 1 + 19 * 1000
        with caplog.at_level(logging.INFO, logger="devmentor_monitor.history"):
            store.write([Sample("host:cpu", START + 5, 2.0)])  # caught up: queued again
        await store.flush()
        assert "history writes queued again" in caplog.text
        assert store.written == 2 + 19 * 1000
        assert store.dropped == 81 * 1000
    finally:
        store.go.set()
        await store.close()


async def test_a_forgotten_series_id_is_never_given_to_a_new_series(tmp_path: Path) -> None:
    """A read looks a name's id up, then reads its rows: were a forgotten series' id handed
    to a new one in between, the read could return the newcomer's rows under the old name."""
    clock = FakeClock(START)
    store = SqliteSeries(tmp_path / "history.db", 2 * DAY, clock=clock, batch_interval=0.01)
    await asyncio.to_thread(store.open)
    try:
        store.write([Sample("custom:a", START, 1.0), Sample("custom:b", START + 1, 2.0)])
        await store.flush()
        ids = dict(sqlite3.connect(tmp_path / "history.db").execute("SELECT name, id FROM series"))
        clock.advance(8 * DAY)  # both past every tier (the minute tier keeps 7 d): forgotten
        await asyncio.wrap_future(store.enforce_retention())
        assert await store.names("custom:") == []
        store.write([Sample("custom:new", clock.now + 1, 5.0)])
        await store.flush()
        conn = sqlite3.connect(tmp_path / "history.db")
        (new_id,) = conn.execute("SELECT id FROM series WHERE name = 'custom:new'").fetchone()
        assert new_id > max(ids.values())  # the forgotten b's id (the highest) not reused
    finally:
        await store.close()
