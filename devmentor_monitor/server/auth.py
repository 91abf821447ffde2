"""The auth middleware: every route's role (server/routes.py) enforced in one place.

401: no credential where one is needed, or one we do not accept (unknown, expired,
revoked: the message says which). 403: a known key whose role or scopes are too narrow.
Reads ("viewer" routes) are open on a loopback bind or with auth.anonymous_read; writes
always need a key. Secrets are compared in constant time (keyring.py) and never logged or
echoed. Refused writes are audited, aggregated per minute (DeniedAudit), so a flood of
them costs a few rows, not one each.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from devmentor_monitor.aio import web
from devmentor_monitor.commands import ReadOnlyError
from devmentor_monitor.incidents.engine import Actor
from devmentor_monitor.model import AuditEntry
from devmentor_monitor.server.keyring import Denied, KeyRing, Principal
from devmentor_monitor.server.ratelimit import WRITE_LIMITS, RateLimited
from devmentor_monitor.server.routes import PUBLIC, Route

if TYPE_CHECKING:
    from devmentor_monitor.commands import Commands

AuditWriter = Callable[[AuditEntry], Awaitable[None]]  # appends one row (entry.count)

log = logging.getLogger("devmentor_monitor.server")
AUDIT_WINDOW = 60.0  # at most two audit rows per (actor, source, action, outcome) a minute
AUDIT_MAX_KEYS = 1000  # distinct refusals kept apart per minute; the rest share one row


def presented_key(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return request.headers.get("X-API-Key") or None


class DeniedAudit:
    """Refused writes in the audit trail: per (actor, source, action, outcome) and
    minute, the first as its own row and the rest as one row with a count.

    Each refusal was its own fsync'd row: an unauthenticated flood grew the table by
    about 0.8 MB/s, kept 90 days. Now the first refusal of a minute is written at once
    and the rest are counted in memory and appended as one row when the minute ends (or
    at stop). Appended, not added to the first row: the trail is append-only, each row
    hash-chained to the one before (storage/audit_chain.py), and an update would break it.
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
        await self._write(entry)

    def _schedule(self, at: float) -> None:
        if self._timer is None:
            delay = max(0.0, at - self.clock())
            self._timer = asyncio.get_running_loop().call_later(delay, self._flush_soon)

    def _flush_soon(self) -> None:
        self._timer = None
        self._flushing = asyncio.ensure_future(self.flush())

    async def flush(self) -> None:
        """Append the counted refusals, a row per key with its count, timed at the minute's
        end (or now, at a stop before it): at each minute's end, and at stop."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        pending, self._pending = self._pending, {}
        at = min(self.clock(), self._window + AUDIT_WINDOW)
        for (name, source, action, outcome), (count, target) in pending.items():
            await self._write(AuditEntry(at, name, action, target, source, outcome, count))

    async def _write(self, entry: AuditEntry) -> None:
        try:
            await self.write(entry)
        except Exception as exc:  # a refusal stays a 401/403, never a 500
            log.error("audit write failed", exc_info=exc)


DENIED_AUDIT = web.AppKey("denied_audit", DeniedAudit)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SessionReader = Callable[[web.Request], Awaitable[Principal | None]]


class Guard:
    """What the middleware needs: the declared route of each routed resource, the keys,
    whether reads are open, and (for the dashboard) a session reader."""

    def __init__(
        self,
        ring: KeyRing,
        *,
        open_reads: bool,
        denied: DeniedAudit,
        session: SessionReader | None = None,
        login_page: Callable[[int], web.StreamResponse] | None = None,
        read_only: bool = False,
    ) -> None:
        self.ring = ring
        self.open_reads = open_reads
        self.denied = denied
        self.session = session
        self.login_page = login_page  # what /dashboard shows instead of a 401
        self.read_only = read_only  # --read-only: every write route refused (403)
        self.routes: dict[object, Route] = {}  # aiohttp route object -> declaration

    async def check(self, request: web.Request, route: Route) -> Principal | None:
        """The principal let in (None: an anonymous read); Denied otherwise."""
        secret = presented_key(request)
        if secret is not None:
            principal: Principal | None = await self.ring.resolve(secret)
        elif self.session is not None and request.method in ("GET", "HEAD"):
            principal = await self.session(request)  # sessions only read (no CSRF risk)
        else:
            principal = None
        if principal is None:
            if route.role == "viewer" and self.open_reads:
                return None
            hint = (
                ""
                if not self.ring.empty
                else " (none are configured: set auth.keys or DEVMENTOR_API_KEYS, or "
                "create one with `devmentor-monitor keys create`)"
            )
            raise Denied(
                401,
                f"this endpoint needs an API key with the {route.role} role: send "
                f"'Authorization: Bearer <key>'{hint}",
            )
        if not principal.can(route.role):
            raise Denied(
                403,
                f"key {principal.name!r} has the {principal.role} role; this needs {route.role}",
                principal.name,
            )
        if principal.scopes and route.scope not in principal.scopes:
            raise Denied(
                403,
                f"key {principal.name!r} is limited to {', '.join(principal.scopes)}; "
                f"this is {route.scope}",
                principal.name,
            )
        return principal


GUARD = web.AppKey("guard", Guard)
_WORD = re.compile(r"[a-z][a-z_-]{0,31}")
TARGET_MAX = 128


def audit_names(route: Route, params: Mapping[str, str]) -> tuple[str, str]:
    """The action and target a refused write is audited under. Path parameters are what
    the client sent: one that is not a plain word (an action name) becomes "*" in the
    action, and targets are cut to TARGET_MAX characters, so a client cannot mint new,
    long audit rows by varying a URL."""
    assert route.audit is not None
    template, target = route.audit
    words = {k: (v if _WORD.fullmatch(v) else "*") for k, v in params.items()}
    return template.format_map(words), target.format_map(params)[:TARGET_MAX]


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Enforce the route's role before its handler runs; audit refused writes."""
    guard = request.app[GUARD]
    route = guard.routes.get(request.match_info.route)
    if route is None or route.role == PUBLIC:  # 404/405 and /health
        return await handler(request)
    try:
        if guard.read_only and route.audit is not None:  # before any key: none can write
            raise ReadOnlyError(audit_names(route, request.match_info)[0])
        principal = await guard.check(request, route)
    except (Denied, ReadOnlyError) as exc:
        signing_in = isinstance(exc, Denied) and exc.status == 401 and route.scope == "dashboard"
        if signing_in and guard.login_page is not None:
            return guard.login_page(401)
        if route.audit is not None:
            action, target = audit_names(route, request.match_info)
            who = exc.who if isinstance(exc, Denied) else "anonymous"
            actor = Actor(who, request.remote or "unknown")
            await guard.denied.record(actor, action, target, refusal(exc))
        raise
    if principal is not None:
        request[PRINCIPAL] = principal
    return await handler(request)


