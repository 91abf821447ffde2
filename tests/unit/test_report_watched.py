"""A report over a longer period than the monitor watched: time down and the time the SLO
allows are of the time watched, which the report states; uptime, budget and compliance
are what the store (so `/api/services`) shows over the same checks."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from support.clock import T0, FakeClock

from devmentor_monitor.config.schema import parse_text
from devmentor_monitor.history.model import DAY, HOUR, MINUTE
from devmentor_monitor.history.sqlite import SqliteSeries
from devmentor_monitor.intake import StoreIntake
from devmentor_monitor.model import CheckResult
from devmentor_monitor.reports import html, markdown
from devmentor_monitor.reports.compute import build_report
from devmentor_monitor.reports.model import Report, ServiceTarget
from devmentor_monitor.reports.offline import OfflineSource
from devmentor_monitor.server.shapes import report_json
from devmentor_monitor.storage.db import Database
from devmentor_monitor.store import Store

CONFIG = """
services:
  - name: billing
    url: http://127.0.0.1:1/health
    interval: 10s
    timeout: 2s
    failure_threshold: 1
    slo: {uptime: 99.0, response_time: 500ms, error_rate: 5}
  - name: batch
    url: http://127.0.0.1:2/health
    interval: 5m
    timeout: 2s
"""
INSTALLED = T0 - DAY + 20 * MINUTE  # the monitor started 23 h 40 m before the report
OUTAGE = (T0 - 6 * HOUR, T0 - 6 * HOUR + 15 * MINUTE)  # billing down 15 minutes
STOPPED = (T0 - 10 * HOUR, T0 - 7 * HOUR)  # batch: the monitor stopped 3 h (no checks)
BILLING_CHECKS = int((T0 - INSTALLED) // 10)  # 8520, every 10 s
BILLING_DOWN = int(15 * MINUTE // 10)  # 90


@pytest.fixture(scope="module")
def watched(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Store]:
    """A day's checks written as the monitor writes them (the intake, into a real
    history.db), and the store that counted them."""
    data = tmp_path_factory.mktemp("day")

    async def run() -> Store:
        clock = FakeClock(INSTALLED)
        series = SqliteSeries(data / "history.db", 30 * DAY, clock=clock, batch_interval=0.01)
        series.open()
        store = Store(parse_text(CONFIG), clock=clock)
        intake = StoreIntake(store, clock=clock, history=series)
        ts = INSTALLED
        while ts < T0:
            clock.now = ts
            down = OUTAGE[0] <= ts < OUTAGE[1]
            intake.observe(CheckResult("billing", ts, ok=not down, latency=None if down else 0.02))
            stopped = STOPPED[0] <= ts < STOPPED[1]
            if int(ts - INSTALLED) % 300 == 0 and not stopped:
                intake.observe(CheckResult("batch", ts, ok=True, latency=0.01))
            ts += 10.0
        await series.flush()
        await series.close()
        clock.now = T0
        store.SUMMARY_TTL = 0
        return store

    store = asyncio.run(run())
    db = Database(data / "monitor.db")
    db.open()
    db.close()
    return data, store


async def _report(data: Path, span: float) -> Report:
    cfg = parse_text(CONFIG)
    source = OfflineSource(data, 30 * DAY, clock=lambda: T0)  # read-only, as the CLI
    source.open()
    try:
        targets = [ServiceTarget(s.name, s.slo, s.interval) for s in cfg.services]
        return await build_report(source, targets, span, T0)
    finally:
        await source.close()


async def test_downtime_is_of_the_day_watched_not_the_week_asked(watched) -> None:
    data, _ = watched
    report = await _report(data, 7 * DAY)
    billing = next(s for s in report.services if s.name == "billing")
    assert (billing.checks, billing.up_checks) == (BILLING_CHECKS, BILLING_CHECKS - BILLING_DOWN)
    # 15 minutes down: the share of checks down (90 of 8520) of the 23 h 40 m watched
    # (the hour rollups, the first hour from its first minute with checks). Scaled to
    # the week asked it was 1 h 46 m.
    assert billing.downtime == pytest.approx(15 * MINUTE)
    assert billing.watched == T0 - INSTALLED
    assert billing.downtime_allowed == pytest.approx(0.01 * (T0 - INSTALLED))  # 14 m 12 s
    assert billing.budget == pytest.approx(1 - billing.downtime / billing.downtime_allowed)

    # 90 days asked (the hour rollups hold 30): the same day watched, the same figures.
    longer = await _report(data, 90 * DAY)
    again = next(s for s in longer.services if s.name == "billing")
    assert (again.watched, again.downtime, again.downtime_allowed, again.budget) == (
        billing.watched,
        billing.downtime,
        billing.downtime_allowed,
        billing.budget,
    )


async def test_the_report_states_the_time_watched(watched) -> None:
    data, _ = watched
    report = await _report(data, 7 * DAY)
    md = markdown.render(report)
    services = md.split("## Services")[1].split("##")[0]
    header = next(line for line in services.splitlines() if line.startswith("| service |"))
    row = next(line for line in services.splitlines() if line.startswith("| billing |"))
    cells = dict(zip(header.strip("|").split(" | "), row.strip("|").split(" | "), strict=True))
    assert cells["watched"].strip() == "23 h 40 m of 7 d"
    assert cells["down (allowed)"].strip() == "15 m of 14 m 12 s"
    assert "23 h 40 m of 7 d" in html.render(report)
    body = json.loads(json.dumps(report_json(report)))
    billing = next(s for s in body["services"] if s["name"] == "billing")
    assert body["span_s"] == 7 * DAY
    assert billing["watched_s"] == 85200.0
    assert billing["downtime_s"] == 900.0
    assert billing["downtime_allowed_s"] == 852.0


async def test_sparse_checks_bridge_and_a_stopped_monitor_does_not(watched) -> None:
    """A day report reads minutes: batch, checked every 5 minutes, holds checks in one
    minute of five and was watched in between, but not for the 3 h the monitor stopped."""
    data, _ = watched
    report = await _report(data, DAY)
    assert report.step == MINUTE
    batch = next(s for s in report.services if s.name == "batch")
    # From its first check (20 minutes into the day) to the end, less the stop: the last
    # check before it, 5 minutes before, counts its interval and the minute it is in.
    assert batch.watched == T0 - INSTALLED - (STOPPED[1] - STOPPED[0]) + MINUTE
    assert batch.downtime == 0.0


async def test_uptime_budget_and_compliance_are_what_the_store_shows(watched) -> None:
    """The store's 7-day window holds the same checks as the report's: the same uptime,
    budget and verdict (health/slo.py computes both)."""
    data, store = watched
    report = await _report(data, 7 * DAY)
    billing = next(s for s in report.services if s.name == "billing")
    shown = store.service("billing")
    assert shown.uptime_7d == pytest.approx(billing.uptime)
    assert shown.error_budget_remaining == pytest.approx(billing.budget)
    assert shown.slo_compliant is billing.compliant is False  # 15 m down of 14 m 12 s allowed
