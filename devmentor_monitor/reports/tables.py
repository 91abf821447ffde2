"""The report's tables as text cells, one wording for Markdown and HTML (the renderers
only lay them out). Times are UTC; durations, percents and latencies use units.py."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime

from devmentor_monitor.reports.model import Count, DurationStats, Report
from devmentor_monitor.units import format_duration, format_ms, format_percent, human_duration


@dataclass(frozen=True, slots=True)
class Table:
    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    empty: str  # said instead of an empty table


def when(ts: float | None) -> str:
    if ts is None:
        return "–"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M")


def took(seconds: float | None) -> str:
    return "–" if seconds is None else human_duration(seconds)


def title(r: Report) -> str:
    return f"DevMentor report: {format_duration(r.span)}, {when(r.since)} to {when(r.until)} UTC"


def stats_line(what: str, d: DurationStats, of: int) -> str:
    if d.count == 0:
        return f"{what}: none of {of}"
    return (
        f"{what}: {d.count} of {of}, mean {took(d.mean)}, median {took(d.median)}, "
        f"longest {took(d.max)}"
    )


def summary(r: Report) -> list[str]:
    """The lines above the tables: compliance, incidents, TTA/TTR, notifications."""
    judged = [s for s in r.services if s.compliant is not None]
    met = sum(1 for s in judged if s.compliant)
    n = len(r.incidents)
    sent = sum(c.count for c in r.notifications if c.state == "sent")
    failed = sum(c.count for c in r.notifications if c.state == "failed")
    cut = f" (the newest {n} listed)" if r.incidents_truncated else ""
    return [
        f"SLOs met: {met} of {len(judged)} services with an SLO and checks",
        f"Incidents opened: {n}{cut}",
        stats_line("Acknowledged", r.tta, n),
        stats_line("Resolved", r.ttr, n),
        f"Notifications: {sent} sent, {failed} failed",
    ]


def services_table(r: Report) -> Table:
    """Time down and allowed are of the time watched (checks stored), which the "watched"
    column states against the period (from its step boundary, as the title says)."""
    rows = []
    for s in r.services:
        slo = s.slo
        verdict = {None: "–", True: "met", False: "missed"}[s.compliant]
        rows.append(
            (
                s.name,
                format_percent(s.uptime, 3),
                "–" if slo is None else f"{slo.uptime:g} %",
                "–" if s.budget is None else f"{s.budget * 100:.1f} %",
                f"{took(s.downtime)} of {took(s.downtime_allowed)}"
                if s.downtime_allowed is not None
                else took(s.downtime),
                format_percent(s.error_rate, 3),
                f"{format_ms(s.latency_mean)} / {format_ms(s.latency_p95)} / "
                f"{format_ms(s.latency_max)}",
                str(s.checks),
                f"{took(s.watched)} of {took(r.until - r.since)}",
                verdict,
            )
        )
    return Table(
        "Services",
        (
            "service",
            "uptime",
            "SLO",
            "budget left",
            "down (allowed)",
            "errors",
            "latency mean / p95 / max",
            "checks",
            "watched",
            "SLO met",
        ),
        tuple(rows),
        "no services and no stored checks in this period",
    )


def incidents_table(r: Report) -> Table:
    rows = tuple(
        (
            i.id,
            i.service,
            f"{i.rule} ({i.kind})",
            i.severity,
            when(i.opened_at),
            took(i.tta),
            took(i.ttr),
            i.state,
        )
        for i in r.incidents
    )
    return Table(
        "Incidents",
        (
            "id",
            "service",
            "cause",
            "severity",
            "opened (UTC)",
            "to acknowledge",
            "to resolve",
            "state",
        ),
        rows,
        "no incidents opened in this period",
    )


def causes_tables(r: Report) -> list[Table]:
    def table(by: str, counts: tuple[Count, ...]) -> Table:
        return Table(
            f"Top causes by {by}",
            (by, "incidents"),
            tuple((c.name, str(c.count)) for c in counts),
            "no incidents",
        )

    return [
        table("rule", r.causes_by_rule),
        table("kind", r.causes_by_kind),
        table("service", r.causes_by_service),
    ]


STATES = ("sent", "failed", "pending")


def notifications_table(r: Report) -> Table:
    """One row per channel and kind; a column per result."""
    by: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    for c in r.notifications:
        by[(c.channel, c.kind)][c.state] = c.count
    rows = tuple(
        (channel, kind, *(str(counts.get(s, 0)) for s in STATES), str(sum(counts.values())))
        for (channel, kind), counts in sorted(by.items())
    )
    return Table(
        "Notifications",
        ("channel", "kind", *STATES, "total"),
        rows,
        "no notifications in this period",
    )


def worst_hours_table(r: Report) -> Table:
    rows = tuple(
        (s.name, when(h.ts), format_ms(h.mean), format_ms(h.max), str(h.count))
        for s in r.services
        for h in s.worst_hours
    )
    return Table(
        "Worst latency hours",
        ("service", "hour (UTC)", "mean", "max", "checks"),
        rows,
        "no latency stored in this period",
    )


def tables(r: Report) -> list[Table]:
    return [
        services_table(r),
        worst_hours_table(r),
        incidents_table(r),
        *causes_tables(r),
        notifications_table(r),
    ]
