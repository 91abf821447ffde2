"""How much data uptime and budget rest on (health/basis.py): /api/services' shape of it,
from a store fed checks over a known span."""

from __future__ import annotations

from support.clock import FakeClock

from devmentor_monitor.config.schema import parse_text
from devmentor_monitor.health.basis import short_span
from devmentor_monitor.model import CheckResult
from devmentor_monitor.server.shapes import service_json
from devmentor_monitor.store import Store

CONFIG = """
services:
  - name: api
    url: http://127.0.0.1:1/health
    interval: 10s
    slo: {uptime: 99.9, response_time: 200ms, error_rate: 0.1}
"""


def fed(span: float, step: float) -> Store:
    """A store whose one service was checked every ``step`` seconds for ``span``."""
    clock = FakeClock()
    store = Store(parse_text(CONFIG), clock=clock)
    start = clock.now
    while clock.now - start <= span:
        store.record_check(CheckResult("api", clock.now, ok=True, latency=0.01))
        clock.now += step
    clock.now -= step  # the figures are read at the last check
    return store


def test_eleven_seconds_of_checks_say_eleven_seconds_for_every_window():
    body = service_json(fed(11, 1).service("api"))
    assert body["uptime_percent"]["24h"] == 100.0
    assert body["data_seconds"] == 11.0
    assert body["uptime_basis_seconds"] == {"1h": 11.0, "24h": 11.0, "7d": 11.0, "30d": 11.0}
    assert body["uptime_checks"] == {"1h": 12, "24h": 12, "7d": 12, "30d": 12}
    assert body["slo"]["basis_seconds"] == 11.0


def test_two_days_of_checks_cover_the_hour_and_the_day_but_not_the_week():
    two_days = 2 * 86400
    body = service_json(fed(two_days, 600).service("api"))
    assert body["data_seconds"] == two_days
    assert body["uptime_basis_seconds"] == {
        "1h": 3600.0,
        "24h": 86400.0,
        "7d": float(two_days),
        "30d": float(two_days),
    }
    assert body["slo"]["basis_seconds"] == two_days
    assert body["uptime_checks"]["1h"] in (6, 7)  # to the minute: the window's edge
    assert body["uptime_checks"]["7d"] == two_days // 600 + 1


def test_no_check_no_basis():
    body = service_json(Store(parse_text(CONFIG), clock=FakeClock()).service("api"))
    assert body["data_seconds"] is None
    assert body["uptime_basis_seconds"]["24h"] is None
    assert body["uptime_checks"]["24h"] == 0


def test_short_span_names_one_unit_rounded_down():
    assert [short_span(s) for s in (0, 11, 59.9, 60, 599, 3599, 3600, 86399, 6.9 * 86400)] == [
        "0s",
        "11s",
        "59s",
        "1m",
        "9m",
        "59m",
        "1h",
        "23h",
        "6d",
    ]
