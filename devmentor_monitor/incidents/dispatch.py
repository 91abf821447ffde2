"""Paging: when an incident notifies, where, and when it stays quiet.

Copied from Alertmanager's dispatcher, with an incident as the group:

- `group_wait`: an incident's first notification waits this long after it opens
  (`page_at`), so the root's page can name the dependents that started failing meanwhile,
  and a problem that clears within it sends nothing at all (AM's needsUpdate: a group
  resolved before it ever notified is not announced);
- `group_interval`: a later change (a severity rise: one "escalation") waits this long
  after the last notification;
- `repeat_interval` (0: off): an open, unacknowledged incident is notified again this often;
- the channels come from the route tree (notify/routes.py) for the incident's labels.

A silenced incident (incidents/silences.py) is recorded, marked `silenced_by`, and sends
nothing; a flapping service (incidents/flapping.py) pages at most once while it flaps.
Resolved goes to exactly the channels that were paged, silenced or not; an incident that
never paged sends no resolved. What was paged and when is on the incident (persisted), so
a restart neither pages again nor forgets a page that was due.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from msgspec.structs import replace

from devmentor_monitor.incidents.flapping import FlapDetector
from devmentor_monitor.incidents.inhibit import Inhibitor
from devmentor_monitor.incidents.model import Incident, IncidentState, TimelineEntry
from devmentor_monitor.incidents.signals import kind_of
from devmentor_monitor.incidents.silences import Silences
from devmentor_monitor.notify.routes import (
    DEFAULT_GROUP_INTERVAL,
    DEFAULT_GROUP_WAIT,
    DEFAULT_REPEAT_INTERVAL,
    Route,
)
from devmentor_monitor.store import Store

log = logging.getLogger("devmentor_monitor.incidents")
MONITOR = "monitor"
EVERY_CHANNEL = "*"  # paged_channels when no route names channels: every active channel


class Notifier(Protocol):
    """The outbox (notify/outbox.py). ``channels``: only these (None: every channel)."""

    async def notify(
        self,
        incident: Incident,
        kind: str,
        *,
        suppressed: bool = False,
        channels: Sequence[str] | None = None,
    ) -> int: ...

    async def escalate(
        self, incidents: Iterable[Incident], suppressed: Callable[[Incident], bool] | None = None
    ) -> list[str]: ...


class Writer(Protocol):
    """What the dispatcher needs of the incident engine: the store, and a change to an
    incident made after any change already under way (under the incident's lock)."""

    store: Store

    async def save(
        self, inc: Incident, entries: list[TimelineEntry], **changes: Any
    ) -> Incident: ...

    def locked(self, incident_id: str) -> AbstractAsyncContextManager[None]:
        """The incident's lock (what `save` takes)."""
        ...

    async def latest(self, inc: Incident) -> Incident:
        """The incident as last written (under its lock)."""
        ...

    async def persist(
        self, inc: Incident, entries: list[TimelineEntry], **changes: Any
    ) -> Incident:
        """`save` for a caller already holding the incident's lock."""
        ...


@dataclass(frozen=True, slots=True)
class Timing:
    """The routed channels (None: every channel) and the group timers for one incident."""

    channels: tuple[str, ...] | None
    group_wait: float
    group_interval: float
    repeat_interval: float


class NotificationDispatcher:
    def __init__(
        self,
        writer: Writer,
        notifier: Notifier | None,
        inhibitor: Inhibitor,
        *,
        clock: Callable[[], float] = time.time,
        route: Route | None = None,
        silences: Silences | None = None,
        flaps: FlapDetector | None = None,
        group_wait: float = DEFAULT_GROUP_WAIT,
        group_interval: float = DEFAULT_GROUP_INTERVAL,
        repeat_interval: float = DEFAULT_REPEAT_INTERVAL,
    ) -> None:
        self.writer = writer
        self.notifier = notifier
        self.inhibitor = inhibitor
        self.clock = clock
        self.route = route
        self.silences = silences if silences is not None else Silences()
        self.flaps = flaps
        self.group_wait = group_wait
        self.group_interval = group_interval
        self.repeat_interval = repeat_interval
        self._flap_paged: set[str] = set()  # services paged during their current flapping
        self._busy: set[str] = set()  # incidents being considered (one page, not two)

    # ------------------------------------------------------------------ reading
    def labels(self, inc: Incident) -> dict[str, str]:
        """The incident's labels: its opening signal's, with its current severity."""
        own = [s for s in inc.signals if s.service == inc.service]
        out = dict(own[0].labels) if own else {"kind": kind_of(inc.rule) if inc.rule else ""}
        out.update(service=inc.service, rule=inc.rule, severity=inc.severity.value)
        if inc.rule == "manual":
            out["kind"] = "manual"
        return out

    def timing(self, labels: Mapping[str, str]) -> Timing:
        if self.route is None:
            return Timing(None, self.group_wait, self.group_interval, self.repeat_interval)
        matches = self.route.route_for(labels)
        channels = tuple(dict.fromkeys(c for m in matches for c in m.channels))
        first = matches[0]
        return Timing(channels, first.group_wait, first.group_interval, first.repeat_interval)

    def page_at(self, labels: Mapping[str, str], now: float) -> float:
        """When a new incident with these labels pages (group_wait after now)."""
        return now + self.timing(labels).group_wait

    def silence_for(self, inc: Incident, now: float) -> str | None:
        silence = self.silences.match(self.labels(inc), now)
        return None if silence is None else silence.id

    def paged_while_flapping(self, service: str) -> None:
        """An incident restored at start paged while ``service`` was flapping."""
        self._flap_paged.add(service)

    # ------------------------------------------------------------------ ticking
    async def tick(self, now: float | None = None) -> None:
        """Send what is due for every open incident (the alert loop calls this each second)."""
        now = self.clock() if now is None else now
        if self.flaps is not None:
            self._flap_paged &= set(self.flaps.flapping())
        for inc in self.writer.store.open_incidents():
            try:
                await self.consider(inc, now)
            except Exception as exc:  # one incident's failed write must not stop the rest
                log.error(
                    "notification dispatch failed", exc_info=exc, extra={"fields": {"id": inc.id}}
                )

    async def consider(self, inc: Incident, now: float) -> Incident:
        """Page, escalate or repeat ``inc`` if due; record a silence starting or ending."""
        if inc.id in self._busy:  # the alert loop and an event's open at once: one of them
            return inc
        # ``inc`` may be a snapshot from before a page that has happened since (the
        # tick's list of open incidents, read before it awaited another's page).
        current = self.writer.store.incident(inc.id)
        if current is None:  # resolved meanwhile
            return inc
        inc = current
        self._busy.add(inc.id)
        try:
            return await self._consider(inc, now)
        finally:
            self._busy.discard(inc.id)

    async def _consider(self, inc: Incident, now: float) -> Incident:
        labels = self.labels(inc)
        silence = self.silences.match(labels, now)
        sid = None if silence is None else silence.id
        if sid != inc.silenced_by:
            text = (
                f"silenced by {silence.created_by}: {silence.comment}".rstrip(": ")
                if silence is not None
                else "no longer silenced"
            )
            kind = "silenced" if silence is not None else "unsilenced"
            inc = await self.writer.save(
                inc, [TimelineEntry(now, kind, MONITOR, text)], silenced_by=sid
            )
        if silence is not None or inc.parent_id is not None or self.notifier is None:
            return inc
        if not inc.is_open:
            return inc
        timing = self.timing(labels)
        if inc.paged_at is None:
            if inc.page_at is None or now < inc.page_at:
                return inc
            flapping = self.flaps is not None and self.flaps.state(inc.service).flapping
            if flapping and inc.service in self._flap_paged:
                return inc  # paged once while flapping: that is enough
            return await self._page(inc, timing, now, flapping)
        last = inc.notified_at if inc.notified_at is not None else inc.paged_at
        # A severity rise is news even when acknowledged (what was acknowledged was less).
        if inc.severity.rank > inc.notified_rank and now - last >= timing.group_interval:
            return await self._again(
                inc,
                timing,
                now,
                f"severity rose to {inc.severity.value}: notified again",
                notified_rank=inc.severity.rank,
            )
        if inc.state is not IncidentState.OPEN:  # acknowledged: someone is on it
            return inc
        if timing.repeat_interval > 0 and now - last >= timing.repeat_interval:
            return await self._again(inc, timing, now, "still open: notified again (repeat)")
        return inc

    async def _page(self, inc: Incident, timing: Timing, now: float, flapping: bool) -> Incident:
        """Under the incident's lock, so a resolve comes wholly before (nothing is paged)
        or wholly after (it finds `paged_at` and sends resolved): a page is never left
        without its resolved. The paging state is on disk before anything is queued, so
        a restart never pages twice."""
        assert self.notifier is not None
        if timing.channels == ():  # routed nowhere (none left by ALERT_CHANNELS): no page
            return inc
        async with self.writer.locked(inc.id):
            inc = await self.writer.latest(inc)
            if not inc.is_open or inc.paged_at is not None:  # resolved or paged meanwhile
                return inc
            deps = tuple(
                dict.fromkeys([*inc.dependents, *self.inhibitor.failing_dependents(inc.service)])
            )
            where = "every channel" if timing.channels is None else ", ".join(timing.channels)
            why = (
                f"paged ({where}): {inc.rule} on {inc.service}, severity {inc.severity.value}, "
                f"{now - inc.opened_at:.0f} s after it opened (group_wait {timing.group_wait:g} s)"
            )
            if deps:
                why += f"; dependents affected: {', '.join(deps)}"
            if flapping:
                why += "; the service is flapping: no further page while it flaps"
                self._flap_paged.add(inc.service)
            inc = await self.writer.persist(
                inc,
                [],
                dependents=deps,
                paged_at=now,
                paged_channels=(EVERY_CHANNEL,) if timing.channels is None else timing.channels,
                notified_rank=inc.severity.rank,
                notified_at=now,
                flapping=flapping,
            )
            queued = await self._send(inc, "open", timing.channels)
            if queued:  # nothing queued (no channel wants it): no page to tell of
                inc = await self.writer.persist(inc, [TimelineEntry(now, "notified", MONITOR, why)])
            return inc

    async def _again(
        self, inc: Incident, timing: Timing, now: float, text: str, **changes: Any
    ) -> Incident:
        await self._send(inc, "escalation", _paged(inc) or timing.channels)
        return await self.writer.save(
            inc, [TimelineEntry(now, "escalated", MONITOR, text)], notified_at=now, **changes
        )

    # ------------------------------------------------------------------ after changes
    async def resolved(self, inc: Incident) -> None:
        """Resolved goes to the channels that were paged, silenced or not; nothing if it
        never paged."""
        if self.notifier is None or inc.paged_at is None or not inc.paged_channels:
            return
        await self._send(inc, "resolved", _paged(inc))

    async def acknowledged(self, inc: Incident) -> None:
        if (
            self.notifier is None
            or inc.paged_at is None
            or not inc.paged_channels
            or inc.silenced_by is not None
        ):
            return
        await self._send(inc, "acknowledged", _paged(inc))

    async def _send(self, inc: Incident, kind: str, channels: Sequence[str] | None) -> int:
        assert self.notifier is not None
        note = _with_details(inc)
        if channels is None:
            return await self.notifier.notify(note, kind)
        return await self.notifier.notify(note, kind, channels=tuple(channels))


def _paged(inc: Incident) -> tuple[str, ...] | None:
    """Where it paged (None: every channel). Empty is no channel, never every one."""
    if inc.paged_channels == (EVERY_CHANNEL,):
        return None
    return inc.paged_channels


def _with_details(inc: Incident) -> Incident:
    """The incident as notified: its description names the dependents, the other firing
    signals and, once resolved, the closing note."""
    extra = []
    if inc.dependents:
        extra.append("Dependents affected (not notified separately): " + ", ".join(inc.dependents))
    firing = [s for s in inc.signals if s.firing]
    if len(firing) > 1:
        extra.append("Signals: " + "; ".join(f"{s.rule} on {s.subject}" for s in firing))
    if inc.closing_note:
        extra.append(inc.closing_note)
    if not extra:
        return inc
    return replace(inc, description="\n".join([inc.description, "", *extra]).strip())


__all__ = ["EVERY_CHANNEL", "NotificationDispatcher", "Notifier", "Timing"]
