"""What the monitor does with platform events once they are accepted.

The runtime hands each batch over synchronously (it is already in the store and the
views have it); the slower consequences run here, in order, on one task:

* the batch is written to SQLite (pub/sub batches are grouped, stream batches are
  written before the source acknowledges them);
* an event about a service with an open incident joins that incident's timeline
  (at most `TIMELINE_PER_MINUTE` per incident, the rest counted);
* `events.rules` open incidents from matching events;
* a `service.health.check` event asks for an immediate check of that service.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from devmentor_monitor.config.schema import EventRule
from devmentor_monitor.events.model import Event, EventSeverity
from devmentor_monitor.incidents.engine import MONITOR, IncidentEngine
from devmentor_monitor.incidents.model import Severity, TimelineEntry
from devmentor_monitor.storage.db import Database

log = logging.getLogger(__name__)
TIMELINE_PER_MINUTE = 30
FLUSH_EVERY = 0.5  # seconds between grouped writes of pub/sub events
FLUSH_BYTES = 1 << 20  # ... or sooner, once this much waits
MAX_UNWRITTEN_BYTES = 16 << 20  # events waiting for the disk; beyond it the oldest go
HEALTH_REQUEST = "service.health.check"


def _size(e: Event) -> int:
    """Roughly what an event holds in memory until it is written."""
    return 300 + (len(e.raw) if e.raw is not None else len(e.message))


@dataclass
class _Budget:
    minute: int = 0
    used: int = 0
    skipped: int = 0


class EventProcessor:
    def __init__(
        self,
        engine: IncidentEngine,
        db: Database,
        rules: tuple[EventRule, ...],
        check_now: Callable[[str], bool],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.db = db
        self.rules = rules
        self.check_now = check_now
        self.clock = clock
        self.leading: Callable[[], bool] = lambda: True  # set by the runtime (cluster/)
        self._unwritten: list[Event] = []
        self._unwritten_bytes = 0
        self._flush_now = asyncio.Event()
        self._work: asyncio.Queue[list[Event]] = asyncio.Queue(maxsize=10_000)
        self._budgets: dict[str, _Budget] = {}
        self.written = 0
        self.unwritten_dropped = 0
        self.health_requests = 0
        self.overflowed = 0  # batches whose consequences were skipped (processor behind)
        self._wake = asyncio.Event()

    # ------------------------------------------------------------------ intake (sync)
    def accepted(self, batch: list[Event]) -> None:
        """Queue a batch that is already in the store; never blocks the caller. In a
        fleet every instance hears each pub/sub event: only the leader writes it and acts
        on it, so it is stored and acted on once."""
        if not self.leading():
            return
        self._unwritten.extend(batch)
        self._unwritten_bytes += sum(_size(e) for e in batch)
        if self._unwritten_bytes > FLUSH_BYTES:
            self._flush_now.set()
        if self._unwritten_bytes > MAX_UNWRITTEN_BYTES:  # the disk is behind: keep the newest
            drop = 0
            while self._unwritten_bytes > MAX_UNWRITTEN_BYTES // 2:
                self._unwritten_bytes -= _size(self._unwritten[drop])
                drop += 1
            del self._unwritten[:drop]
            self.unwritten_dropped += drop
            log.warning(
                "events not written: the disk is behind",
                extra={"fields": {"dropped": drop, "dropped_total": self.unwritten_dropped}},
            )
        if not self._interesting(batch):
            return
        try:
            self._work.put_nowait(batch)
        except asyncio.QueueFull:
            self.overflowed += 1

    def _interesting(self, batch: list[Event]) -> bool:
        """Anything here that needs more than storing? (Most batches do not.)"""
        open_services = self.engine.open_services()
        for e in batch:
            if e.service in open_services or e.type == HEALTH_REQUEST or self.rules:
                return True
        return False

    async def durable(self, batch: list[Event]) -> None:
        """Write the batch now, after the older unwritten events, in one transaction.

        Stream mode acknowledges the batch once this returns, so it must be on disk by
        then; if the write fails the backlog is kept and the source does not ack.
        """
        pending, self._unwritten, self._unwritten_bytes = self._unwritten, [], 0
        try:
            await self._write(pending + batch)
        except Exception:  # rolled back (a cancelled write still completes in its thread)
            self._unwritten[:0] = pending
            self._unwritten_bytes += sum(_size(e) for e in pending)
            raise
        if self._interesting(batch):
            await self._work.put(batch)

    # ------------------------------------------------------------------ tasks
    async def run(self) -> None:
        writer = asyncio.create_task(self._flush_loop(), name="events:write")
        try:
            while True:
                batch = await self._work.get()
                try:
                    await self._consequences(batch)
                except Exception as exc:  # one bad batch must not stop the next ones
                    log.error("event processing failed", exc_info=exc)
        finally:
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)
            await self.flush()

    async def _flush_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(FLUSH_EVERY):
                    await self._flush_now.wait()
            self._flush_now.clear()
            try:
                await self.flush()
            except Exception as exc:
                log.error("event write failed", exc_info=exc)

    async def flush(self) -> None:
        pending, self._unwritten, self._unwritten_bytes = self._unwritten, [], 0
        await self._write(pending)

    async def _write(self, events: list[Event]) -> None:
        if events:
            await self.db.run(self.db.save_events, events)
            self.written += len(events)

    # ------------------------------------------------------------------ consequences
    async def _consequences(self, batch: list[Event]) -> None:
        now = self.clock()
        attach: dict[str, list[TimelineEntry]] = {}
        for e in batch:
            if e.type == HEALTH_REQUEST and self.check_now(e.service):
                self.health_requests += 1
            for rule in self.rules:
                if self._matches(rule, e):
                    await self.engine.open_from_event(
                        rule.name,
                        Severity(rule.severity),
                        e.service,
                        f"{e.service}: {e.type}",
                        f"{e.type} ({e.severity.value}): {e.message}",
                        now,
                    )
            if e.origin == "monitor":  # its own findings are in the timeline already
                continue
            inc = self.engine.open_incident_of(e.service)
            if inc is not None and self._spend(inc.id, now):
                attach.setdefault(inc.id, []).append(
                    TimelineEntry(
                        e.ts, "event", MONITOR, f"{e.type} ({e.severity.value}): {e.message}"
                    )
                )
        for incident_id, entries in attach.items():
            inc = self.engine.store.incident(incident_id)
            if inc is not None:
                await self.engine.add_timeline(inc, entries)

    def _spend(self, incident_id: str, now: float) -> bool:
        b = self._budgets.setdefault(incident_id, _Budget())
        minute = int(now // 60)
        if b.minute != minute:
            if b.skipped:
                log.info(
                    "events not added to a timeline",
                    extra={"fields": {"incident": incident_id, "skipped": b.skipped}},
                )
            b.minute, b.used, b.skipped = minute, 0, 0
        if b.used >= TIMELINE_PER_MINUTE:
            b.skipped += 1
            return False
        b.used += 1
        if len(self._budgets) > 1000:  # forget incidents long gone
            self._budgets = {k: v for k, v in self._budgets.items() if v.minute >= minute - 1}
        return True

    @staticmethod
    def _matches(rule: EventRule, e: Event) -> bool:
        return (
            e.type.startswith(rule.type)
            and e.severity.rank >= EventSeverity(rule.min_severity).rank
            and (rule.services is None or e.service in rule.services)
        )
