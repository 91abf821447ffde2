"""Every read a view makes beyond the store's live state: history on disk and the rules.

The store is the read model for what is happening now; what it does not hold (incidents
older than the open ones, events the ring has dropped, the audit trail, the alert rules
and their state, the silences) is read here, so views never reach the database or the
engines.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from devmentor_monitor.incidents.explain import AlertReasons, alert_reasons, why_paged
from devmentor_monitor.incidents.flapping import FlapState
from devmentor_monitor.incidents.signals import kind_of, labels_for

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from devmentor_monitor.events.model import Event
    from devmentor_monitor.events.processor import EventProcessor
    from devmentor_monitor.history.model import Point, SeriesStore
    from devmentor_monitor.incidents.flapping import FlapDetector
    from devmentor_monitor.incidents.model import Incident
    from devmentor_monitor.incidents.rules import Alert, BurnReading, Evaluator, Rule
    from devmentor_monitor.incidents.silence_book import SilenceBook
    from devmentor_monitor.incidents.silences import Silence
    from devmentor_monitor.model import AuditEntry, NotificationRecord
    from devmentor_monitor.storage.db import Database
    from devmentor_monitor.store import Store

__all__ = ["Queries"]


class Queries:
    """Reads from SQLite (in its thread), the rule evaluator, the live silences and the
    flap detector."""

    def __init__(
        self,
        db: Database,
        events: EventProcessor,
        evaluator: Evaluator,
        silences: SilenceBook,
        flaps: FlapDetector | None = None,
        clock: Callable[[], float] = time.time,
        store: Store | None = None,
        history: SeriesStore | None = None,
    ) -> None:
        self._db = db
        self._history = history
        self._store = store if store is not None else evaluator.store
        self._events = events
        self._evaluator = evaluator
        self._silences = silences
        self._flaps = flaps
        self._clock = clock

    async def history(self, series: str, since: float, until: float, step: float) -> list[Point]:
        """A stored series over a range, at a step (the tier is chosen by the step); empty
        when nothing is kept (no history store: the TUI's frozen test data)."""
        if self._history is None:
            return []
        return await self._history.query(series, since, until, step)

    async def history_names(self, prefix: str = "") -> list[str]:
        """Stored series names starting with ``prefix``."""
        return [] if self._history is None else await self._history.names(prefix)

    async def history_at(self, series: str, at: float, lookback: float = 300.0) -> Point | None:
        """The newest point of a series at or before ``at`` (no older than ``lookback``):
        what the TUI's time travel shows for that moment; None when nothing was kept."""
        points = await self.history(series, at - lookback, at, 1.0)
        return points[-1] if points else None

    @property
    def shared(self) -> bool:
        """Is the store shared with other instances (PostgreSQL)? Then it, not this
        instance's copy, is what an answer reads."""
        return self._db.shared

    async def incidents_open_at(self, at: float, limit: int = 50) -> list[Incident]:
        """Incidents open at ``at`` (opened_at <= at < resolved_at), newest first."""
        return await self._db.run(self._db.load_incidents, open_at=at, limit=limit)

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

    async def incidents_between(self, since: float, until: float, limit: int) -> list[Incident]:
        """Opened in [since, until), newest first (reports/: `ReportSource`)."""
        return await self._db.run(self._db.load_incidents, since=since, until=until, limit=limit)

    async def notification_counts(
        self, since: float, until: float
    ) -> list[tuple[str, str, str, int]]:
        """(channel, kind, state, count) of notifications created in [since, until)."""
        return await self._db.run(self._db.count_notifications, since, until)

    async def incident(self, incident_id: str) -> Incident | None:
        return await self._db.run(self._db.load_incident, incident_id)

    async def notifications(self, incident_id: str) -> list[NotificationRecord]:
        """Who was notified of an incident and when (the outbox's rows, oldest first)."""
        return await self._db.run(self._db.load_notifications, incident_id)

    async def audit(
        self,
        limit: int = 200,
        *,
        actor: str | None = None,
        action: str | None = None,
        since: float | None = None,
    ) -> list[AuditEntry]:
        """The audit trail, newest first; ``action`` ending in '.' matches a prefix."""
        return await self._db.run(
            self._db.load_audit, limit, actor=actor, action=action, since=since
        )

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

    def flap_state(self, service: str) -> FlapState:
        """Flapping or not, and the percent state change (0.0 … 1.0) it is judged on."""
        if self._flaps is None:
            return FlapState(False, 0.0, 0)
        return self._flaps.state(service)

    def burn_rates(self, service: str) -> list[BurnReading]:
        """The service's burn rate per `alerting.burn_rate` pair, now."""
        return self._evaluator.burn_rates(service, self._clock())

    def why_paged(self, inc: Incident) -> str:
        """incidents/explain.py's one line, with what the views cannot see themselves."""
        store = self._store
        parent = store.incident(inc.parent_id) if inc.parent_id else None
        threshold = (
            store.service_config(inc.service).failure_threshold
            if store.has_service(inc.service)
            else None
        )
        return why_paged(
            inc,
            self._clock(),
            silence=self.silence(inc.silenced_by) if inc.silenced_by else None,
            parent_service=parent.service if parent is not None else None,
            failure_threshold=threshold,
            flapping=self.flap_state(inc.service).flapping,
        )

    def alert_reasons(self, alert: Alert) -> AlertReasons:
        """The open incident holding the alert's signal, the incident inhibiting it, the
        silence muting it."""
        rule = alert.rule
        labels = dict(
            labels_for(
                alert.service,
                rule.name,
                rule.severity,
                kind_of(rule.name, rule.metric),
                alert.subject,
            )
        )
        return alert_reasons(
            (rule.name, alert.subject),
            labels,
            self._store.open_incidents(),
            self.silence_for,
            self.silence,
        )
