"""A heartbeat service's uptime counts its judgements (one an interval), not its beats: a
job beating five times an interval that goes silent for ten minutes shows the outage, and
history holds one check an interval and at most one last-beat row an interval."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.clock import T0, FakeClock

from devmentor_monitor.config.schema import parse_text
from devmentor_monitor.health.heartbeat import HeartbeatSource
from devmentor_monitor.history.model import service_series
from devmentor_monitor.history.sqlite import SqliteSeries
from devmentor_monitor.intake import StoreIntake
from devmentor_monitor.store import Store

CONFIG = """
services:
  - name: consumer
    heartbeat: {grace: 30s}
    interval: 10s
"""
SILENT = range(1201, 1800)  # seconds after start without a beat (last at 1200, next at 1800)


@pytest.fixture
async def history(tmp_path: Path):
    clock = FakeClock(T0)
    series = SqliteSeries(tmp_path / "history.db", 30 * 86400.0, clock=clock, batch_interval=0.01)
    series.open()
    yield series, clock
    await series.close()


async def test_beats_faster_than_the_interval_do_not_outvote_an_outage(history):
    series, clock = history
    config = parse_text(CONFIG)
    store = Store(config, clock=clock)
    intake = StoreIntake(store, clock=clock, history=series)
    source = HeartbeatSource(config.services, clock)
    source.start(intake)
    for second in range(3600):  # an hour, a beat every 2 s but for the silence
        clock.now = T0 + second
        source.judge_due(intake)
        if second % 2 == 0 and second not in SILENT:
            assert source.beat("consumer") == clock.now
    # Judgements every 10 s: ok at 10 ... 1230 (123), failed from just after the grace
    # ends (1231) to 1791 (57); ok at 1801 ... 3591 (180). Plus two beats that brought it
    # up: the first (unknown before) and the one ending the outage.
    checks, failed = 123 + 57 + 180 + 2, 57
    s = store.service("consumer")
    assert (s.checks_total, s.failures_total) == (checks, failed)
    assert s.uptime_1h == pytest.approx(100 * (checks - failed) / checks)  # 84.25 %
    assert s.uptime_1h == pytest.approx(100 * (3600 - 570) / 3600, abs=0.2)  # down 1231-1800
    assert s.status.value == "up"
    assert s.last_beat == T0 + 3598

    await series.flush()
    up, _ = await series.samples(service_series("consumer", "up"), T0, T0 + 3600)
    assert len(up) == checks  # one check row each, not one a beat
    beat_series = service_series("consumer", "last_beat_seconds")
    beats, values = await series.samples(beat_series, T0, T0 + 3600)
    assert len(beats) <= checks  # written with a judgement or a beat that brought it up
    assert values[-1] == T0 + 3590  # the beat before the last judgement (at 3591)
    clock.now = T0 + 3601  # the next judgement writes the beats since: the newest
    source.judge_due(intake)
    await series.flush()
    assert (await series.last(beat_series)).value == T0 + 3598
