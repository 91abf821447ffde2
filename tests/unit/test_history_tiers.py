"""The history tiers (issue 16's tier test): a week of samples written as the clock moves
rolls up exactly, reads pick the tier by step and start, each tier forgets what is past
its span once the clock moves on, and the file stays within `disk_bound`.

A real SQLite file in tmp_path; the clock is injected, so a week takes seconds.
"""

from __future__ import annotations

import asyncio
import math
import shutil
import sqlite3
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from support.clock import T0, FakeClock

from devmentor_monitor.history.model import (
    DAY,
    HOUR,
    MINUTE,
    Point,
    Sample,
    Tier,
    host_series,
    service_series,
    tier_for,
)
from devmentor_monitor.history.sqlite import SqliteSeries, disk_bound

RETENTION = 10 * DAY  # retention.metrics: short enough to see the hour tier expire
START = T0 - T0 % HOUR  # the week starts on an hour boundary
END = START + 7 * DAY
# name -> interval; values vary (a wave, outages, a sawtooth) and some samples are missing
SERIES = {
    host_series("cpu"): 5.0,
    service_series("auth", "up"): 10.0,
    service_series("auth", "latency_seconds"): 10.0,
    host_series("disk:/"): 10.0,
}


def value(name: str, k: int) -> float | None:
    """The k-th sample of a series (None: the check did not report one)."""
    if name == host_series("cpu"):
        return 50 + 40 * math.sin(k / 37) + (k * 7919 % 13) / 10
    if name == service_series("auth", "up"):
        return 0.0 if k % 1000 < 30 else 1.0  # a 5-minute outage every ~2.8 h
    if name == service_series("auth", "latency_seconds"):
        return None if k % 97 == 0 else 0.02 + (k % 50) / 1000 + (k % 7) * 0.013
    return 40 + (k % 8640) / 8640 * 20  # disk fills over each day


def week() -> dict[str, list[tuple[float, float]]]:
    out: dict[str, list[tuple[float, float]]] = {}
    for name, interval in SERIES.items():
        out[name] = [
            (START + k * interval, v)
            for k in range(int(7 * DAY / interval))
            if (v := value(name, k)) is not None
        ]
    return out


def buckets(samples: list[tuple[float, float]], width: float) -> dict[float, Point]:
    """What a rollup of ``width`` must hold: min, mean, max and count per bucket."""
    groups: dict[float, list[float]] = defaultdict(list)
    for ts, v in samples:
        groups[ts - ts % width].append(v)
    return {t: Point(t, min(vs), sum(vs) / len(vs), max(vs), len(vs)) for t, vs in groups.items()}


def same(got: list[Point], want: dict[float, Point]) -> None:
    assert [p.ts for p in got] == sorted(want)
    for p in got:
        w = want[p.ts]
        assert (p.min, p.max, p.count) == (w.min, w.max, w.count), p
        assert p.avg == pytest.approx(w.avg, rel=1e-12, abs=1e-12), p


def rows(path: Path, table: str, column: str) -> tuple[int, int | None]:
    with sqlite3.connect(path) as db:
        count, oldest = db.execute(f"SELECT count(*), min({column}) FROM {table}").fetchone()
    return count, oldest


