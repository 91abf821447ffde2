"""Pushed metrics come back at start from one bulk read of history (SeriesStore.latest):
each series' newest raw sample, only for series pushed within custom_metrics.expire."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.clock import T0, FakeClock

from devmentor_monitor.config.schema import parse_text
from devmentor_monitor.custom.pusher import Pusher
from devmentor_monitor.history.model import Sample, custom_series, host_series
from devmentor_monitor.history.sqlite import SqliteSeries
from devmentor_monitor.intake import StoreIntake
from devmentor_monitor.store import Store

EU = custom_series("orders", {"shop": "eu"})
US = custom_series("orders", {"shop": "us"})
OLD = custom_series("signups", {})
EDGE = custom_series("refunds", {})


@pytest.fixture
async def history(tmp_path: Path):
    clock = FakeClock(T0)
    series = SqliteSeries(tmp_path / "history.db", 30 * 86400.0, clock=clock, batch_interval=0.01)
    series.open()
    series.write(
        [
            Sample(EU, T0 - 600, 1.0),
            Sample(EU, T0 - 60, 2.0),  # its newest
            Sample(US, T0 - 30, 7.0),
            Sample(OLD, T0 - 7200, 3.0),  # expired (1 h): history keeps it, start does not
            Sample(OLD, T0 - 7300, 4.0),
            Sample(EDGE, T0 - 3600, 5.0),  # exactly at the cut: still within expire
            Sample(host_series("cpu"), T0 - 10, 50.0),  # not a pushed series
        ]
    )
    await series.flush()
    yield series
    await series.close()


async def test_latest_is_the_newest_sample_of_each_series_since_a_time(history):
    assert await history.latest("custom:", T0 - 3600) == [
        Sample(EU, T0 - 60, 2.0),
        Sample(US, T0 - 30, 7.0),
        Sample(EDGE, T0 - 3600, 5.0),
    ]
    assert await history.latest("custom:", T0 - 8000) == [
        Sample(EU, T0 - 60, 2.0),
        Sample(US, T0 - 30, 7.0),
        Sample(EDGE, T0 - 3600, 5.0),
        Sample(OLD, T0 - 7200, 3.0),  # the newest of it, not the one older still
    ]
    assert await history.latest("custom:", T0) == []
    assert await history.latest("host:", 0) == [Sample(host_series("cpu"), T0 - 10, 50.0)]


async def test_a_start_restores_the_series_pushed_within_expire_newest_first(history):
    config = parse_text("custom_metrics: {expire: 1h, max_series: 2}\nservices: []\n")
    store = Store(config, clock=lambda: T0)
    pusher = Pusher(store, StoreIntake(store, clock=lambda: T0), config.custom_metrics, lambda: T0)
    assert await pusher.restore(history) == 2
    held = store.custom_latest()
    # Within expire: eu, us and the one at the cut; max_series 2 keeps the newest two.
    assert {k: (s.name, s.labels, s.value, s.ts) for k, s in held.items()} == {
        EU: ("orders", (("shop", "eu"),), 2.0, T0 - 60),
        US: ("orders", (("shop", "us"),), 7.0, T0 - 30),
    }
