"""Incidents: opened by alerts or by hand, deduplicated, acknowledged, resolved, remembered.

Incidents are frozen records: every change is `msgspec.structs.replace` of the incident as
last written, and this engine is the one writer. A change is written to SQLite before the
caller hears of it (so a 201 survives kill -9), then put in the store for the views, state
and timeline in one new record (nobody reads `resolved` without its `resolved` entry),
then handed to the dispatcher (incidents/dispatch.py) for notification. Changes to one
incident are made one at a time, in order, each on the one before.

One incident per problem: everything that fires for one group (`alerting.route.group_by`,
default the service) while its incident is open joins it as a signal (incidents/signals.py).
A dependent service's signals join its dependency's incident while that one has a firing
outage signal (incidents/inhibit.py), and are not notified on their own. An incident
resolves when its holding signals have cleared (its outage signals; without any, all its
signals); what still fires then goes in its closing note.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from msgspec.structs import replace

from devmentor_monitor.bus import IncidentChange
from devmentor_monitor.incidents.dispatch import EVERY_CHANNEL, NotificationDispatcher, Notifier
from devmentor_monitor.incidents.inhibit import Inhibitor
from devmentor_monitor.incidents.model import (
    SIGNAL_CLEARED,
    Incident,
    IncidentState,
    Severity,
    Signal,
    TimelineEntry,
)
from devmentor_monitor.incidents.recovery import RecoveryRunner
from devmentor_monitor.incidents.rules import HOST, AlertState, Transition
from devmentor_monitor.incidents.signals import (
    EVENT_PREFIX,
    clears,
    from_transition,
    group_key,
    make_signal,
    signal_group,
)
from devmentor_monitor.model import AuditEntry
from devmentor_monitor.notify.routes import DEFAULT_GROUP_BY
from devmentor_monitor.storage.db import Database
from devmentor_monitor.store import Store

log = logging.getLogger("devmentor_monitor.incidents")
MONITOR = "monitor"


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
    import secrets  # at the first incident: with hashlib, ~0.7 MiB RSS in `ultra`

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
        *,
        group_by: Sequence[str] = DEFAULT_GROUP_BY,
        group_wait: float = 0.0,
    ) -> None:
        """``group_wait``: when no route is set (tests, and the defaults before the
        runtime configures the dispatcher), how long a new incident waits to page."""
        self.store = store
        self.db = db
        self.notifier = notifier
        self.clock = clock
        self.recovery = RecoveryRunner(clock)
        self.group_by = tuple(group_by)
        self.inhibitor = Inhibitor(store)
        self.dispatcher = NotificationDispatcher(
            self, notifier, self.inhibitor, clock=clock, group_wait=group_wait
        )
        self._by_group: dict[str, str] = {}  # group key → open incident id
        self._home: dict[tuple[str, str], str] = {}  # signal (rule, subject) → incident id
        self._locked = KeyedLocks()  # per incident: one change at a time, in order
        self._grouping = KeyedLocks()  # per group key: one look-up-or-open at a time
        # dependents' signals still firing as their root resolved: (signal, open after)
        self._held: dict[tuple[str, str], tuple[Signal, float]] = {}

    async def load(self) -> int:
        """Bring open incidents back from disk after a restart: their groups, signals
        and paging state (the dispatcher resumes a page that was due, never repeats one)."""
        for inc in await self.db.run(self.db.load_incidents, open_only=True):
            if not inc.group_key and inc.rule != "manual":  # written before grouping
                inc = replace(inc, group_key=group_key({"service": inc.service}, self.group_by))
                if inc.paged_at is None:  # it notified the old way, at once
                    inc = replace(
                        inc,
                        paged_at=inc.opened_at,
                        paged_channels=(EVERY_CHANNEL,),
                        notified_rank=inc.severity.rank,
                    )
                if not inc.signals:  # its rule firing again, then clearing, resolves it
                    sig = make_signal(
                        inc.rule, inc.service, inc.service, inc.severity, True, inc.opened_at
                    )
                    inc = replace(inc, signals=(sig,))
            self.store.put_incident(inc)
            if inc.group_key:
                self._by_group[inc.group_key] = inc.id
            for sig in inc.signals:
                self._home[sig.key] = inc.id
            if inc.flapping and inc.paged_at is not None:
                self.dispatcher.paged_while_flapping(inc.service)
        return len(self.store.open_incidents())

    async def reload(self) -> int:
        """The open incidents as the shared store has them now, indexes rebuilt: what an
        instance does when it takes the fleet's lead (another engine wrote them)."""
        self._by_group.clear()
        self._home.clear()
        return await self.load()

    def homed(self, key: tuple[str, str]) -> bool:
        """Does an open incident hold this signal (rule, subject)?"""
        return key in self._home

    def incident_of_group(self, key: str) -> Incident | None:
        incident_id = self._by_group.get(key)
        return self.store.incident(incident_id) if incident_id else None

    # ------------------------------------------------------------------ signals
    async def on_transition(self, t: Transition) -> Incident | None:
        """A rule's transition, as a signal."""
        alert = t.alert
        return await self.on_signal(
            from_transition(t, self._severity(alert.service, alert.rule.name, alert.rule.severity))
        )

    def order(self, transitions: Sequence[Transition]) -> list[Transition]:
        """The order to act on one evaluation's transitions in: what cleared first,
        dependents before their dependencies (so a root resolving does not reopen a
        dependent that recovered in the same tick), then what fired, dependencies first
        (so a dependent's signal finds its root's incident)."""

        def depth(t: Transition) -> int:
            return len(self.inhibitor.dependencies(t.alert.service))

        cleared = [t for t in transitions if t.state is not AlertState.FIRING]
        fired = [t for t in transitions if t.state is AlertState.FIRING]
        return sorted(cleared, key=depth, reverse=True) + sorted(fired, key=depth)

    async def on_signal(self, sig: Signal) -> Incident | None:
        """A signal fired or cleared: join, open, update or resolve an incident."""
        self._held.pop(sig.key, None)  # news of a held signal: it goes the usual way
        if sig.firing:
            return await self._fire(sig)
        return await self._clear(sig)

    def _severity(self, service: str, rule: str, default: Severity) -> Severity:
        """Critical when a service that others depend on is down."""
        if rule == "service_down" and service != HOST and self.store.dependents(service):
            return Severity.CRITICAL
        return default

    async def _fire(
        self, sig: Signal, *, title: str | None = None, text: str | None = None
    ) -> Incident:
        home_id = self._home.get(sig.key)
        home = self.store.incident(home_id) if home_id else None
        if home is not None:
            inc = await self._attach(home, sig, text)
        elif (root := self.inhibitor.root_for(sig.service)) is not None:
            inc = await self._attach(root, sig, text)
        else:
            # Looked up and opened under the group's lock: the alert loop and the event
            # processor firing for one group at once open one incident, not two (opening
            # awaits the database before the group knows its incident).
            key = signal_group(sig, self.group_by)
            async with self._grouping(key):
                grouped = self.incident_of_group(key)
                if grouped is None:
                    opened = await self._open_signal(sig, title, text)
            inc = opened if grouped is None else await self._attach(grouped, sig, text)
        if inc.is_open and sig.outage and sig.service == inc.service:
            inc = await self._merge_dependents(inc)
        return inc

    async def _attach(self, inc: Incident, sig: Signal, text: str | None = None) -> Incident:
        """Put ``sig`` in ``inc`` (new, or firing again), with a timeline entry when it is
        news; a dependent's signal lists its service among the dependents."""
        opened: Incident | None = None
        async with self._locked(inc.id):
            inc = await self._latest(inc)
            if not inc.is_open:  # resolved meanwhile: start afresh
                opened = None
            else:
                opened = inc
                before = next((s for s in inc.signals if s.key == sig.key), None)
                entries: list[TimelineEntry] = []
                changes: dict[str, Any] = {}
                own = sig.service == inc.service
                if before is None:
                    merged = sig
                    entries.append(TimelineEntry(sig.last_at, "signal", MONITOR, _fired(sig, text)))
                else:
                    merged = replace(sig, first_at=before.first_at)
                    if not before.firing and not _flapping(inc):  # flapping: not each flip
                        entries.append(
                            TimelineEntry(sig.last_at, "signal", MONITOR, _fired(sig, text))
                        )
                    elif sig.kind == "event":
                        entries.append(
                            TimelineEntry(sig.last_at, "event", MONITOR, text or _fired(sig))
                        )
                if not own and sig.service not in inc.dependents:
                    changes["dependents"] = (*inc.dependents, sig.service)
                if not own and not any(s.service == sig.service for s in inc.signals):
                    entries.append(
                        TimelineEntry(
                            sig.last_at,
                            "linked",
                            MONITOR,
                            f"{sig.service} depends on {inc.service}: its signals join this "
                            "incident and are not notified separately",
                        )
                    )
                if own and sig.severity.rank > inc.severity.rank:
                    changes["severity"] = sig.severity
                    entries.append(
                        TimelineEntry(
                            sig.last_at,
                            "severity",
                            MONITOR,
                            f"severity rose from {inc.severity.value} to {sig.severity.value}",
                        )
                    )
                if before is None:
                    signals = (*inc.signals, merged)
                else:  # keep its place
                    signals = tuple(merged if s.key == sig.key else s for s in inc.signals)
                updated_at = max(inc.updated_at, sig.last_at) if entries else inc.updated_at
                opened = await self._persist(
                    inc, entries, signals=signals, updated_at=updated_at, **changes
                )
        if opened is None:
            self._home.pop(sig.key, None)
            return await self._fire(sig, text=text)
        self._home[sig.key] = opened.id
        return opened

    async def _open_signal(self, sig: Signal, title: str | None, text: str | None) -> Incident:
        description = text or _fired(sig)
        inc = await self._open(
            sig.service,
            sig.rule,
            sig.severity,
            title or f"{sig.service}: {sig.rule.replace('_', ' ')}",
            description,
            ENGINE,
            sig.first_at,
            signal=sig,
        )
        return inc

    async def _merge_dependents(self, root: Incident) -> Incident:
        """Dependents' incidents still unpaged when their root opens join it, and close
        ("merged into …") without a notification."""
        for other in self.store.open_incidents():
            if (
                other.id == root.id
                or other.paged_at is not None
                or other.rule == "manual"
                or not self.inhibitor.depends_on(other.service, root.service)
            ):
                continue
            now = self.clock()
            async with self._locked(other.id):
                other = await self._latest(other)
                if not other.is_open or other.paged_at is not None:
                    continue
                other = await self._persist(
                    other,
                    [
                        TimelineEntry(
                            now,
                            "resolved",
                            MONITOR,
                            f"merged into {root.service}'s incident {root.id}: "
                            f"{other.service} depends on {root.service}",
                        )
                    ],
                    state=IncidentState.RESOLVED,
                    resolved_at=now,
                    resolved_by=MONITOR,
                    updated_at=now,
                )
            if self._by_group.get(other.group_key) == other.id:
                del self._by_group[other.group_key]
            for sig in other.signals:
                self._home.pop(sig.key, None)
                if sig.firing:
                    root = await self._attach(root, sig)
            log.info(
                "incident merged",
                extra={"fields": {"id": other.id, "into": root.id, "service": other.service}},
            )
        return root

    async def _clear(self, sig: Signal) -> Incident | None:
        home_id = self._home.get(sig.key)
        inc = self.store.incident(home_id) if home_id else None
        if inc is None:
            self._home.pop(sig.key, None)
            return None
        resolving = False
        async with self._locked(inc.id):
            inc = await self._latest(inc)
            if not inc.is_open:
                return inc
            before = next((s for s in inc.signals if s.key == sig.key), None)
            if before is None or not before.firing:
                return inc
            cleared = replace(before, state=SIGNAL_CLEARED, last_at=sig.last_at, value=sig.value)
            signals = tuple(cleared if s.key == sig.key else s for s in inc.signals)
            value = "–" if sig.value is None else f"{sig.value:.4g}"
            entry = TimelineEntry(
                sig.last_at,
                "cleared",
                MONITOR,
                f"{sig.rule} cleared on {sig.subject} (value {value})",
            )
            quiet = _flapping(inc) and sig.kind != "flapping"  # not each flip in the timeline
            if self._holding_cleared(inc, signals):
                note = self._closing_note(inc, signals)
                text = f"condition cleared (value {value})"
                inc = await self._persist_resolved(
                    replace(inc, signals=signals, closing_note=note),
                    ENGINE,
                    text + (f"; {note}" if note else ""),
                    sig.last_at,
                    [entry],
                )
                resolving = True
            else:
                inc = await self._persist(
                    inc, [] if quiet else [entry], signals=signals, updated_at=sig.last_at
                )
        if resolving:
            await self._resolved(inc, ENGINE)
        return inc

    def _own(self, inc: Incident, signals: Sequence[Signal]) -> list[Signal]:
        return [
            s
            for s in signals
            if s.service == inc.service
            and (not inc.group_key or signal_group(s, self.group_by) == inc.group_key)
        ]

    def _holding_cleared(self, inc: Incident, signals: Sequence[Signal]) -> bool:
        """Have the incident's holding signals all cleared? Holding: its own outage
        signals that clear by themselves, and its own non-burn signals firing since
        before the outage; without any outage, its own signals that clear."""
        own = [s for s in self._own(inc, signals) if clears(s.kind)]
        outages = [s for s in own if s.outage]
        if not outages:
            return bool(own) and not any(s.firing for s in own)
        # a problem of its own that was there before the outage outlives it: it holds too
        began = min(s.first_at for s in outages)
        before = [
            s for s in own if not s.outage and s.kind not in NEVER_REFIRED and s.first_at <= began
        ]
        return not any(s.firing for s in outages + before)

    def _closing_note(self, inc: Incident, signals: Sequence[Signal]) -> str:
        """What of its own still fires as it resolves (a burn outliving the outage)."""
        still = [s for s in self._own(inc, signals) if s.firing and clears(s.kind)]
        if not still:
            return ""
        parts = []
        for s in still:
            value = "" if s.value is None else f" at {s.value:.3g}"
            limit = "" if s.threshold is None else f" (threshold {s.threshold:.3g})"
            parts.append(f"{s.rule}{value}{limit}")
        return (
            "still firing at resolve, not holding it open: "
            + "; ".join(parts)
            + f"; see the service {inc.service}"
        )

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
        *,
        signal: Signal | None = None,
    ) -> Incident:
        labels = dict(signal.labels) if signal is not None else {"service": service}
        key = group_key(labels, self.group_by) if signal is not None else ""
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
            group_key=key,
            signals=(signal,) if signal is not None else (),
        )
        inc = replace(
            inc,
            page_at=now
            if signal is None
            else self.dispatcher.page_at(self.dispatcher.labels(inc), now),
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
        async with self._locked(inc.id):  # new: nothing else knows its id yet
            inc = await self._persist(inc, entries)
        if key:
            self._by_group[key] = inc.id
        if signal is not None:
            self._home[signal.key] = inc.id
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
        if inc.page_at is not None and inc.page_at <= now:
            inc = await self.dispatcher.consider(inc, now)
        return await self._recover(inc)

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
            self.store.open_incidents(),
            # never paged, silenced, or explained by a parent: no reminder either
            suppressed=lambda i: (
                i.paged_at is None or i.silenced_by is not None or i.parent_id is not None
            ),
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
        await self.dispatcher.acknowledged(inc)
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
        self,
        inc: Incident,
        actor: Actor,
        text: str,
        now: float,
        before: list[TimelineEntry] | None = None,
    ) -> Incident:
        ttr = now - inc.opened_at
        return await self._persist(
            inc,
            [
                *(before or []),
                TimelineEntry(now, "resolved", actor.name, f"{text}; time to recover {ttr:.0f} s"),
            ],
            state=IncidentState.RESOLVED,
            resolved_at=now,
            resolved_by=actor.name,
            updated_at=now,
        )

    async def _resolved(self, inc: Incident, actor: Actor) -> None:
        """After a resolve is on disk and shown: forget its group and signals, log,
        notify (resolved goes out for anything that paged). A dependent's signal still
        firing is a problem of its own now: it opens (or joins) another incident."""
        ttr = inc.time_to_recover or 0.0
        if inc.group_key and self._by_group.get(inc.group_key) == inc.id:
            del self._by_group[inc.group_key]
        for sig in inc.signals:
            if self._home.get(sig.key) == inc.id:
                del self._home[sig.key]
        log.info(
            "incident resolved",
            extra={"fields": {"id": inc.id, "by": actor.name, "ttr_s": round(ttr, 1)}},
        )
        await self.dispatcher.resolved(inc)
        now = self.clock()
        for sig in inc.signals:
            if not (sig.firing and sig.service != inc.service and clears(sig.kind)):
                continue
            if sig.kind in NEVER_REFIRED:  # an outage's aftermath: the closing note only
                continue
            # recovering a check later than the root is no new problem: hold it a while
            self._held[sig.key] = (sig, now + self._grace(sig))
        await self.release_held()

    def _grace(self, sig: Signal) -> float:
        """How long a dependent's signal may outlive its root's recovery unpaged: its
        checks' successes needed to recover, and the group_wait a new incident waits."""
        wait = self.dispatcher.timing(dict(sig.labels)).group_wait
        if not self.store.has_service(sig.service):
            return wait
        cfg = self.store.service_config(sig.service)
        return cfg.success_threshold * cfg.interval + wait

    async def release_held(self) -> None:
        """Open incidents for held dependents' signals still firing past their grace."""
        now = self.clock()
        due = [key for key, (_, at) in self._held.items() if at <= now]
        for key in due:
            sig, _ = self._held.pop(key)
            try:
                await self._fire(replace(sig, first_at=now, last_at=now))
            except Exception as exc:  # one failed write must not lose the rest
                log.error("dependent signal not reopened", exc_info=exc)

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

    async def save(self, inc: Incident, entries: list[TimelineEntry], **changes: Any) -> Incident:
        """`_save`, for the dispatcher (paging state, silences)."""
        return await self._save(inc, entries, **changes)

    def locked(self, incident_id: str) -> contextlib.AbstractAsyncContextManager[None]:
        """The incident's lock, for the dispatcher (a page checked, recorded and queued
        with no resolve between)."""
        return self._locked(incident_id)

    async def latest(self, inc: Incident) -> Incident:
        """`_latest`, for the dispatcher; the caller holds the incident's lock."""
        return await self._latest(inc)

    async def persist(
        self, inc: Incident, entries: list[TimelineEntry], **changes: Any
    ) -> Incident:
        """`_persist`, for the dispatcher; the caller holds the incident's lock."""
        return await self._persist(inc, entries, **changes)

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
        kinds = [e.kind for e in entries]
        change = next(  # opened, acknowledged, resolved, ... (what changed most)
            (k for k in ("opened", "resolved", "acknowledged") if k in kinds),
            kinds[0] if kinds else "updated",
        )
        self.store.bus.publish("incidents", lambda: IncidentChange(change, record))
        return record

    # ------------------------------------------------------------------ events
    def open_services(self) -> set[str]:
        """Services with an open incident, theirs or a dependency's that inhibits them."""
        out = set()
        for inc in self.store.open_incidents():
            out.add(inc.service)
            out.update(inc.dependents)
        return out

    def open_incident_of(self, service: str) -> Incident | None:
        """The service's newest open incident, else the incident that inhibits it (events
        about it join that timeline)."""
        found = [i for i in self.store.open_incidents() if i.service == service]
        if found:
            return max(found, key=lambda i: i.opened_at)
        return self.inhibitor.root_for(service)

    async def add_timeline(self, inc: Incident, entries: list[TimelineEntry]) -> Incident:
        async with self._locked(inc.id):
            inc = await self._latest(inc)
            updated_at = max(inc.updated_at, entries[-1].ts)
            return await self._persist(inc, entries, updated_at=updated_at)

    async def open_from_event(
        self, rule: str, severity: Severity, service: str, title: str, text: str, now: float
    ) -> Incident:
        """An `events.rules` match: a signal of its service. It joins the service's open
        incident (or its dependency's), or opens one. An event does not clear: an incident
        it alone opened stays open until resolved by hand."""
        sig = make_signal(f"{EVENT_PREFIX}{rule}", service, service, severity, True, now)
        return await self._fire(sig, title=title, text=text)

    async def audit(self, actor: Actor, action: str, target: str, outcome: str) -> None:
        await self.db.run(
            self.db.audit,
            AuditEntry(self.clock(), actor.name, action, target, actor.source, outcome),
        )


NEVER_REFIRED = frozenset({"burn_rate", "budget"})


def _fired(sig: Signal, text: str | None = None) -> str:
    if text:
        return text
    value = "–" if sig.value is None else f"{sig.value:.4g}"
    limit = "" if sig.threshold is None else f", threshold {sig.threshold:.4g}"
    what = f"{sig.kind}, {sig.severity.value}; value {value}{limit}"
    return f"{sig.rule} firing on {sig.subject} ({what})"


def _flapping(inc: Incident) -> bool:
    """Is the incident's service flapping (its flapping signal firing)?"""
    return any(s.kind == "flapping" and s.firing for s in inc.signals)
