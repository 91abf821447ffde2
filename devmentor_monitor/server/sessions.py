"""Dashboard sessions: an API key exchanged for a short-lived JWT (PyJWT, HS256) in an
HttpOnly, SameSite=Strict cookie.

A session acts for the key it was made from and is checked on every request: it ends at
its expiry, at logout, and as soon as that key is revoked or expires (managed keys are
looked up in the key ring each time). A session only reads (GET/HEAD): writes still need
the key itself, so a cross-site request cannot act with the cookie. The signing secret
is auth.session_secret (or DEVMENTOR_SESSION_SECRET); without one, a random secret per
process (sessions end at a restart; several instances need the same secret).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt

from devmentor_monitor.aio import web
from devmentor_monitor.commands import Commands
from devmentor_monitor.incidents.engine import Actor
from devmentor_monitor.server.auth import DeniedAudit
from devmentor_monitor.server.keyring import Denied, KeyRing, Principal
from devmentor_monitor.server.params import BadRequest, json_body
from devmentor_monitor.server.responses import json_response

COOKIE = "dm_session"
ALGORITHM = "HS256"
LOGIN_PAGE = Path(__file__).with_name("login.html")
CSP = "default-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'"
MAX_ENDED = 10_000  # logged-out tokens remembered until they expire


class Sessions:
    """Issue, read and end dashboard sessions; see the module docstring."""

    def __init__(
        self,
        ring: KeyRing,
        commands: Commands,
        denied: DeniedAudit,
        *,
        secret: str | None,
        ttl: float,
        secure: bool,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.ring, self.commands, self.denied = ring, commands, denied
        self.secret = secret or secrets.token_urlsafe(32)
        self.ttl, self.secure, self.clock = ttl, secure, clock
        self._ended: dict[str, float] = {}  # jti -> exp
        self._page: bytes | None = None

    # ------------------------------------------------------------------ tokens
    def issue(self, principal: Principal) -> tuple[str, float]:
        now = self.clock()
        exp = now + self.ttl
        claims = {
            "sub": principal.name,
            "role": principal.role,
            "scopes": list(principal.scopes),
            "kid": principal.key_id,
            "iat": int(now),
            "exp": int(exp),
            "jti": secrets.token_urlsafe(12),
        }
        return jwt.encode(claims, self.secret, algorithm=ALGORITHM), exp

    def _claims(self, token: str) -> dict[str, Any] | None:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self.secret,
                algorithms=[ALGORITHM],
                options={"require": ["exp", "iat", "sub", "jti"]},
            )
        except jwt.InvalidTokenError:
            return None
        if claims["exp"] <= self.clock() or claims["jti"] in self._ended:
            return None
        return claims

    async def read(self, request: web.Request) -> Principal | None:
        """The principal of the request's session cookie, if it is still good."""
        token = request.cookies.get(COOKIE)
        claims = None if token is None else self._claims(token)
        if claims is None:
            return None
        if claims.get("kid"):  # a managed key: gone the moment it is revoked or expires
            return self.ring.still_valid(str(claims["kid"]))
        for key in self.ring.config_keys:  # a configured key: still configured, same role
            if key.name == claims["sub"] and key.role == claims.get("role"):
                return Principal(key.name, key.role)
        return None

    # ------------------------------------------------------------------ handlers
    def login_page(self, status: int = 200) -> web.Response:
        if self._page is None:
            self._page = LOGIN_PAGE.read_bytes()
        return web.Response(
            body=self._page,
            status=status,
            content_type="text/html",
            charset="utf-8",
            headers={"Content-Security-Policy": CSP, "Cache-Control": "no-store"},
        )

    async def page(self, request: web.Request) -> web.Response:
        return self.login_page()

    async def login(self, request: web.Request) -> web.Response:
        body = await json_body(request)
        if not isinstance(body, dict) or set(body) != {"key"} or not isinstance(body["key"], str):
            raise BadRequest('body must be {"key": "<an API key>"}')
        source = request.remote or "unknown"
        try:
            principal = await self.ring.resolve(body["key"])
        except Denied as exc:
            await self.denied.record(
                Actor("anonymous", source), "login", "dashboard", f"denied: {exc.status}"
            )
            raise
        token, exp = self.issue(principal)
        await self.commands.audit(Actor(principal.name, source), "login", "dashboard", "ok")
        response = json_response({"name": principal.name, "role": principal.role, "expires": exp})
        response.set_cookie(
            COOKIE,
            token,
            max_age=int(self.ttl),
            path="/",
            httponly=True,
            samesite="Strict",
            secure=self.secure,
        )
        return response

    async def logout(self, request: web.Request) -> web.Response:
        token = request.cookies.get(COOKIE)
        claims = None if token is None else self._claims(token)
        if claims is not None:
            now = self.clock()
            self._ended = {j: e for j, e in self._ended.items() if e > now}
            if len(self._ended) < MAX_ENDED:
                self._ended[str(claims["jti"])] = float(claims["exp"])
            source = request.remote or "unknown"
            await self.commands.audit(
                Actor(str(claims["sub"]), source), "logout", "dashboard", "ok"
            )
        response = json_response({"ended": claims is not None})
        response.del_cookie(COOKIE, path="/")
        return response
