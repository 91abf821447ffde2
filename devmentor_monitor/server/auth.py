"""API keys with roles. Reads stay open; every write names a key and a role it needs.

401: no key, or a key we do not know. 403: a known key whose role is too weak.
Keys are compared in constant time and never logged or echoed. Refusals are audited,
aggregated per minute (DeniedAudit), so a flood of them costs a few rows, not one each.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from devmentor_monitor.aio import web
from devmentor_monitor.config.schema import ROLES, ApiKey
from devmentor_monitor.incidents.engine import Actor
from devmentor_monitor.model import AuditEntry

if TYPE_CHECKING:
    from devmentor_monitor.commands import Commands

AuditWriter = Callable[[AuditEntry, int, float], Awaitable[None]]  # entry, count, window

log = logging.getLogger("devmentor_monitor.server")
AUDIT_WINDOW = 60.0  # one audit row per (actor, source, action, outcome) per minute
AUDIT_MAX_KEYS = 1000  # distinct refusals kept apart per minute; the rest share one row


class Denied(Exception):
    """401 or 403, with a message that says what would be allowed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def rank(role: str) -> int:
    return ROLES.index(role)


def presented_key(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return request.headers.get("X-API-Key") or None


def authorize(request: web.Request, keys: tuple[ApiKey, ...], need: str) -> ApiKey:
    """The key behind the request if its role is at least ``need``; else Denied."""
    token = presented_key(request)
    if token is None:
        hint = "" if keys else " (none are configured: set auth.keys or DEVMENTOR_API_KEYS)"
        raise Denied(
            401,
            f"this endpoint needs an API key with the {need} role: send "
            f"'Authorization: Bearer <key>'{hint}",
        )
    match = None
    for key in keys:  # compare with every key, so timing says nothing about which matched
        if hmac.compare_digest(key.key.encode(), token.encode()):
            match = key
    if match is None:
        raise Denied(401, "unknown API key")
    if rank(match.role) < rank(need):
        raise Denied(403, f"key {match.name!r} has the {match.role} role; this needs {need}")
    return match


class DeniedAudit:
    """Refused writes in the audit trail, one row per (actor, source, action, outcome)
    per minute with a count.

    Each refusal was its own fsync'd row: an unauthenticated flood grew the table by
    about 0.8 MB/s, kept 90 days. Now the first refusal of a minute is written at once
    and the rest are counted in memory and added to that row when the minute ends.
    """

    def __init__(self, write: AuditWriter, clock: Callable[[], float]) -> None:
        self.write, self.clock = write, clock
        self._window = 0.0
        self._written: set[tuple[str, str, str, str]] = set()
        self._pending: dict[tuple[str, str, str, str], list[Any]] = {}  # → [count, target]
        self._timer: asyncio.TimerHandle | None = None
        self._flushing: asyncio.Future[None] | None = None

    async def record(self, actor: Actor, action: str, target: str, outcome: str) -> None:
        now = self.clock()
        window = now - now % AUDIT_WINDOW
        if window != self._window:
            await self.flush()
            self._window, self._written = window, set()
        key = (actor.name, actor.source, action, outcome)
        if key not in self._written and len(self._written) >= AUDIT_MAX_KEYS:
            key = ("*", "*", "*", outcome)
        if key in self._written:
            count_target = self._pending.setdefault(key, [0, target])
            count_target[0] += 1
            count_target[1] = target if count_target[1] == target else "*"
            self._schedule(window + AUDIT_WINDOW)
            return
        self._written.add(key)
        entry = AuditEntry(
            now, key[0], key[2] if key[2] == "*" else action, target, key[1], outcome
        )
        await self._write(entry, 1, window)

    def _schedule(self, at: float) -> None:
        if self._timer is None:
            delay = max(0.0, at - self.clock())
            self._timer = asyncio.get_running_loop().call_later(delay, self._flush_soon)

    def _flush_soon(self) -> None:
        self._timer = None
        self._flushing = asyncio.ensure_future(self.flush())

    async def flush(self) -> None:
        """Add the counted refusals to their rows (at each minute's end, and at stop)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        pending, self._pending = self._pending, {}
        for (name, source, action, outcome), (count, target) in pending.items():
            entry = AuditEntry(self._window, name, action, target, source, outcome)
            await self._write(entry, count, self._window)

    async def _write(self, entry: AuditEntry, count: int, window: float) -> None:
        try:
            await self.write(entry, count, window)
        except Exception as exc:  # a refusal stays a 401/403, never a 500
            log.error("audit write failed", exc_info=exc)


DENIED_AUDIT = web.AppKey("denied_audit", DeniedAudit)


async def operator(
    request: web.Request, keys: tuple[ApiKey, ...], commands: Commands, action: str, target: str
) -> Actor:
    """The writer behind a request with at least the operator role; a refusal is audited."""
    source = request.remote or "unknown"
    try:
        key = authorize(request, keys, "operator")
    except Denied as exc:
        actor, outcome = Actor("anonymous", source), f"denied: {exc.status}"
        audit = request.app.get(DENIED_AUDIT)
        if audit is not None:
            await audit.record(actor, action, target, outcome)
        else:
            await commands.audit(actor, action, target, outcome)
        raise
    return Actor(key.name, source)
