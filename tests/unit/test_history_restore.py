"""The store's figures rebuilt from the history on disk: a store that starts on a history
written by another (a restart) shows the uptime, budget, latency and host series the first
one showed."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.clock import T0, FakeClock

from devmentor_monitor.config.schema import parse_text
from devmentor_monitor.history.model import Sample, host_series
from devmentor_monitor.history.sqlite import SqliteSeries
from devmentor_monitor.intake import StoreIntake
from devmentor_monitor.model import CheckResult
from devmentor_monitor.store import Store

CONFIG = """
services:
  - name: api
    url: http://127.0.0.1:1/health
    failure_threshold: 1
    slo: {uptime: 99.0, response_time: 200ms, error_rate: 5}
  - name: quiet
    url: http://127.0.0.1:2/health
"""
DAY = 86400.0


def _outage(ts: float) -> bool:
    """12 days of checks: 3 h down 11 days ago (in 30 d, not in 7 d), 40 min down 3 days
    ago (in 7 d, not in 24 h), every 4th check failing 20-30 min ago (in 1 h)."""
    ago = T0 + 12 * DAY - ts
    return (
        11 * DAY - 3 * 3600 < ago <= 11 * DAY
        or 3 * DAY - 2400 < ago <= 3 * DAY
        or (1200 < ago <= 1800 and int(ts) % 240 == 0)
    )


def _figures(store: Store) -> tuple:
    s = store.service("api")
    return (
        s.uptime_1h,
        s.uptime_24h,
        s.uptime_7d,
        s.uptime_30d,
        s.error_rate_1h,
        s.error_budget_remaining,
        s.slo_compliant,
        s.latency_p50,
        s.latency_p95,
        s.latency_p99,
    )


@pytest.fixture(params=["sqlite", "postgres"])
async def history(request: pytest.FixtureRequest, tmp_path: Path):
    """history.db, or the shared history on a real PostgreSQL (a restart of any instance
    of a fleet restores from it)."""
    clock = FakeClock(T0)
    if request.param == "postgres":
        from devmentor_monitor.history.postgres import PgSeries
        from devmentor_monitor.storage.postgres import PgDatabase

        url = request.getfixturevalue("pg_url")
        db = PgDatabase(url)
        db.open()  # the migrations, the history's tables among them
        db.close()
        series: SqliteSeries = PgSeries(url, 30 * DAY, clock=clock, batch_interval=0.01)
    else:
        series = SqliteSeries(tmp_path / "history.db", 30 * DAY, clock=clock, batch_interval=0.01)
    series.open()
    yield series, clock
    await series.close()


async def test_a_store_on_the_same_history_shows_the_same_figures(history):
    series, clock = history
    cfg = parse_text(CONFIG)
    before = Store(cfg, clock=clock)
    intake = StoreIntake(before, clock=clock, history=series)
    # 12 days of a check a minute, written as the monitor writes them (through the intake).
    ts = T0
    while ts < T0 + 12 * DAY:
        clock.now = ts
        failed = _outage(ts)
        latency = None if failed else 0.010 + (int(ts) % 600) / 60_000
        intake.observe(CheckResult("api", ts, ok=not failed, latency=latency))
        if int(ts) % 300 == 0:  # and a host sample every 5 min
            series.write([Sample(host_series("cpu"), ts, float(int(ts) % 100))])
        ts += 60.0
    await series.flush()
    clock.now = ts - 30.0
    before.SUMMARY_TTL = 0
    expected = _figures(before)
    # The scenario shows in every window, each differently: 1h < 30d < 7d < 24h < 100 %.
    assert expected[0] < expected[3] < expected[2] < expected[1] < 100.0
    assert expected[5] < 1.0  # budget spent

    after = Store(cfg, clock=clock)  # the restart: an empty store, the same history
    after.SUMMARY_TTL = 0
    assert after.service("api").uptime_7d is None
    took = await StoreIntake(after, clock=clock, history=series).restore_history()
    assert took < 5.0

    assert _figures(after) == pytest.approx(expected)
    assert after.first_check_at("api") == T0  # the oldest check: burn-rate coverage
    assert after.first_check_at("quiet") is None  # never checked: nothing invented
    assert after.service("quiet").uptime_30d is None
    # The latency ring holds the last hour (rings.LIVE_SPAN), as the running store's
    # does; the 24 h chart reads the history.
    restored = list(after.latency_history("api"))
    assert restored == [p for p in before.latency_history("api") if p[0] >= clock.now - 3600]
    assert 0 <= restored[0][0] - (clock.now - 3600) < 60  # a check a minute
    cpu = after.series("cpu")
    assert cpu is not None
    assert len(cpu) == 12  # the last hour of 5-minute samples (rings.LIVE_SPAN)
    assert cpu.last() == (T0 + 12 * DAY - 300, float(int(T0 + 12 * DAY - 300) % 100))

    # Checks after the restart count on top of the restored buckets, the current hour's too.
    for store in (before, after):
        for i in range(1, 4):
            store.record_check(CheckResult("api", ts + i * 10, ok=i != 2, latency=0.02))
    clock.now = ts + 40
    assert _figures(after) == pytest.approx(_figures(before))


async def test_an_empty_history_restores_nothing(history):
    series, clock = history
    store = Store(parse_text(CONFIG), clock=clock)
    await StoreIntake(store, clock=clock, history=series).restore_history()
    assert store.service("api").uptime_7d is None
    assert store.first_check_at("api") is None
    assert store.series_names() == []
