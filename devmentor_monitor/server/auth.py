"""API keys with roles. Reads stay open; every write names a key and a role it needs.

401: no key, or a key we do not know. 403: a known key whose role is too weak.
Keys are compared in constant time and never logged or echoed.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING

from ..aio import web
from ..config import ROLES, ApiKey
from ..engine.incidents import Actor

if TYPE_CHECKING:
    from ..runtime import Monitor


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
        raise Denied(401, f"this endpoint needs an API key with the {need} role: send "
                          f"'Authorization: Bearer <key>'{hint}")
    match = None
    for key in keys:  # compare with every key, so timing says nothing about which matched
        if hmac.compare_digest(key.key.encode(), token.encode()):
            match = key
    if match is None:
        raise Denied(401, "unknown API key")
    if rank(match.role) < rank(need):
        raise Denied(403, f"key {match.name!r} has the {match.role} role; this needs {need}")
    return match


async def operator(request: web.Request, monitor: Monitor, action: str, target: str) -> Actor:
    """The writer behind a request with at least the operator role; a refusal is audited."""
    source = request.remote or "unknown"
    try:
        key = authorize(request, monitor.config.api_keys, "operator")
    except Denied as exc:
        await monitor.engine.audit(Actor("anonymous", source), action, target,
                                   f"denied: {exc.status}")
        raise
    return Actor(key.name, source)
