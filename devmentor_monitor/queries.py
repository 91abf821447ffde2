"""Every read a view makes beyond the store's live state: history on disk and the rules.

The store is the read model for what is happening now; what it does not hold (incidents
older than the open ones, events the ring has dropped, the audit trail, the alert rules
and their state, the silences) is read here, so views never reach the database or the
engines.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

    from devmentor_monitor.events.model import Event
    from devmentor_monitor.events.processor import EventProcessor
    from devmentor_monitor.incidents.model import Incident
    from devmentor_monitor.incidents.rules import Alert, Evaluator, Rule
    from devmentor_monitor.incidents.silence_book import SilenceBook
    from devmentor_monitor.incidents.silences import Silence
    from devmentor_monitor.model import AuditEntry
    from devmentor_monitor.storage.db import Database

__all__ = ["Queries"]


class Queries:
    """Reads from SQLite (in its thread), the rule evaluator and the live silences."""

    def __init__(
        self,
        db: Database,
        events: EventProcessor,
        evaluator: Evaluator,
        silences: SilenceBook,
    ) -> None:
        self._db = db
        self._events = events
        self._evaluator = evaluator
        self._silences = silences

    async def events(self, limit: int, **filters: Any) -> list[Event]:
        """Newest first, from disk; events still queued for disk are written first."""
        await self._events.flush()
        return await self._db.run(self._db.load_events, limit=limit, **filters)

    async def incidents(
        self,
        *,
        state: str | None = None,
        service: str | None = None,
        severity: str | None = None,
        since: float | None = None,
        limit: int = 500,
    ) -> list[Incident]:
        return await self._db.run(
            self._db.load_incidents,
            state=state,
            service=service,
            severity=severity,
            since=since,
            limit=limit,
        )

    async def incident(self, incident_id: str) -> Incident | None:
        return await self._db.run(self._db.load_incident, incident_id)

    async def audit(self, limit: int = 200) -> list[AuditEntry]:
        return await self._db.run(self._db.load_audit, limit)

    def rules(self) -> list[Rule]:
        return list(self._evaluator.rules)

    def alerts(self) -> list[Alert]:
        """Every alert the rules raised, in whatever state it is (by rule, subject)."""
        return sorted(self._evaluator.alerts.values(), key=lambda a: (a.rule.name, a.subject))

    def silences(self, include_expired: bool = False) -> list[Silence]:
        """Pending and active silences, newest first (expired ones too if asked, until
        retention purges them), then the maintenance windows open now."""
        return self._silences.listed(include_expired=include_expired)

    def silence(self, silence_id: str) -> Silence | None:
        return self._silences.get(silence_id)

    def silence_for(self, labels: Mapping[str, str]) -> Silence | None:
        """The silence in force now that matches ``labels`` ({service, rule, severity})."""
        return self._silences.match(labels)
