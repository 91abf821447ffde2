"""The flight recorder: the overview at a past moment, read back from the stored history.

`load_frame` reads, through Queries (never the runtime), what the overview shows for a
moment: each service's status (service:<name>:up), its latency and 10-minute trend, its
24 h uptime, the host series, and the incidents open then. The TUI loads it in a worker
and draws it in place of the live store until `esc` (or `]` past now).
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

import msgspec

from devmentor_monitor.history.model import DAY, HOUR, MINUTE_KEEP, host_series, service_series
from devmentor_monitor.model import Health

if TYPE_CHECKING:
    from devmentor_monitor.incidents.model import Incident
    from devmentor_monitor.queries import Queries
    from devmentor_monitor.store import Store

TREND_SPAN = 600.0  # the trend column: the 10 minutes before the moment, as live
HOST_PREFIX = host_series("")


class ServiceFrame(msgspec.Struct, frozen=True):
    name: str
    status: Health  # UNKNOWN: nothing stored near that moment
    latency: float | None  # seconds, the last check's
    ok: bool | None  # whether that check passed (up yet failing: under failure_threshold)
    ts: float | None  # when that check ran (minute start when read from a rollup)
    trend: tuple[float, ...] = ()
    uptime_24h: float | None = None  # percent, over the 24 h before the moment


class Frame(msgspec.Struct, frozen=True):
    at: float
    services: tuple[ServiceFrame, ...]
    host: dict[str, float] = msgspec.field(default_factory=dict)  # host_values keys
    incidents: tuple[Incident, ...] = ()


def step_to(base: float, seconds: float) -> float:
    """One step of ``seconds`` from ``base``, landing on a whole step (14:32:47 back a
    minute is 14:32:00, then 14:31:00), so the banner reads in whole minutes."""
    size = abs(seconds)
    if seconds < 0:
        return math.ceil(base / size) * size - size
    return math.floor(base / size) * size + size


def lookback(at: float, now: float) -> float:
    """How far before ``at`` a value still counts as 'at that moment': five minutes while
    raw samples or 1-minute rollups hold it, an hour once only hour rollups do."""
    return 300.0 if now - at < MINUTE_KEEP else HOUR


async def load_frame(queries: Queries, store: Store, at: float, now: float) -> Frame:
    back = lookback(at, now)
    services = []
    for name in store.service_names():
        up = await queries.history_at(service_series(name, "up"), at, back)
        ok = await queries.history_at(service_series(name, "ok"), at, back)
        lat = await queries.history_at(service_series(name, "latency_seconds"), at, back)
        # Per minute, ending before the minute that starts at ``at`` (which holds samples
        # after it): the trend and the uptime read only what was known then.
        before = at - 0.001
        trend = await queries.history(
            service_series(name, "latency_seconds"), at - TREND_SPAN, before, 60.0
        )
        # Whole hours from the hour rollups, the hour under way from the minutes: ~80 rows.
        hour = at - at % HOUR
        points = await queries.history(service_series(name, "up"), at - DAY, hour - 0.001, HOUR)
        points += await queries.history(service_series(name, "up"), hour, before, 60.0)
        count = sum(p.count for p in points)
        uptime = 100 * sum(p.avg * p.count for p in points) / count if count else None
        status = Health.UNKNOWN
        latency = None
        if up is not None:
            status = Health.UP if up.avg >= 0.5 else Health.DOWN
            if lat is not None and lat.ts >= up.ts - 1:  # the same check's latency
                latency = lat.avg
            slo = store.service_config(name).slo if store.has_service(name) else None
            if status is Health.UP and slo and latency is not None and latency > slo.response_time:
                status = Health.DEGRADED
        services.append(
            ServiceFrame(
                name,
                status,
                latency,
                None if ok is None else ok.avg >= 0.5,
                up.ts if up is not None else None,
                tuple(p.avg for p in trend),
                uptime,
            )
        )
    host = {}
    for series in await queries.history_names(HOST_PREFIX):
        point = await queries.history_at(series, at, back)
        if point is not None:
            host[series.removeprefix(HOST_PREFIX)] = point.avg
    incidents = await queries.incidents_open_at(at)
    incidents.sort(key=lambda i: (-i.severity.rank, -i.opened_at))
    return Frame(at, tuple(services), host, tuple(incidents))


def when(at: float, now: float) -> str:
    """Local time of ``at``: 14:32 (14:32:17 off the minute), with the date when not today."""
    fmt = "%H:%M" if at % 60 == 0 else "%H:%M:%S"
    if time.localtime(at)[:3] != time.localtime(now)[:3]:
        fmt = "%Y-%m-%d " + fmt
    return time.strftime(fmt, time.localtime(at))
