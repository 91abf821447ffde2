"""A report over a period, computed from what is stored: the rollups of every service's
checks (history.db), the incidents and the notification outbox (monitor.db).

Uptime and error rate are counts of checks (the rollups' sums of the 0/1 `up` and `ok`
series over their counts), so a report over a period the monitor watched equals what
`/api/services` said of it; the SLO maths are health/slo.py's. Time down and the time the
SLO allows are shares of the time watched (`watched_time`), never of a longer period asked
for: a monitor installed yesterday knows one day, not seven. One computation serves the
CLI (offline, read-only files) and `GET /api/report` (through Queries).
"""

from __future__ import annotations

import asyncio
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence

from devmentor_monitor.health.percentiles import percentile
from devmentor_monitor.health.slo import (
    error_budget_remaining,
    ratio,
    slo_compliant,
    time_allowed_down,
    time_down,
)
from devmentor_monitor.history.model import DAY, HOUR, MINUTE, Point, service_series
from devmentor_monitor.incidents.model import Incident
from devmentor_monitor.incidents.signals import kind_of
from devmentor_monitor.reports.model import (
    MAX_INCIDENTS,
    TOP_CAUSES,
    WORST_HOURS,
    Count,
    DurationStats,
    HourLatency,
    IncidentTimes,
    NotificationCount,
    Report,
    ReportSource,
    ServiceFigures,
    ServiceTarget,
)

SERVICE_PREFIX = service_series("", "").removesuffix(":")  # "service:"


def report_step(span: float) -> float:
    """Minute rollups for a day or less (kept 7 d), hour rollups beyond: one tier per
    report, whatever its length."""
    return MINUTE if span <= DAY else HOUR


async def build_report(
    source: ReportSource, services: Sequence[ServiceTarget], span: float, now: float
) -> Report:
    """The report over the ``span`` seconds before ``now``; ``services``: the configured
    ones with their SLOs (services only the history knows are added, without an SLO)."""
    step = report_step(span)
    since = now - span
    since -= since % step
    targets = list(services)
    known = {t.name for t in targets}
    for name in _stored_services(await source.history_names(SERVICE_PREFIX)):
        if name not in known:
            targets.append(ServiceTarget(name, None))
            known.add(name)
    figures = await asyncio.gather(*(_service(source, t, since, now, step) for t in targets))
    incidents = await source.incidents_between(since, now, MAX_INCIDENTS)
    times = [incident_times(i) for i in sorted(incidents, key=lambda i: (i.opened_at, i.id))]
    tallies = await source.notification_counts(since, now)
    return Report(
        span=span,
        since=since,
        until=now,
        generated_at=now,
        step=step,
        services=tuple(figures),
        incidents=tuple(times),
        incidents_truncated=len(incidents) >= MAX_INCIDENTS,
        tta=duration_stats(t.tta for t in times),
        ttr=duration_stats(t.ttr for t in times),
        causes_by_rule=top_counts(t.rule for t in times),
        causes_by_kind=top_counts(t.kind for t in times),
        causes_by_service=top_counts(t.service for t in times),
        notifications=tuple(NotificationCount(*row) for row in tallies),
    )


def _stored_services(names: Iterable[str]) -> list[str]:
    """Service names from stored series names (service:<name>:<field>), in order."""
    out = dict.fromkeys(n[len(SERVICE_PREFIX) :].rpartition(":")[0] for n in names)
    return [n for n in out if n]


def watched_time(
    starts: Sequence[float],
    step: float,
    until: float,
    interval: float | None = None,
    first: float | None = None,
) -> float:
    """Seconds watched: from each step holding checks (``starts``, oldest first) to the
    next one (the last: to ``until``), at most the step and one check interval. A service
    checked every 5 minutes holds checks in one minute of five and was watched in between;
    a longer gap (the monitor stopped) was not. The first step counts from ``first`` (its
    first check, when known); a stretch after a stop counts its first step whole."""
    if not starts:
        return 0.0
    bridge = step + (interval or 0.0)
    ends = [*starts[1:], until]
    opened = [starts[0] if first is None else max(first, starts[0]), *starts[1:]]
    return sum(
        max(0.0, min(end, ts + bridge) - begun)
        for ts, begun, end in zip(starts, opened, ends, strict=True)
    )


