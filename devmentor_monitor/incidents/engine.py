"""Incidents: opened by alerts or by hand, deduplicated, acknowledged, resolved, remembered.

Incidents are frozen records: every change is `dataclasses.replace` of the incident as
last written, and this engine is the one writer. A change is written to SQLite before the
caller hears of it (so a 201 survives kill -9), then put in the store for the views, state
and timeline in one new record (nobody reads `resolved` without its `resolved` entry),
then handed to the outbox for notification. Changes to one incident are made one at a
time, in order, each on the one before. A dependent service's incident is linked under
its dependency's and not notified on its own; resolved notifications always go out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from devmentor_monitor.bus import IncidentChange
from devmentor_monitor.incidents.model import Incident, IncidentState, Severity, TimelineEntry
from devmentor_monitor.incidents.recovery import RecoveryRunner
from devmentor_monitor.incidents.rules import HOST, AlertState, Transition
from devmentor_monitor.model import AuditEntry
from devmentor_monitor.storage.db import Database
from devmentor_monitor.store import Store

log = logging.getLogger("devmentor_monitor.incidents")
MONITOR = "monitor"


class Notifier(Protocol):
    async def notify(self, incident: Incident, kind: str, *, suppressed: bool = False) -> int: ...

    async def escalate(
        self, incidents: Iterable[Incident], suppressed: Callable[[Incident], bool] | None = None
    ) -> list[str]: ...


class IncidentError(Exception):
    """A request the engine refuses; ``status`` is the HTTP status that fits."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting and from where, for the timeline and the audit trail."""

    name: str
    source: str  # remote address, "tui", or "monitor"


ENGINE = Actor(MONITOR, MONITOR)


def new_id(now: float) -> str:
    """Sortable and unguessable: inc-<time>-<random>."""
    return f"inc-{int(now):x}-{secrets.token_hex(3)}"


