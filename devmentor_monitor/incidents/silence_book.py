"""The live silence set and its one writer.

The runtime holds one `Silences` (incidents/silences.py: the stored silences, loaded from
the database at start, plus the config's maintenance windows) and builds one
`SilenceBook` over it. Views write through the book (via `Commands.silence_add` /
`silence_expire`) and read through it (via `Queries.silences`); the notification
dispatcher reads the very same `Silences` object (``book.silences``), so a silence
created from the API, the TUI or the CLI mutes the next flush.

Writes are on disk first (SQLite with synchronous=FULL: an answered 201 survives a
kill -9), then in memory, then in the audit trail.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from devmentor_monitor.incidents.silences import Matcher, Silence, Silences
from devmentor_monitor.model import AuditEntry

if TYPE_CHECKING:
    from devmentor_monitor.storage.db import Database

__all__ = [
    "MAINTENANCE_PREFIX",
    "MAX_COMMENT",
    "MAX_SILENCE",
    "SilenceBook",
    "SilenceError",
    "iso",
    "silence_state",
]

MAX_SILENCE = 366 * 86400.0  # a silence ends within a year of now
MAX_COMMENT = 2000
MAINTENANCE_PREFIX = "maintenance:"  # ids of the config's windows (virtual silences)


class Actor(Protocol):
    """Who acts (incidents.engine.Actor; not imported, so the JSON shapes that read this
    module stay clear of the engine and what it loads)."""

    @property
    def name(self) -> str: ...

    @property
    def source(self) -> str: ...


class SilenceError(Exception):
    """A request the book refuses; ``status`` is the HTTP status that fits."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def silence_state(silence: Silence, now: float) -> str:
    """Alertmanager's words: pending (not started), active, or expired."""
    if now < silence.starts_at:
        return "pending"
    return "active" if now < silence.ends_at else "expired"


def iso(ts: float) -> str:
    """Epoch seconds as an ISO 8601 UTC time ("2026-03-01T02:00:00Z")."""
    moment = datetime.fromtimestamp(ts, UTC)
    spec = "milliseconds" if moment.microsecond else "seconds"
    return moment.isoformat(timespec=spec).replace("+00:00", "Z")


class SilenceBook:
    """The one writer of the live `Silences`: create and expire, persisted and audited."""

    def __init__(
        self, silences: Silences, db: Database, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.silences = silences  # the live set: the dispatcher reads this same object
        self._db = db
        self.clock = clock
        self._lock = asyncio.Lock()  # a check and its write with nothing between

    async def load(self) -> int:
        """Put the stored silences (expired ones too, until purged) in the live set."""
        stored = await self._db.run(self._db.load_silences)
        for silence in stored:
            self.silences.add(silence)
        return len(stored)

    # ------------------------------------------------------------------ writes
    async def add(
        self,
        matchers: Sequence[Matcher],
        *,
        comment: str,
        actor: Actor,
        ends_at: float | None = None,
        duration: float | None = None,
        starts_at: float | None = None,
    ) -> Silence:
        """A new silence from now (or ``starts_at``) until ``ends_at`` or for ``duration``
        seconds; on disk when this returns. SilenceError(400) says what is wrong."""
        now = self.clock()
        if (ends_at is None) == (duration is None):
            raise SilenceError(400, "give either endsAt or duration (one of them)")
        start = now if starts_at is None else max(starts_at, now)
        if duration is not None:
            if duration <= 0:
                raise SilenceError(400, "duration must be positive")
            ends_at = start + duration
        assert ends_at is not None
        if ends_at <= now:
            raise SilenceError(400, f"endsAt {iso(ends_at)} is not in the future")
        if ends_at <= start:
            raise SilenceError(400, f"endsAt {iso(ends_at)} is not after startsAt {iso(start)}")
        if ends_at - now > MAX_SILENCE:
            raise SilenceError(400, "a silence ends within 366 days; set a nearer endsAt")
        comment = comment.strip()
        if not comment:
            raise SilenceError(400, "comment must say why (a non-empty string)")
        if len(comment) > MAX_COMMENT:
            raise SilenceError(400, f"comment is over {MAX_COMMENT} characters")
        try:
            silence = Silence.create(
                matchers,
                ends_at=ends_at,
                created_by=actor.name,
                comment=comment,
                now=now,
                starts_at=start,
            )
        except ValueError as exc:
            raise SilenceError(400, str(exc)) from None
        async with self._lock:
            await self._db.run(self._db.save_silence, silence)
            self.silences.add(silence)
        what = " ".join(str(m) for m in silence.matchers)
        await self._audit(actor, "silence.create", silence.id, f"ok: {what} until {iso(ends_at)}")
        return silence

    async def expire(self, silence_id: str, actor: Actor) -> Silence:
        """End a silence now (Alertmanager: ends_at = now). 404 if unknown, 409 if it had
        ended already or is a maintenance window (those come from the config)."""
        async with self._lock:
            now = self.clock()
            current = self.silences.get(silence_id)
            if current is None:
                if silence_id.startswith(MAINTENANCE_PREFIX):
                    raise SilenceError(
                        409,
                        f"{silence_id} is a maintenance window from the config "
                        "(alerting.maintenance); change the config to end it",
                    )
                raise SilenceError(404, f"no silence {silence_id!r}")
            if current.ends_at <= now:
                raise SilenceError(
                    409, f"silence {silence_id} already expired at {iso(current.ends_at)}"
                )
            ended = current.expired(now)
            await self._db.run(self._db.expire_silence, silence_id, now)
            self.silences.add(ended)
        await self._audit(actor, "silence.expire", silence_id, "ok")
        return ended

    async def purge(self, ended_before: float) -> int:
        """Forget silences that ended before the cut-off, on disk and in memory."""
        gone = await self._db.run(self._db.purge_silences, ended_before)
        self.silences.purge(ended_before)
        return gone

    async def _audit(self, actor: Actor, action: str, target: str, outcome: str) -> None:
        entry = AuditEntry(self.clock(), actor.name, action, target, actor.source, outcome)
        await self._db.run(self._db.audit, entry)

    # ------------------------------------------------------------------ reads
    def listed(self, *, include_expired: bool = False) -> list[Silence]:
        """Stored silences newest first (pending and active; expired too if asked), then
        the maintenance windows open now."""
        now = self.clock()
        stored = self.silences.all()
        if not include_expired:
            stored = [s for s in stored if s.ends_at > now]
        return stored + self._windows(now)

    def get(self, silence_id: str) -> Silence | None:
        """A stored silence, or an open maintenance window's, by id."""
        found = self.silences.get(silence_id)
        if found is None and silence_id.startswith(MAINTENANCE_PREFIX):
            found = next((s for s in self._windows(self.clock()) if s.id == silence_id), None)
        return found

    def match(self, labels: Mapping[str, str]) -> Silence | None:
        """The silence in force now that matches ``labels`` ({service, rule, severity, ...})."""
        return self.silences.match(labels, self.clock())

    def _windows(self, now: float) -> list[Silence]:
        return [s for m in self.silences.maintenance if (s := m.silence_at(now)) is not None]