async def first_check(source: ReportSource, series: str, start: float, step: float) -> float:
    """When the checks of the step at ``start`` began, from the next finer tier (minutes
    in an hour, raw samples in a minute) while it still holds them, else ``start``."""
    finer = MINUTE if step > MINUTE else 0.0
    points = await source.history(series, start, start + step - 0.001, finer)
    return min((p.ts for p in points if p.count), default=start)


def _sums(points: Sequence[Point]) -> tuple[float, int]:
    """(sum of values, number of samples) over rollup points."""
    return sum(p.avg * p.count for p in points), sum(p.count for p in points)


async def _service(
    source: ReportSource, target: ServiceTarget, since: float, until: float, step: float
) -> ServiceFigures:
    name, slo = target.name, target.slo
    up, ok, latency = await asyncio.gather(
        *(
            source.history(service_series(name, f), since, until, step)
            for f in ("up", "ok", "latency_seconds")
        )
    )
    hour_start = since - since % HOUR
    hourly = (
        latency
        if step == HOUR
        else await source.history(service_series(name, "latency_seconds"), hour_start, until, HOUR)
    )
    up_sum, checks = _sums(up)
    ok_sum, ok_checks = _sums(ok)
    up_checks = round(up_sum)
    failed = ok_checks - round(ok_sum)
    uptime = ratio(up_checks, checks)
    error_rate = ratio(failed, ok_checks)
    lat_sum, lat_count = _sums(latency)
    means = sorted(p.avg for p in latency)
    p95 = percentile(means, 0.95) if means else None
    starts = [p.ts for p in up if p.count]
    first = (
        await first_check(source, service_series(name, "up"), starts[0], step) if starts else None
    )
    watched = watched_time(starts, step, until, target.interval, first)
    budget = allowed = downtime = None
    compliant: bool | None = None
    if uptime is not None:  # nothing watched: nothing down, allowed or judged
        downtime = time_down(uptime, watched)
        if slo is not None:
            allowed = time_allowed_down(slo.uptime, watched)
            budget = error_budget_remaining(slo.uptime, uptime)
            compliant = slo_compliant(slo, uptime, p95, error_rate)
    hours = tuple(HourLatency(p.ts, p.avg, p.max, p.count) for p in hourly)
    worst = sorted(hours, key=lambda h: (-h.mean, -h.max, h.ts))[:WORST_HOURS]
    return ServiceFigures(
        name=name,
        slo=slo,
        checks=checks,
        up_checks=up_checks,
        failed_checks=failed,
        uptime=uptime,
        error_rate=error_rate,
        latency_mean=lat_sum / lat_count if lat_count else None,
        latency_p95=p95,
        latency_max=max((p.max for p in latency), default=None),
        watched=watched,
        budget=budget,
        downtime_allowed=allowed,
        downtime=downtime,
        compliant=compliant,
        hours=hours,
        worst_hours=tuple(worst),
    )


def cause_kind(inc: Incident) -> str:
    """What kind of problem opened it: its own first signal's kind (as the dispatcher
    labels it), else the rule's; "manual" for one opened by hand."""
    if inc.rule == "manual":
        return "manual"
    own = sorted((s for s in inc.signals if s.service == inc.service), key=lambda s: s.first_at)
    return own[0].kind if own else kind_of(inc.rule)


def incident_times(inc: Incident) -> IncidentTimes:
    ack, res = inc.acknowledged_at, inc.resolved_at
    return IncidentTimes(
        id=inc.id,
        service=inc.service,
        rule=inc.rule,
        kind=cause_kind(inc),
        severity=inc.severity.value,
        state=inc.state.value,
        title=inc.title,
        opened_at=inc.opened_at,
        acknowledged_at=ack,
        resolved_at=res,
        tta=None if ack is None else ack - inc.opened_at,
        ttr=None if res is None else res - inc.opened_at,
    )


def duration_stats(values: Iterable[float | None]) -> DurationStats:
    have = [v for v in values if v is not None]
    if not have:
        return DurationStats(0, None, None, None)
    return DurationStats(len(have), statistics.fmean(have), statistics.median(have), max(have))


def top_counts(names: Iterable[str]) -> tuple[Count, ...]:
    """Most frequent first, then by name; at most TOP_CAUSES."""
    counted = sorted(Counter(names).items(), key=lambda kv: (-kv[1], kv[0]))
    return tuple(Count(n, c) for n, c in counted[:TOP_CAUSES])
