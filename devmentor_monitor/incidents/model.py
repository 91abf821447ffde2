"""Incident types: frozen records. A change is `dataclasses.replace` and a store put,
never an edit in place, so whoever read an incident keeps what they read. No I/O here."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


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


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One line of an incident's story: a state change, a check, an event, who did what."""

    ts: float
    kind: str  # opened, updated, acknowledged, resolved, check, event, notified, linked, ...
    actor: str  # "monitor" for the engine, else the API key's name
    text: str


@dataclass(frozen=True, slots=True)
class Incident:
    """One incident as last written. The incident engine makes each change with
    `dataclasses.replace` and puts the new record in the store; nothing edits one."""

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

    @property
    def is_open(self) -> bool:
        return self.state is not IncidentState.RESOLVED

    @property
    def time_to_recover(self) -> float | None:
        return None if self.resolved_at is None else self.resolved_at - self.opened_at
