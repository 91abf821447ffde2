"""The durable outbox: incident changes become rows in the store, a loop delivers them.

`notify()` writes one row per channel and returns once the rows are on disk, so a
crash after an incident opens still pages someone after the restart. `run()` sends
due rows, retries failures with exponential backoff and jitter, and gives up after
`max_attempts`. Rows for one incident on one channel go out in order (an "open"
that is still being retried is never overtaken by its "resolved").

Several senders may share one store (PostgreSQL): a sender claims the rows it sends
(`Database.claim_notifications`, FOR UPDATE SKIP LOCKED there) until the attempt's end
or the claim's expiry, so a page goes out once; a crashed sender's rows are claimed
again once its claim runs out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import secrets
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from devmentor_monitor.imports import off_loop
from devmentor_monitor.incidents.model import Incident, IncidentState
from devmentor_monitor.logs import mask
from devmentor_monitor.notify.channels import SENDERS, DeliveryError, Notification
from devmentor_monitor.notify.settings import KINDS, ChannelSettings, NotifySettings, describe
from devmentor_monitor.storage.db import Database
from devmentor_monitor.units import format_duration

if TYPE_CHECKING:  # imported (off the loop) by the first delivery: `ultra` may never send
    from devmentor_monitor.aio import aiohttp

log = logging.getLogger("devmentor_monitor.notify")
RESULTS = ("sent", "retry", "failed")

# How long a claim outlives the longest send (a channel's timeout): past it, the row is
# taken as its sender's crash and claimed again by anyone.
CLAIM_MARGIN = 3.0
CLAIM_MIN = 30.0


@dataclass(slots=True)
class ChannelStatus:
    """What the TUI and the API show for one channel; nothing secret in it."""

    name: str
    description: str  # settings.describe(): "slack → hooks.slack.com"
    sent: int = 0
    retries: int = 0
    failed: int = 0
    last_error: str | None = None  # cleared by the next successful send
    last_error_at: float | None = None
    last_sent_at: float | None = None

    @property
    def healthy(self) -> bool:
        return self.last_error is None


class Outbox:
    """Queue notifications durably and deliver them. One aiohttp session per outbox."""

    def __init__(
        self,
        db: Database,
        channels: Sequence[ChannelSettings],
        settings: NotifySettings,
        clock: Callable[[], float] = time.time,
        rng: Callable[[], float] = random.random,
        *,
        concurrency: int = 8,
        owner: str | None = None,
        claim_hold: float | None = None,
    ) -> None:
        self._db = db
        # Who claims rows: unique per process (a restarted sender is a new one).
        self.owner = owner or f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        longest = max((c.timeout for c in channels), default=0.0)
        self.claim_hold = (
            claim_hold if claim_hold is not None else max(CLAIM_MIN, CLAIM_MARGIN * longest)
        )
        self._channels = {c.name: c for c in channels}
        self._settings = settings
        self._clock = clock
        self._rng = rng
        self._concurrency = max(1, concurrency)
        self._wake = asyncio.Event()
        self._inflight: dict[int, asyncio.Task[None]] = {}
        self._session: aiohttp.ClientSession | None = None
        self._counts: Counter[tuple[str, str]] = Counter()
        self._status = {c.name: ChannelStatus(c.name, describe(c)) for c in channels}
        self._escalated: set[str] | None = None
        self._waiting = False  # run() is idle until a wake-up or the next due row
        self.last_errors: dict[str, str] = {}

    @property
    def channels(self) -> tuple[ChannelSettings, ...]:
        return tuple(self._channels.values())

    # ------------------------------------------------------------------ producing
    async def notify(
        self,
        incident: Incident,
        kind: str,
        *,
        suppressed: bool = False,
        channels: Sequence[str] | None = None,
    ) -> int:
        """Queue ``kind`` for every channel that wants it (of ``channels``, the routed
        ones, if given); durable when this returns.

        Suppressed incidents (maintenance, explained by a parent) are not announced,
        except "resolved", which always goes out so no one is left with an open page.
        Returns the number of rows queued.
        """
        if kind not in KINDS:
            raise ValueError(f"unknown notification kind {kind!r} (one of {', '.join(KINDS)})")
        if kind == "resolved" and self._escalated is not None:
            self._escalated.discard(incident.id)
        if suppressed and kind != "resolved":
            return 0
        targets = [
            c.name
            for c in self._channels.values()
            if c.wants(kind) and (channels is None or c.name in channels)
        ]
        if not targets:
            return 0
        now = self._clock()
        note = Notification.from_incident(
            incident, kind, now=now, monitor_url=self._settings.monitor_url
        )
        await self._db.run(self._enqueue_all, incident.id, targets, kind, note.to_dict(), now)
        self._wake.set()
        return len(targets)

    def _enqueue_all(
        self, incident_id: str, targets: list[str], kind: str, payload: dict[str, Any], now: float
    ) -> None:
        conn = self._db.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            for channel in targets:
                self._db.enqueue(incident_id, channel, kind, payload, now)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    async def escalate(
        self, incidents: Iterable[Incident], suppressed: Callable[[Incident], bool] | None = None
    ) -> list[str]:
        """Send "escalation" once for each open, unacknowledged incident older than
        `escalate_after`. Call it periodically with the open incidents; returns the ids
        escalated now. Remembered in the database, so a restart does not repeat it."""
        after = self._settings.escalate_after
        if after <= 0:
            return []
        if self._escalated is None:
            self._escalated = await self._db.run(self._load_escalated)
        now = self._clock()
        done: list[str] = []
        for inc in incidents:
            if (
                inc.state is not IncidentState.OPEN
                or inc.id in self._escalated
                or now - inc.opened_at < after
            ):
                continue
            if suppressed is not None and suppressed(inc):
                continue
            self._escalated.add(inc.id)
            # Where it paged (incidents/dispatch.py); "*": every channel, none: no channel.
            if not inc.paged_channels:
                continue
            paged = None if inc.paged_channels == ("*",) else inc.paged_channels
            await self.notify(inc, "escalation", channels=paged)
            done.append(inc.id)
        return done

    def _load_escalated(self) -> set[str]:
        rows = self._db.conn.execute(
            "SELECT DISTINCT incident_id FROM notifications WHERE kind = 'escalation'"
        ).fetchall()
        return {r[0] for r in rows}

    # ------------------------------------------------------------------ delivering
    async def run(self) -> None:
        """Deliver until cancelled. Wakes when notify() queues or a retry falls due."""
        try:
            if not self._db.shared:  # this process is the file's only sender
                with contextlib.suppress(Exception):  # else the claims run out by themselves
                    await self._db.run(self._db.release_notifications, None)
            while True:
                self._wake.clear()
                wait = 60.0
                now = self._clock()
                slots = self._concurrency - len(self._inflight)
                try:
                    rows, next_at = await self._db.run(self._claim, now, slots)
                except Exception as exc:  # the database is state too: say so, try again
                    log.error(
                        "notification outbox cannot read the database",
                        extra={"fields": {"error": type(exc).__name__, "retry_in": "5s"}},
                    )
                    rows, next_at, wait = [], None, 5.0
                for row in rows:
                    if row["id"] not in self._inflight:
                        self._start(row)
                if next_at is not None:  # a retry due, or another sender's claim running out
                    wait = min(wait, next_at - self._clock())
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel
                # that arrives just as the event is set, and run() would never stop.
                self._waiting = True
                try:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(max(wait, 0.0)):
                            await self._wake.wait()
                finally:
                    self._waiting = False
        finally:
            await self._stop_inflight()
            await self._release()
            await self.close()

    def _claim(self, now: float, slots: int) -> tuple[list[dict[str, Any]], float | None]:
        """In the database thread: the due queue heads claimed for this sender (as many
        as there are free slots), and when to look again."""
        rows = self._db.claim_notifications(now, slots, self.owner, self.claim_hold)
        return rows, self._db.next_notification_at(now)

    async def _release(self) -> None:
        """Stopping: claims on rows not sent are given back, for another sender now."""
        try:
            await self._db.run(self._db.release_notifications, self.owner)
        except Exception:  # closed or unreachable: the claims run out by themselves
            log.debug("notification claims not released", exc_info=True)

    def _start(self, row: dict[str, Any]) -> None:
        task = asyncio.create_task(self._deliver(row), name=f"notify-{row['id']}")
        self._inflight[row["id"]] = task

        def done(_: asyncio.Task[None], note_id: int = row["id"]) -> None:
            self._inflight.pop(note_id, None)
            self._wake.set()

        task.add_done_callback(done)

    async def _mark(self, note_id: int, **kw: Any) -> None:
        try:
            await self._db.run(lambda: self._db.mark_notification(note_id, **kw))
        except Exception as exc:  # the row stays pending and is tried again
            log.error(
                "notification outbox cannot write the database",
                extra={"fields": {"id": note_id, "error": type(exc).__name__}},
            )

    async def _stop_inflight(self) -> None:
        tasks = list(self._inflight.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._inflight.clear()

    async def _deliver(self, row: dict[str, Any]) -> None:
        name = row["channel"]
        attempts = int(row["attempts"]) + 1
        fields = {
            "channel": name,
            "kind": row["kind"],
            "incident": row["incident_id"],
            "attempt": attempts,
        }
        channel = self._channels.get(name)
        try:
            if channel is None:
                raise DeliveryError(
                    "channel is no longer configured or not in ALERT_CHANNELS", permanent=True
                )
            note = Notification.from_dict(row["payload"])
            await off_loop("devmentor_monitor.aio")
            from devmentor_monitor.aio import tls_ready

            await tls_ready()
            await SENDERS[channel.type](self._http(), channel, note)
        except DeliveryError as exc:
            await self._failed(
                row, name, attempts, mask(exc.reason), exc.permanent, exc.retry_after, fields
            )
            return
        except asyncio.CancelledError:
            raise  # stays pending; sent after the restart
        except Exception as exc:  # a bug, not the network: say what, never the values
            await self._failed(
                row, name, attempts, f"internal error ({type(exc).__name__})", False, None, fields
            )
            return
        now = self._clock()
        await self._mark(row["id"], sent=True, attempts=attempts, error=None, next_at=None, now=now)
        self._count(name, "sent")
        self.last_errors.pop(name, None)
        if (st := self._status.get(name)) is not None:
            st.last_error, st.last_sent_at = None, now
        log.info("notification sent", extra={"fields": fields})

    async def _failed(
        self,
        row: dict[str, Any],
        name: str,
        attempts: int,
        reason: str,
        permanent: bool,
        retry_after: float | None,
        fields: dict[str, Any],
    ) -> None:
        now = self._clock()
        give_up = permanent or attempts >= self._settings.max_attempts
        next_at = None if give_up else now + self.backoff(attempts, retry_after)
        await self._mark(
            row["id"], sent=False, attempts=attempts, error=reason, next_at=next_at, now=now
        )
        result = "failed" if give_up else "retry"
        self._count(name, result)
        self.last_errors[name] = reason
        if (st := self._status.get(name)) is not None:
            st.last_error, st.last_error_at = reason, now
        if give_up:
            why = "permanent error" if permanent else f"after {attempts} attempts"
            log.error(
                "notification not delivered, giving up",
                extra={"fields": {**fields, "reason": reason, "why": why}},
            )
        else:
            assert next_at is not None
            log.warning(
                "notification delivery failed, will retry",
                extra={
                    "fields": {
                        **fields,
                        "reason": reason,
                        "retry_in": format_duration(next_at - now),
                    }
                },
            )

    def backoff(self, attempts: int, retry_after: float | None = None) -> float:
        """Delay before attempt ``attempts + 1``: base·2^(attempts-1), capped, ±20 % jitter;
        never earlier than a server's Retry-After (itself capped at retry_max)."""
        s = self._settings
        delay: float = min(s.retry_max, s.retry_base * 2 ** max(0, attempts - 1))
        delay *= 1 + 0.2 * (2 * self._rng() - 1)
        if retry_after is not None:
            delay = max(delay, min(retry_after, s.retry_max))
        return delay

    def _count(self, channel: str, result: str) -> None:
        self._counts[(channel, result)] += 1
        st = self._status.get(channel)
        if st is not None:
            if result == "sent":
                st.sent += 1
            elif result == "retry":
                st.retries += 1
            else:
                st.failed += 1

    def _http(self) -> aiohttp.ClientSession:
        from devmentor_monitor.aio import aiohttp

        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._concurrency * 2)
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    # ------------------------------------------------------------------ reading
    def counts(self) -> dict[tuple[str, str], int]:
        """Delivery attempts since start by (channel, result), every pair present (0 too),
        for `devmentor_notifications_total{channel,result}`."""
        out = {(c, r): 0 for c in self._channels for r in RESULTS}
        out.update(self._counts)
        return out

    def status(self) -> list[ChannelStatus]:
        """Per-channel health for the TUI and the API (copies, safe to keep)."""
        return [replace(s) for s in self._status.values()]
