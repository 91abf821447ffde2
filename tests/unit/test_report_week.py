"""The report over a scripted week (tests/support/report_week.py) with an injected clock:
the figures are worked out here from the script, not from the code under test."""

from __future__ import annotations

import asyncio
import statistics
from pathlib import Path

import pytest
from support.clock import T0
from support.report_week import RETENTION, Week, script, write

from devmentor_monitor.config.schema import SLO
from devmentor_monitor.reports import html, markdown
from devmentor_monitor.reports.compute import build_report
from devmentor_monitor.reports.model import Report, ServiceTarget
from devmentor_monitor.reports.offline import OfflineSource

AUTH_SLO = SLO(uptime=99.9, response_time=0.2, error_rate=0.1)
MEMORY_SLO = SLO(uptime=99.5, response_time=0.1, error_rate=0.5)
TARGETS = [
    ServiceTarget("auth", AUTH_SLO),
    ServiceTarget("memory", MEMORY_SLO),
    ServiceTarget("project", None),  # configured, never checked in the history
]


async def _report(data: Path, span: float, now: float) -> Report:
    source = OfflineSource(data, RETENTION, clock=lambda: T0)  # read-only, as the CLI
    source.open()
    try:
        return await build_report(source, TARGETS, span, now)
    finally:
        await source.close()


@pytest.fixture(scope="module")
def week_data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Week, Path]:
    """The week, written once for the module."""
    data = tmp_path_factory.mktemp("week")
    week = script(T0)
    asyncio.run(write(week, data))
    return week, data


@pytest.fixture(scope="module")
def week_report(week_data) -> tuple[Week, Report]:
    week, data = week_data
    return week, asyncio.run(_report(data, 7 * 86400.0, T0))


def budget(target: float, uptime: float) -> float:
    """README: error budget remaining is 1 − (100 − uptime₇d) / (100 − target)."""
    return 1 - (100 - uptime) / (100 - target)


def test_uptime_budget_and_compliance_per_service(week_report) -> None:
    week, report = week_report
    assert report.since == week.start
    assert report.until == T0
    by = {s.name: s for s in report.services}
    assert list(by) == ["auth", "memory", "project", "legacy"]  # configured, then stored

    checks = week.checks["auth"]
    up = sum(c.up for c in checks)
    failed = sum(not c.ok for c in checks)
    assert (len(checks), up, failed) == (10080, 10080 - 45, 48)
    auth = by["auth"]
    assert (auth.checks, auth.up_checks, auth.failed_checks) == (10080, 10035, 48)
    assert auth.uptime == pytest.approx(100 * 10035 / 10080)
    assert auth.error_rate == pytest.approx(100 * 48 / 10080)
    assert auth.budget == pytest.approx(budget(99.9, 100 * 10035 / 10080))
    assert auth.budget < 0  # 45 minutes down against 10 minutes allowed
    assert auth.downtime == pytest.approx(45 * 60)
    assert auth.downtime_allowed == pytest.approx(0.001 * 7 * 86400)
    assert auth.compliant is False
    latencies = [c.latency for c in checks if c.latency is not None]
    assert auth.latency_mean == pytest.approx(statistics.fmean(latencies))
    assert auth.latency_max == pytest.approx(0.9)

    memory = by["memory"]
    assert (memory.checks, memory.up_checks, memory.failed_checks) == (10080, 10080, 0)
    assert memory.uptime == 100.0
    assert memory.budget == 1.0
    assert memory.compliant is True  # hour means: p95 is 10 ms, under 100 ms

    project = by["project"]
    assert (project.checks, project.uptime, project.compliant, project.hours) == (0, None, None, ())

    legacy = by["legacy"]
    assert (legacy.checks, legacy.uptime, legacy.slo, legacy.compliant) == (1440, 100.0, None, None)


def test_worst_latency_hours_per_service(week_report) -> None:
    week, report = week_report
    by = {s.name: s for s in report.services}
    auth = by["auth"]
    assert len(auth.hours) == 7 * 24  # every hour has checks with a latency
    worst = auth.worst_hours
    assert len(worst) == 5
    assert [(h.ts, round(h.mean, 6)) for h in worst[:3]] == [
        (week.hour(2, 14), 0.45),
        (week.hour(4, 2), 0.3),
        (week.hour(5, 9), round((59 * 0.020 + 0.900) / 60, 6)),
    ]
    assert worst[2].max == pytest.approx(0.9)
    assert worst[0].count == 60
    memory = by["memory"].worst_hours
    assert memory[0].ts == week.hour(0, 20)
    assert (memory[0].mean, memory[0].max) == (pytest.approx(0.06), 0.06)