async def operator(
    request: web.Request,
    keys: object,
    commands: Commands,
    action: str,
    target: str,
    *,
    kind: str = "write",
) -> Actor:
    """The writer behind a request, as the auth middleware let it in (it enforced the
    route's role, and a read-only monitor's refusal), within its key's rate
    (server/ratelimit.py; ``kind``: "write", or "push" for pushed data): RateLimited is
    a 429. Every write route comes through here; a refusal is audited. ``keys`` is kept
    for the handlers' calls."""
    principal = request.get(PRINCIPAL)
    actor = Actor(principal.name if principal else "anonymous", request.remote or "unknown")
    try:
        if commands.read_only:  # the middleware refused first; the TUI's path checks too
            raise ReadOnlyError(action)
        if principal is None:  # only on a route the middleware does not know: refuse
            raise Denied(401, "this endpoint needs an API key")
        limits = request.app.get(WRITE_LIMITS)
        if limits is not None:
            limits.take(kind, principal.name)
    except (Denied, ReadOnlyError, RateLimited) as exc:
        audit = request.app.get(DENIED_AUDIT)
        if audit is not None:
            await audit.record(actor, action, target, refusal(exc))
        raise
    return actor


def refusal(exc: Denied | ReadOnlyError | RateLimited) -> str:
    """How a refused write reads in the audit trail."""
    if isinstance(exc, Denied):
        return f"denied: {exc.status}"
    return "denied: read-only" if isinstance(exc, ReadOnlyError) else "denied: 429"


PRINCIPAL = web.RequestKey("principal", Principal)