async def live_through_the_week(
    path: Path, make: Callable[[FakeClock], SqliteSeries] | None = None
) -> tuple[int, dict[str, int]]:
    """A store that lived through the week: each hour's samples written at the end of
    that hour, as the intake would, with retention running as the clock moves. Returns
    the file's size (with its WAL) at the end, and the store's counters. ``make``: another
    backend than history.db at ``path``."""
    clock = FakeClock(START)
    store = (
        make(clock)
        if make is not None
        else SqliteSeries(path, RETENTION, clock=clock, batch_interval=0.01)
    )
    await asyncio.to_thread(store.open)
    by_hour: dict[int, list[Sample]] = defaultdict(list)
    for name, samples in week().items():
        for ts, v in samples:
            by_hour[int((ts - START) // HOUR)].append(Sample(name, ts, v))
    for hour in range(7 * 24):
        clock.now = START + (hour + 1) * HOUR
        store.write(by_hour[hour])
        await asyncio.wrap_future(store.enforce_retention())
    size = store.file_bytes()
    counts = {k: getattr(store, k) for k in ("written", "duplicates", "refused", "failures")}
    await store.close()
    return size, counts


@pytest.fixture(scope="module")
def week_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, dict[str, int]]:
    """Written once for the module (a week is ~300,000 samples); each test gets a copy."""
    path = tmp_path_factory.mktemp("week") / "history.db"
    size, counts = asyncio.run(live_through_the_week(path))
    return path, size, counts


@pytest.fixture(scope="module")
def pg_week(postgres_server: Any) -> tuple[str, dict[str, int]]:
    """The same week lived on the shared history (PostgreSQL), once for the module."""
    from devmentor_monitor.history.postgres import PgSeries
    from devmentor_monitor.storage.postgres import PgDatabase

    url = postgres_server.database()
    db = PgDatabase(url)
    db.open()
    db.close()
    _, counts = asyncio.run(
        live_through_the_week(
            Path(), lambda clock: PgSeries(url, RETENTION, clock=clock, batch_interval=0.01)
        )
    )
    return url, counts


@pytest.fixture(params=["sqlite", "postgres"])
async def week_store(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    week_file: tuple[Path, int, dict[str, int]],
    pg_week: tuple[str, dict[str, int]],
) -> AsyncIterator[tuple[SqliteSeries, FakeClock, dict[str, int]]]:
    """The week's store on each backend, opened again at the week's end; its counters."""
    clock = FakeClock(END)
    if request.param == "postgres":
        from devmentor_monitor.history.postgres import PgSeries

        url, counts = pg_week
        store: SqliteSeries = PgSeries(url, RETENTION, clock=clock, batch_interval=0.01)
    else:
        path, _, counts = week_file
        shutil.copy(path, tmp_path / "history.db")
        store = SqliteSeries(tmp_path / "history.db", RETENTION, clock=clock, batch_interval=0.01)
    await asyncio.to_thread(store.open)
    yield store, clock, counts
    await store.close()


@pytest.fixture
def data() -> dict[str, list[tuple[float, float]]]:
    return week()


@pytest.fixture
async def filled(
    tmp_path: Path, week_file: tuple[Path, int, dict[str, int]]
) -> AsyncIterator[tuple[SqliteSeries, FakeClock]]:
    """The week's store, opened again at the week's end."""
    shutil.copy(week_file[0], tmp_path / "history.db")
    clock = FakeClock(END)
    store = SqliteSeries(tmp_path / "history.db", RETENTION, clock=clock, batch_interval=0.01)
    await asyncio.to_thread(store.open)
    yield store, clock
    await store.close()


async def test_a_week_rolls_up_exactly(
    week_store: tuple[SqliteSeries, FakeClock, dict[str, int]],
    data: dict[str, list[tuple[float, float]]],
) -> None:
    store, _, counts = week_store
    written = sum(len(s) for s in data.values())
    assert counts == {"written": written, "duplicates": 0, "refused": 0, "failures": 0}
    for name, samples in data.items():
        # Every minute of the week (the minute tier holds 7 d) and every hour.
        minutes = await store.query(name, START, END, MINUTE)
        same(minutes, buckets(samples, MINUTE))
        hours = await store.query(name, START, END, HOUR)
        same(hours, buckets(samples, HOUR))
        # The last day, as stored raw, folded by minute: the same as the minute tier.
        raw = await store.query(name, END - DAY + MINUTE, END, 1)
        assert all(p.count == 1 for p in raw)
        assert len(raw) == sum(1 for ts, _ in samples if ts >= END - DAY + MINUTE)
        raw_minutes = buckets([(p.ts, p.avg) for p in raw], MINUTE)
        tier_minutes = {p.ts: p for p in minutes if p.ts in raw_minutes}
        assert tier_minutes.keys() == raw_minutes.keys()
        same(list(tier_minutes.values()), raw_minutes)


async def test_query_picks_the_tier_by_step_and_start(
    week_store: tuple[SqliteSeries, FakeClock, dict[str, int]],
) -> None:
    store, clock, _ = week_store
    now, cpu = clock.now, host_series("cpu")  # cpu: every 5 s
    assert tier_for(10, now - HOUR, now, RETENTION) is Tier.RAW
    assert tier_for(10, now - 2 * DAY, now, RETENTION) is Tier.MINUTE
    assert tier_for(60, now - 6 * DAY, now, RETENTION) is Tier.MINUTE
    assert tier_for(60, now - 8 * DAY, now, RETENTION) is Tier.HOUR
    assert tier_for(HOUR, now - HOUR, now, RETENTION) is Tier.HOUR
    # Under a minute over the last day: raw samples, two per 10 s step.
    raw = await store.query(cpu, now - HOUR, now, 10)
    assert {p.count for p in raw} == {2}
    assert len(raw) == 360
    # Over two days at 10 s: the raw tier does not reach back, minutes answer.
    two_days = await store.query(cpu, now - 2 * DAY, now, 10)
    assert {p.count for p in two_days} == {12}
    assert two_days[1].ts - two_days[0].ts == MINUTE
    # Over a week at a minute: the start is past the minute tier's span, hours answer.
    week = await store.query(cpu, now - 7 * DAY - 1, now, MINUTE)
    assert {p.count for p in week} == {720}
    assert len(week) == 7 * 24
    # A step of several buckets folds whole buckets: 5 minutes of minute rollups.
    five = await store.query(cpu, now - HOUR, now, 5 * MINUTE)
    assert {p.count for p in five} == {60}
    assert len(five) == 12


async def test_each_tier_forgets_past_its_span(
    filled: tuple[SqliteSeries, FakeClock], tmp_path: Path
) -> None:
    store, clock = filled
    path = tmp_path / "history.db"
    # While the week was written, raw kept one day and nothing older (retention runs
    # with the writer; a pass may lag one minute).
    _count, oldest = rows(path, "raw", "ts")
    assert oldest is not None
    assert oldest >= (END - DAY - MINUTE) * 1000
    hours_before, _ = rows(path, "h1", "t")
    assert hours_before == 7 * 24 * len(SERIES)

    clock.advance(DAY + 2 * MINUTE)
    await asyncio.wrap_future(store.enforce_retention())
    assert rows(path, "raw", "ts")[0] == 0
    assert await store.query(host_series("cpu"), clock.now - HOUR, clock.now, 10) == []
    m1, oldest_minute = rows(path, "m1", "t")
    assert oldest_minute is not None
    assert oldest_minute >= clock.now - 7 * DAY
    assert 0 < m1 < 7 * 24 * 60 * len(SERIES)

    clock.advance(6 * DAY - 2 * MINUTE)  # 7 d after the week's end
    await asyncio.wrap_future(store.enforce_retention())
    assert rows(path, "m1", "t")[0] == 0
    h1, oldest_hour = rows(path, "h1", "t")  # retention.metrics: 10 d
    assert oldest_hour is not None
    assert oldest_hour >= clock.now - RETENTION
    assert h1 == len(SERIES) * (7 * 24 - 4 * 24)  # the week's first 4 days gone
    hours = await store.query(host_series("cpu"), START, clock.now, HOUR)
    assert hours[0].ts == START + 4 * DAY
    assert len(hours) == 3 * 24

    clock.advance(3 * DAY)
    await asyncio.wrap_future(store.enforce_retention())
    assert rows(path, "h1", "t")[0] == 0
    assert await store.names() == []  # nothing left in any tier: the names go too


async def test_samples_too_old_for_a_tier_never_enter_it(
    filled: tuple[SqliteSeries, FakeClock], tmp_path: Path
) -> None:
    store, clock = filled
    now, name = clock.now, "custom:backfill"
    # A retention pass first, so the next runs a minute later: what the tiers hold below
    # is what the write let in, not what a pass removed after it.
    await asyncio.wrap_future(store.enforce_retention())
    store.write(
        [
            Sample(name, now - 2 * DAY, 5.0),  # minute and hour tiers, not raw
            Sample(name, now - 8 * DAY, 6.0),  # the hour tier only
            Sample(name, now - 11 * DAY, 7.0),  # past every tier: refused
        ]
    )
    await store.flush()
    assert await store.last(name) is None  # nothing raw
    with sqlite3.connect(tmp_path / "history.db") as db:
        sid = db.execute("SELECT id FROM series WHERE name = ?", (name,)).fetchone()[0]
        m1 = db.execute("SELECT t, sum FROM m1 WHERE series = ?", (sid,)).fetchall()
        h1 = db.execute("SELECT t, sum FROM h1 WHERE series = ? ORDER BY t", (sid,)).fetchall()
    assert m1 == [(int(now - 2 * DAY), 5.0)]
    assert h1 == [(int(now - 8 * DAY), 6.0), (int(now - 2 * DAY), 5.0)]
    assert store.refused == 1


def test_the_file_stays_within_the_computed_bound(
    week_file: tuple[Path, int, dict[str, int]],
) -> None:
    """At the week's end (raw and minute tiers full), the file and its WAL as the running
    store left them; the bound is the one the README and bench/history_write.py quote."""
    _, size, _ = week_file
    bound = disk_bound(SERIES.values(), RETENTION)
    assert 0 < size <= bound, (size, bound)
