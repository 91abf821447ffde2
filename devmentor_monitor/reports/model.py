"""What a report holds (frozen records, no JSON: server/shapes.py shapes them) and what it
reads (`ReportSource`: Queries in the monitor, `offline.OfflineSource` for the CLI)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from devmentor_monitor.config.schema import SLO
    from devmentor_monitor.history.model import Point
    from devmentor_monitor.incidents.model import Incident

MAX_INCIDENTS = 1000  # listed per report (newest kept); the report says when it cut
WORST_HOURS = 5  # per service
TOP_CAUSES = 10  # per grouping


class ReportSource(Protocol):
    """The narrow reads a report makes: stored series, incidents, notification tallies."""

    async def history(self, series: str, since: float, until: float, step: float) -> list[Point]:
        """Points of a stored series (the tier chosen by the step)."""

    async def history_names(self, prefix: str = "") -> list[str]:
        """Stored series names starting with ``prefix``."""

    async def incidents_between(self, since: float, until: float, limit: int) -> list[Incident]:
        """Incidents opened in [since, until), newest first, at most ``limit``."""

    async def notification_counts(
        self, since: float, until: float
    ) -> list[tuple[str, str, str, int]]:
        """(channel, kind, state, count) of notifications created in [since, until)."""


@dataclass(frozen=True, slots=True)
class ServiceTarget:
    """A service to report on and its SLO (None: none configured, or no longer configured)
    and check interval (None: not configured; it bridges the steps between sparse checks
    when the report measures the time watched)."""

    name: str
    slo: SLO | None
    interval: float | None = None


@dataclass(frozen=True, slots=True)
class HourLatency:
    """One hour of a service's check latency (the 1-hour rollup), seconds."""

    ts: float  # the hour's start
    mean: float
    max: float
    count: int


@dataclass(frozen=True, slots=True)
class ServiceFigures:
    """A service over the period, from the rollups of service:<name>:up, :ok and
    :latency_seconds."""

    name: str
    slo: SLO | None
    checks: int  # checks stored in the period
    up_checks: int  # of which the service was up (or degraded)
    failed_checks: int  # of which the check itself failed
    uptime: float | None  # percent of checks with the service up
    error_rate: float | None  # percent of failed checks
    latency_mean: float | None  # seconds, over every check
    latency_p95: float | None  # nearest-rank p95 of the step means (rollups keep no raw)
    latency_max: float | None
    watched: float  # seconds of the period with checks (compute.watched_time), ≤ until − since
    budget: float | None  # error budget left (1 − (100 − uptime) / (100 − target)); < 0 spent
    downtime_allowed: float | None  # seconds of the time watched the SLO's uptime allows down
    downtime: float | None  # seconds of the time watched down, by the share of checks
    compliant: bool | None  # None without an SLO or without checks
    hours: tuple[HourLatency, ...]  # every hour with latency, oldest first
    worst_hours: tuple[HourLatency, ...]  # the highest means (then maxima), worst first


@dataclass(frozen=True, slots=True)
class IncidentTimes:
    """One incident opened in the period and how fast it was handled (seconds)."""

    id: str
    service: str
    rule: str
    kind: str  # its first signal's kind (down, latency, ...), "manual" for one by hand
    severity: str
    state: str
    title: str
    opened_at: float
    acknowledged_at: float | None
    resolved_at: float | None
    tta: float | None  # time to acknowledge; None when never acknowledged
    ttr: float | None  # time to resolve; None while open


@dataclass(frozen=True, slots=True)
class DurationStats:
    """Mean and median of the incidents that have the figure, and how many have it."""

    count: int
    mean: float | None
    median: float | None
    max: float | None


@dataclass(frozen=True, slots=True)
class Count:
    name: str
    count: int


@dataclass(frozen=True, slots=True)
class NotificationCount:
    channel: str
    kind: str  # open, escalation, acknowledged, resolved
    state: str  # sent, failed, pending
    count: int


@dataclass(frozen=True, slots=True)
class Report:
    span: float  # the period asked for (--since, since=), seconds
    since: float  # its start, down to the step the rollups are read at
    until: float
    generated_at: float
    step: float  # the rollup read for uptime: 60 (a day or less) or 3600
    services: tuple[ServiceFigures, ...]
    incidents: tuple[IncidentTimes, ...]  # oldest first
    incidents_truncated: bool  # more than MAX_INCIDENTS opened: the oldest are left out
    tta: DurationStats
    ttr: DurationStats
    causes_by_rule: tuple[Count, ...]
    causes_by_kind: tuple[Count, ...]
    causes_by_service: tuple[Count, ...]
    notifications: tuple[NotificationCount, ...]
