"""Incident types: frozen records (msgspec Structs: ~0.02 ms each to build, a
dataclass ~1 ms, before ultra's first frame). A change is `msgspec.structs.replace` and a store put,
never an edit in place, so whoever read an incident keeps what they read. No I/O here."""

from __future__ import annotations

from enum import StrEnum

import msgspec


class Severity(StrEnum):
    """Incident severity, in the platform's words (`POST /api/incidents` takes these)."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return ("low", "medium", "high", "critical").index(self.value)


class IncidentState(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class TimelineEntry(msgspec.Struct, frozen=True):
    """One line of an incident's story: a state change, a check, an event, who did what."""

    ts: float
    kind: str  # opened, updated, acknowledged, resolved, check, event, notified, linked, ...
    actor: str  # "monitor" for the engine, else the API key's name
    text: str


SIGNAL_FIRING = "firing"
SIGNAL_CLEARED = "cleared"


class Signal(msgspec.Struct, frozen=True):
    """One thing that fires inside an incident: a rule on a subject (down, latency, a burn
    rate, an anomaly, a platform event, flapping ...). Its service is the incident's own,
    or a dependent's when the incident inhibits it (incidents/inhibit.py)."""

    rule: str
    subject: str
    service: str
    kind: str  # down | latency | error_rate | burn_rate | anomaly | event | flapping | ...
    severity: Severity
    outage: bool  # an outage signal holds its incident open (incidents/signals.py)
    state: str  # SIGNAL_FIRING or SIGNAL_CLEARED
    first_at: float
    last_at: float
    value: float | None = None
    threshold: float | None = None
    labels: tuple[tuple[str, str], ...] = ()

    @property
    def key(self) -> tuple[str, str]:
        return (self.rule, self.subject)

    @property
    def firing(self) -> bool:
        return self.state == SIGNAL_FIRING


class Incident(msgspec.Struct, frozen=True):
    """One incident as last written. The incident engine makes each change with
    `msgspec.structs.replace` and puts the new record in the store; nothing edits one."""

    id: str
    service: str
    rule: str  # the alert rule that opened it, or "manual"
    severity: Severity
    title: str
    description: str
    state: IncidentState
    opened_at: float
    updated_at: float
    acknowledged_at: float | None = None
    acknowledged_by: str | None = None
    resolved_at: float | None = None
    resolved_by: str | None = None
    parent_id: str | None = None  # set when a dependency's incident explains this one
    timeline: tuple[TimelineEntry, ...] = ()
    # Grouping, inhibition and paging (incidents/engine.py, dispatch.py): persisted.
    group_key: str = ""  # the alerting.route.group_by label values: one open incident per key
    signals: tuple[Signal, ...] = ()
    dependents: tuple[str, ...] = ()  # services whose signals it inhibits, named when paged
    page_at: float | None = None  # its first notification is due (after group_wait)
    paged_at: float | None = None  # when it paged (None: never; then no resolved either)
    paged_channels: tuple[str, ...] = ()  # where it paged ("*": every channel)
    notified_rank: int = -1  # severity rank last notified (a rise above it escalates)
    notified_at: float | None = None  # last notification (group_interval counts from it)
    silenced_by: str | None = None  # the silence that mutes it now
    flapping: bool = False  # paged while its service was flapping
    closing_note: str = ""  # what still fired when it resolved (a burn outliving it)

    @property
    def is_open(self) -> bool:
        return self.state is not IncidentState.RESOLVED

    @property
    def time_to_recover(self) -> float | None:
        return None if self.resolved_at is None else self.resolved_at - self.opened_at
