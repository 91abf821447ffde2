"""The single-writer jobs of a fleet: who does them, and the hand-over when the lead moves.

Only the leader's incident engine acts on alerts, pages, escalates, purges and delivers the
outbox, and answers the writes other instances forward (cluster/forward.py). A follower
keeps evaluating (so its alert state is warm when the lead comes to it) and mirrors the
open incidents from the shared store once a second, so its screen and API show what the
leader wrote. Without a cluster an instance always leads.

Taking the lead: the store's fencing token is set (a former leader, paused past its lease,
then has its writes refused: storage fencing), the open incidents are read back and their
signals adopted, the silences re-read, and every alert firing with no incident to hold it
(it began while nobody led) is acted on now, so no page is lost in a failover.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from msgspec.structs import replace

from devmentor_monitor.incidents.alert_state import adopt
from devmentor_monitor.incidents.engine import ENGINE
from devmentor_monitor.incidents.model import Incident, IncidentState
from devmentor_monitor.incidents.rules import AlertState, Transition
from devmentor_monitor.stopping import STOP_GRACE, cancel_within

if TYPE_CHECKING:
    from devmentor_monitor.cluster.forward import Forwarder, Handler
    from devmentor_monitor.incidents.engine import IncidentEngine
    from devmentor_monitor.incidents.rules import Evaluator
    from devmentor_monitor.incidents.silence_book import SilenceBook
    from devmentor_monitor.incidents.silences import Silence
    from devmentor_monitor.storage.db import Database
    from devmentor_monitor.store import Store

log = logging.getLogger("devmentor_monitor.cluster")

Job = Callable[[], Coroutine[Any, Any, None]]


class Leadership:
    """``leading`` is what the alert loop asks; `lead` and `follow` are told by the
    cluster node (`on_leader`). ``jobs``: the leader-only tasks (the outbox's delivery)."""

    def __init__(
        self,
        *,
        store: Store,
        db: Database,
        engine: IncidentEngine,
        evaluator: Evaluator,
        silences: SilenceBook,
        jobs: dict[str, Job],
        clock: Callable[[], float],
        forwarder: Forwarder | None = None,
        answer: Handler | None = None,
    ) -> None:
        self._store = store
        self._db = db
        self._engine = engine
        self._evaluator = evaluator
        self._silences = silences
        self._jobs = jobs
        self._clock = clock
        self._forwarder = forwarder
        self._answer = answer
        self.leading = forwarder is None  # solo: leads from the start
        self.token: int | None = None
        self.alone_after = 0.0  # seconds of fallback before leading alone (join)
        self._fallback_since: float | None = None
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._change = asyncio.Lock()  # one hand-over at a time, in the order told

    @property
    def forwarder(self) -> Forwarder | None:
        return self._forwarder

    def join(self, forwarder: Forwarder, answer: Handler, alone_after: float) -> None:
        """In a fleet: not leading until the lease says so; writes asked here while
        another instance leads go to it; alone (Redis unreachable) for ``alone_after``
        seconds (past any lease), this instance leads by itself."""
        self._forwarder, self._answer = forwarder, answer
        self.alone_after = alone_after
        self.leading = False

    async def watch(self, mode: str, now: float, token: int | None = None) -> None:
        """Each second, from the alert loop, with the fleet's mode and the lease's token
        (ours, or None). Redis unreachable past ``alone_after``: nobody can hold the
        lease, so this instance leads alone, without a token (duplicates over blindness:
        every instance in fallback pages for what it sees). Back in the fleet: a lead
        taken alone is given up; the lease decides. Holding the lease without leading (a
        hand-over that failed: the store away) tries again."""
        if mode != "fallback":
            self._fallback_since = None
            if self.leading and self.token is None and self._forwarder is not None:
                await self.follow()
            if token is not None and not self.leading:
                await self.lead(token)
            return
        if self._fallback_since is None:
            self._fallback_since = now
        if not self.leading and now - self._fallback_since >= self.alone_after:
            await self.lead(None)

    def start_jobs(self) -> None:
        """Solo, or once the lead is taken: the leader-only tasks run (a follower's
        start runs none)."""
        if not self.leading:
            return
        for name, job in self._jobs.items():
            if name not in self._tasks:
                self._tasks[name] = asyncio.create_task(job(), name=name)
        forwarder, answer = self._forwarder, self._answer
        if forwarder is not None and answer is not None and "forwarded" not in self._tasks:
            serve = forwarder.serve(answer)
            self._tasks["forwarded"] = asyncio.create_task(serve, name="forwarded")

    async def stop_jobs(self) -> None:
        """Cancel the leader-only tasks and wait for them, at most STOP_GRACE: a task
        that does not end (a client library swallowing its cancel) is named, not waited
        for, so neither a hand-over nor the monitor's stop hangs on it."""
        tasks, self._tasks = list(self._tasks.values()), {}
        for task in await cancel_within(tasks, STOP_GRACE):
            log.error("leader-only task did not stop", extra={"fields": {"task": task.get_name()}})

    async def lead(self, token: int | None) -> None:
        """This instance took the lead with fencing token ``token`` (None: alone, in a
        fallback: no fence)."""
        async with self._change:
            if self.leading and token is not None and self.token == token:
                return  # told twice (the node, then watch): led already
            self._db.token = token
            self.token = token
            await self._mirror()
            incidents = await self._engine.reload()
            await self._silences.load()
            signals = [sig for inc in self._store.open_incidents() for sig in inc.signals]
            adopt(self._evaluator, signals)
            now = self._clock()
            orphans = [
                a
                for a in self._evaluator.firing()
                if not self._engine.homed((a.rule.name, a.subject))
            ]
            for alert in orphans:  # began while nobody led: acted on now, once
                try:
                    await self._engine.on_transition(Transition(alert, AlertState.FIRING, now))
                except Exception as exc:  # its incident is not opened: say so, loudly
                    log.error(
                        "alert that fired while nobody led not acted on",
                        exc_info=exc,
                        extra={"fields": {"rule": alert.rule.name, "subject": alert.subject}},
                    )
            await self._merge_duplicates()
            self.leading = True
            self.start_jobs()
            log.warning(
                "took the fleet's lead",
                extra={
                    "fields": {
                        "token": token,
                        "open_incidents": incidents,
                        "acted_on": len(orphans),
                    }
                },
            )

    async def _merge_duplicates(self) -> None:
        """Instances that each led alone while Redis was away may have opened an incident
        for the same problem: the oldest of a group is kept, the others resolved, saying
        where it goes on (the engine holds one incident per group)."""
        by_group: dict[str, list[Incident]] = {}
        for inc in self._store.open_incidents():
            if inc.group_key:
                by_group.setdefault(inc.group_key, []).append(inc)
        for incidents in by_group.values():
            if len(incidents) < 2:
                continue
            kept, *others = sorted(incidents, key=lambda i: (i.opened_at, i.id))
            for dup in others:
                note = f"duplicate opened while the fleet was split; continued in {kept.id}"
                try:
                    await self._engine.resolve(dup.id, ENGINE, note)
                except Exception as exc:
                    log.error("duplicate incident not resolved", exc_info=exc)

    async def follow(self) -> None:
        """The lead is lost (or another holds it): leader-only work stops at once."""
        async with self._change:
            was = self.leading
            self.leading = False
            await self.stop_jobs()
            self._db.token = None
            self.token = None
            if was:
                log.warning("gave up the fleet's lead")

    def made_elsewhere(self, made: Incident | Silence) -> None:
        """The leader's answer to a write forwarded from here: in this store at once, not
        at the next mirror."""
        if isinstance(made, Incident):
            self._store.put_incident(made)
        else:
            self._silences.silences.add(made)

    async def mirror(self) -> None:
        """The open incidents as the shared store has them now, in this store: those the
        leader opened or changed, and those it closed leave. The silences too (the
        leader makes them: forward.py), so /api/silences answers the same here. Under
        the hand-over's lock, and never while leading: a mirror read before a lead was
        taken must not put older records over the new leader's."""
        async with self._change:
            if not self.leading:
                await self._mirror()

    async def _mirror(self) -> None:
        await self._silences.load()
        stored = await self._db.run(self._db.load_incidents, open_only=True)
        fresh = {inc.id: inc for inc in stored}
        for inc in self._store.open_incidents():
            if inc.id not in fresh:
                closed = await self._db.run(self._db.load_incident, inc.id)
                if closed is None:  # purged: gone from the shared store altogether
                    closed = replace(inc, state=IncidentState.RESOLVED)
                self._store.put_incident(closed)
        for inc in stored:
            if self._store.incident(inc.id) != inc:
                self._store.put_incident(inc)