def test_incidents_time_to_acknowledge_and_resolve_and_causes(week_report) -> None:
    week, report = week_report
    inside = [i for i in week.incidents if week.start <= i.opened_at < week.end]
    assert [i.id for i in report.incidents] == [
        i.id for i in sorted(inside, key=lambda i: i.opened_at)
    ]
    assert "inc-old" not in {i.id for i in report.incidents}
    tta = {i.id: i.acknowledged_at - i.opened_at for i in inside if i.acknowledged_at}
    ttr = {i.id: i.resolved_at - i.opened_at for i in inside if i.resolved_at}
    assert tta == {"inc-a": 300, "inc-b": 120, "inc-d": 600, "inc-f": 60}
    assert ttr == {"inc-a": 2580, "inc-b": 3300, "inc-c": 1800, "inc-f": 7200}
    got = {i.id: (i.tta, i.ttr) for i in report.incidents}
    assert got == {i.id: (tta.get(i.id), ttr.get(i.id)) for i in inside}
    assert (report.tta.count, report.tta.mean, report.tta.median) == (4, 270.0, 210.0)
    assert (report.ttr.count, report.ttr.mean, report.ttr.median) == (4, 3720.0, 2940.0)
    assert report.tta.max == 600
    assert report.ttr.max == 7200

    def pairs(counts) -> list[tuple[str, int]]:
        return [(c.name, c.count) for c in counts]

    assert pairs(report.causes_by_rule) == [
        ("latency_slo", 2),
        ("burn_rate_fast", 1),
        ("manual", 1),
        ("service_down", 1),
    ]
    assert pairs(report.causes_by_kind) == [
        ("latency", 2),
        ("burn_rate", 1),
        ("down", 1),
        ("manual", 1),
    ]
    assert pairs(report.causes_by_service) == [("auth", 3), ("memory", 1), ("project", 1)]


def test_notification_counts_by_channel_kind_and_result(week_report) -> None:
    _week, report = week_report
    got = {(n.channel, n.kind, n.state): n.count for n in report.notifications}
    assert got == {
        ("ops", "open", "sent"): 3,
        ("ops", "resolved", "sent"): 2,
        ("ops", "escalation", "failed"): 1,
        ("pd", "open", "sent"): 1,
        ("pd", "open", "failed"): 1,
        ("pd", "resolved", "pending"): 1,
    }  # the one sent the day before the week is not counted


def test_markdown_states_the_figures(week_report) -> None:
    _, report = week_report
    md = markdown.render(report)
    assert md.startswith("# DevMentor report: 7d, ")
    services = md.split("## Services")[1].split("##")[0]
    rows = {line.split(" | ")[0].strip("| "): line for line in services.splitlines() if "|" in line}
    assert "99.554 %" in rows["auth"]
    assert "missed" in rows["auth"]
    assert "45 m of 10 m 5 s" in rows["auth"]  # down, of the SLO's allowance
    assert "100.000 %" in rows["memory"]
    assert "met" in rows["memory"]
    assert "- Acknowledged: 4 of 5, mean 4 m 30 s, median 3 m 30 s, longest 10 m" in md
    assert "- Resolved: 4 of 5, mean 1 h 2 m, median 49 m, longest 2 h" in md
    assert "| ops | open | 3 | 0 | 0 | 3 |" in md
    assert "| pd | open | 1 | 1 | 0 | 2 |" in md
    assert "| latency_slo | 2 |" in md


def test_html_is_self_contained_with_a_bar_per_service_and_per_hour(week_report) -> None:
    _, report = week_report
    page = html.render(report)
    for outside in ("http://", "https://", "<script", "@import", "url(", "<link"):
        assert outside not in page
    assert page.count('class="chart latency"') == 3  # auth, memory, legacy: project has none
    assert "project: no latency stored in this period" in page


async def test_a_day_reads_the_minute_rollups(week_data) -> None:
    """24 h or less: the 1-minute rollups, the period from the minute; here the day of
    auth's outage, ending a second before day 2."""
    week, data = week_data
    until = week.hour(2, 0) - 1
    report = await _report(data, 86400.0, until)
    assert report.step == 60
    assert report.since == until - 86400 - (until - 86400) % 60
    checks = [c for c in week.checks["auth"] if report.since <= c.ts <= until]
    assert len(checks) == 1441
    auth = next(s for s in report.services if s.name == "auth")
    assert auth.checks == len(checks)
    assert auth.up_checks == sum(c.up for c in checks) == 1441 - 45
    assert auth.uptime == pytest.approx(100 * (1441 - 45) / 1441)
    assert [i.id for i in report.incidents] == ["inc-a"]