class KeyedLocks:
    """One asyncio.Lock per key, forgotten once nobody holds or waits for it (so a
    long-running monitor does not keep a lock for every incident it ever opened).

    Incidents are frozen, so the lock guards no object: it orders the changes to one
    incident. A change reads the incident as last written, awaits the database write,
    then puts the new record in the store; without the lock a second change could read
    the same record during that await, so two acknowledges would both pass the check, and
    the later put or row would drop the other's timeline entry or write an older state
    over a newer one. Under it, store and disk see each incident's changes in one order,
    each built on the one before."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    @contextlib.asynccontextmanager
    async def __call__(self, key: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key], self._locks[key]


class IncidentEngine:
    def __init__(
        self,
        store: Store,
        db: Database,
        notifier: Notifier | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.db = db
        self.notifier = notifier
        self.clock = clock
        self.recovery = RecoveryRunner(clock)
        self._by_key: dict[tuple[str, str], str] = {}  # (service, rule) → open incident id
        self._locked = KeyedLocks()  # per incident: one change at a time, in order

    async def load(self) -> int:
        """Bring open incidents back from disk after a restart."""
        for inc in await self.db.run(self.db.load_incidents, open_only=True):
            self.store.put_incident(inc)
            if inc.rule != "manual":
                self._by_key[(inc.service, inc.rule)] = inc.id
        return len(self._by_key)

    # ------------------------------------------------------------------ alerts
    async def on_transition(self, t: Transition) -> Incident | None:
        alert = t.alert
        rule = alert.rule
        service = alert.service
        key = (service, rule.name)
        value = "–" if alert.value is None else f"{alert.value:.4g}"
        if t.state is AlertState.FIRING:
            text = (
                f"{rule.name} firing on {alert.subject}: {rule.description} "
                f"(value {value}, threshold {alert.threshold:.4g})"
            )
            existing = self._by_key.get(key)
            if existing and (inc := self.store.incident(existing)) is not None:
                entry = TimelineEntry(t.at, "updated", MONITOR, text)
                return await self._save(inc, [entry])
            return await self._open(
                service,
                rule.name,
                self._severity(service, rule.name, rule.severity),
                f"{service}: {rule.name.replace('_', ' ')}",
                text,
                ENGINE,
                t.at,
            )
        incident_id = self._by_key.get(key)
        inc = self.store.incident(incident_id) if incident_id else None
        if inc is None:
            return None
        return await self._resolve(inc, ENGINE, f"condition cleared (value {value})", t.at)

    def _severity(self, service: str, rule: str, default: Severity) -> Severity:
        """Critical when a service that others depend on is down."""
        if rule == "service_down" and service != HOST and self.store.dependents(service):
            return Severity.CRITICAL
        return default

    def _parent(self, service: str) -> Incident | None:
        """The open 'service_down' incident of a dependency, if one explains this one."""
        if service == HOST or not self.store.has_service(service):
            return None
        for dep in self.store.service_config(service).depends_on:
            incident_id = self._by_key.get((dep, "service_down"))
            if incident_id and (inc := self.store.incident(incident_id)) is not None:
                return inc
        return None

    # ------------------------------------------------------------------ lifecycle
    async def _open(
        self,
        service: str,
        rule: str,
        severity: Severity,
        title: str,
        description: str,
        actor: Actor,
        now: float,
    ) -> Incident:
        parent = self._parent(service)
        inc = Incident(
            id=new_id(now),
            service=service,
            rule=rule,
            severity=severity,
            title=title,
            description=description,
            state=IncidentState.OPEN,
            opened_at=now,
            updated_at=now,
            parent_id=parent.id if parent else None,
        )
        entries = [TimelineEntry(now, "opened", actor.name, description)]
        last = self.store.last_check(service) if self.store.has_service(service) else None
        if last is not None:
            entries.append(
                TimelineEntry(
                    now,
                    "check",
                    MONITOR,
                    "last check: " + ("ok" if last.ok else last.error or "failed"),
                )
            )
        if parent is not None:
            entries.append(
                TimelineEntry(
                    now,
                    "linked",
                    MONITOR,
                    f"caused by {parent.service}'s incident {parent.id}; not notified separately",
                )
            )
        async with self._locked(inc.id):  # new: nothing else knows its id yet
            inc = await self._persist(inc, entries)
        if rule != "manual":
            self._by_key[(service, rule)] = inc.id
        log.warning(
            "incident opened",
            extra={
                "fields": {
                    "id": inc.id,
                    "service": service,
                    "rule": rule,
                    "severity": severity.value,
                }
            },
        )
        await self._notify(inc, "open", suppressed=parent is not None)
        if parent is None:  # a linked incident's cause is its dependency: leave this one be
            inc = await self._recover(inc)
        return inc

    async def _recover(self, inc: Incident) -> Incident:
        if not self.store.has_service(inc.service):
            return inc
        recovery = self.store.service_config(inc.service).recovery
        if recovery is None:
            return inc
        outcome = await self.recovery.run(inc, recovery)
        inc = await self._save(inc, [TimelineEntry(self.clock(), "recovery", MONITOR, outcome)])
        await self.audit(ENGINE, "recovery.run", inc.id, outcome)
        return inc

    async def escalate(self) -> list[Incident]:
        """Notify again about incidents left unacknowledged (the outbox knows how long
        `notifications.escalate_after` is, and remembers, across restarts, what it sent)."""
        if self.notifier is None:
            return []
        ids = await self.notifier.escalate(
            self.store.open_incidents(), suppressed=lambda i: i.parent_id is not None
        )
        done = []
        for incident_id in ids:
            inc = self.store.incident(incident_id)
            if inc is not None:
                inc = await self._save(
                    inc,
                    [
                        TimelineEntry(
                            self.clock(),
                            "escalated",
                            MONITOR,
                            "still unacknowledged: notified again",
                        )
                    ],
                )
                done.append(inc)
        return done

    async def open_manual(
        self, service: str, description: str, severity: Severity, actor: Actor
    ) -> Incident:
        now = self.clock()
        inc = await self._open(
            service, "manual", severity, f"{service}: {description[:80]}", description, actor, now
        )
        await self.audit(actor, "incident.open", inc.id, "ok")
        return inc

    async def acknowledge(self, incident_id: str, actor: Actor, comment: str = "") -> Incident:
        async with self._locked(incident_id):  # checked and changed with nothing between
            inc = self._open_incident(incident_id)
            if inc.state is IncidentState.ACKNOWLEDGED:
                raise IncidentError(
                    409, f"incident {incident_id} is already acknowledged by {inc.acknowledged_by}"
                )
            now = self.clock()
            text = "acknowledged" + (f": {comment}" if comment else "")
            inc = await self._persist(
                inc,
                [TimelineEntry(now, "acknowledged", actor.name, text)],
                state=IncidentState.ACKNOWLEDGED,
                acknowledged_at=now,
                acknowledged_by=actor.name,
                updated_at=now,
            )
        await self.audit(actor, "incident.acknowledge", incident_id, "ok")
        await self._notify(inc, "acknowledged", suppressed=inc.parent_id is not None)
        return inc

    async def resolve(self, incident_id: str, actor: Actor, comment: str = "") -> Incident:
        text = "resolved" + (f": {comment}" if comment else "")
        async with self._locked(incident_id):  # a second resolve finds it gone: 404
            inc = self._open_incident(incident_id)
            inc = await self._persist_resolved(inc, actor, text, self.clock())
        await self._resolved(inc, actor)
        await self.audit(actor, "incident.resolve", incident_id, "ok")
        return inc

    async def _resolve(self, inc: Incident, actor: Actor, text: str, now: float) -> Incident:
        async with self._locked(inc.id):
            inc = await self._latest(inc)
            if not inc.is_open:  # resolved by hand meanwhile
                return inc
            inc = await self._persist_resolved(inc, actor, text, now)
        await self._resolved(inc, actor)
        return inc

    async def _persist_resolved(
        self, inc: Incident, actor: Actor, text: str, now: float
    ) -> Incident:
        ttr = now - inc.opened_at
        return await self._persist(
            inc,
            [TimelineEntry(now, "resolved", actor.name, f"{text}; time to recover {ttr:.0f} s")],
            state=IncidentState.RESOLVED,
            resolved_at=now,
            resolved_by=actor.name,
            updated_at=now,
        )

    async def _resolved(self, inc: Incident, actor: Actor) -> None:
        """After a resolve is on disk and shown: forget the alert key, log, notify."""
        ttr = inc.time_to_recover or 0.0
        self._by_key.pop((inc.service, inc.rule), None)
        log.info(
            "incident resolved",
            extra={"fields": {"id": inc.id, "by": actor.name, "ttr_s": round(ttr, 1)}},
        )
        await self._notify(inc, "resolved")  # resolved notifications always go out

    def _open_incident(self, incident_id: str) -> Incident:
        inc = self.store.incident(incident_id)
        if inc is None:
            raise IncidentError(404, f"no open incident {incident_id!r}")
        return inc

    async def _latest(self, inc: Incident) -> Incident:
        """The incident as last written. ``inc`` may have been read before an await, and
        a change may have landed since; a resolved one has left the store, so it is read
        back from disk (where every change lands first). The caller holds its lock."""
        current = self.store.incident(inc.id)
        if current is not None:
            return current
        if inc.is_open:  # out of the store though open when read: resolved meanwhile
            on_disk = await self.db.run(self.db.load_incident, inc.id)
            if on_disk is not None:
                return on_disk
        return inc

    async def _save(self, inc: Incident, entries: list[TimelineEntry], **changes: Any) -> Incident:
        """Change an incident, after any change to it already under way, and return the
        new record."""
        async with self._locked(inc.id):
            return await self._persist(await self._latest(inc), entries, **changes)

    async def _persist(
        self, inc: Incident, entries: list[TimelineEntry], **changes: Any
    ) -> Incident:
        """Write ``inc`` with ``changes`` and ``entries`` to disk, then put that one new
        record in the store, so a reader sees state and timeline together or neither
        (readers keep seeing the old record until then), and return it. ``inc`` is the
        incident as last written; the caller holds its lock."""
        record = replace(inc, **changes, timeline=(*inc.timeline, *entries))
        await self.db.run(self.db.save_incident, record, entries)  # on disk first
        self.store.put_incident(record)
        change = entries[0].kind if entries else "updated"  # opened, resolved, ...
        self.store.bus.publish("incidents", lambda: IncidentChange(change, record))
        return record

    # ------------------------------------------------------------------ events
    def open_services(self) -> set[str]:
        return {i.service for i in self.store.open_incidents()}

    def open_incident_of(self, service: str) -> Incident | None:
        """The service's newest open incident (events about it join its timeline)."""
        found = [i for i in self.store.open_incidents() if i.service == service]
        return max(found, key=lambda i: i.opened_at) if found else None

    async def add_timeline(self, inc: Incident, entries: list[TimelineEntry]) -> Incident:
        async with self._locked(inc.id):
            inc = await self._latest(inc)
            updated_at = max(inc.updated_at, entries[-1].ts)
            return await self._persist(inc, entries, updated_at=updated_at)

    async def open_from_event(
        self, rule: str, severity: Severity, service: str, title: str, text: str, now: float
    ) -> Incident:
        """An `events.rules` match: open an incident, or add to the one already open."""
        key = f"event:{rule}"
        existing = self._by_key.get((service, key))
        if existing and (inc := self.store.incident(existing)) is not None:
            return await self.add_timeline(inc, [TimelineEntry(now, "event", MONITOR, text)])
        return await self._open(service, key, severity, title, text, ENGINE, now)

    async def _notify(self, inc: Incident, kind: str, *, suppressed: bool = False) -> None:
        if self.notifier is not None:
            await self.notifier.notify(inc, kind, suppressed=suppressed)

    async def audit(self, actor: Actor, action: str, target: str, outcome: str) -> None:
        await self.db.run(
            self.db.audit,
            AuditEntry(self.clock(), actor.name, action, target, actor.source, outcome),
        )
