"""Every read a view makes beyond the store's live state: history on disk and the rules.

The store is the read model for what is happening now; what it does not hold (incidents
older than the open ones, events the ring has dropped, the audit trail, the alert rules
and their state) is read here, so views never reach the database or the engines.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from devmentor_monitor.events.model import Event
    from devmentor_monitor.events.processor import EventProcessor
    from devmentor_monitor.incidents.model import Incident
    from devmentor_monitor.incidents.rules import Alert, Evaluator, Rule
    from devmentor_monitor.model import AuditEntry
    from devmentor_monitor.storage.db import Database

__all__ = ["Queries"]


class Queries:
    """Reads from SQLite (in its thread) and from the rule evaluator."""

    def __init__(self, db: Database, events: EventProcessor, evaluator: Evaluator) -> None:
        self._db = db
        self._events = events
        self._evaluator = evaluator

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
