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
from types import ModuleType
from typing import Any

from devmentor_monitor.aio import web
from devmentor_monitor.commands import Commands
from devmentor_monitor.incidents.engine import Actor
from devmentor_monitor.server.auth import DeniedAudit
from devmentor_monitor.server.keyring import SCRAPE, Denied, KeyRing, Principal, fingerprint
from devmentor_monitor.server.params import BadRequest, json_body
from devmentor_monitor.server.ratelimit import Rate, WriteLimits
from devmentor_monitor.server.responses import error_response, json_response

COOKIE = "dm_session"
ALGORITHM = "HS256"
LOGIN_PAGE = Path(__file__).with_name("login.html")
CSP = "default-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'"
MAX_ENDED = 100_000  # logged-out tokens remembered until they expire (~10 MB at most)
# Sign-ins per source address: a burst of 10, then one every 2 s (each writes an audit
# row, and each logout a remembered token).
LOGIN_RATE = Rate(0.5, 10, "sign-in")


def _jwt() -> ModuleType:
    """PyJWT, imported on the first sign-in or session cookie: it loads cryptography
    (~9 MiB of RSS), which a monitor nobody signs in to never needs."""
    import jwt

    return jwt


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
        self._logins = WriteLimits({"login": LOGIN_RATE})

    # ------------------------------------------------------------------ tokens
    def issue(self, principal: Principal, secret: str) -> tuple[str, float]:
        """A token naming its key: a managed key by name (looked up on every use), a
        configured one by name and a fingerprint of its secret (rotating it ends the
        session). Neither the secret nor a managed key's id is in the token."""
        now = self.clock()
        exp = now + self.ttl
        claims = {
            "sub": principal.name,
            "role": principal.role,
            "kind": "managed" if principal.key_id else "config",
            **({} if principal.key_id else {"fp": fingerprint(secret)}),
            "iat": int(now),
            "exp": int(exp),
            "jti": secrets.token_urlsafe(12),
        }
        return _jwt().encode(claims, self.secret, algorithm=ALGORITHM), exp

    def _claims(self, token: str) -> dict[str, Any] | None:
        jwt = _jwt()
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
        name = str(claims["sub"])
        if claims.get("kind") == "managed":  # gone the moment it is revoked or expires
            return self.ring.still_valid(name)
        return self.ring.config_key(name, str(claims.get("fp", "")))

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
        self._logins.take("login", source)  # RateLimited: a 429 with Retry-After
        try:
            principal = await self.ring.resolve(body["key"])
            if principal.name == SCRAPE and principal.scopes == ("prometheus",):
                raise Denied(403, "the scrape token reads /metrics only; it cannot sign in")
        except Denied as exc:
            await self.denied.record(
                Actor("anonymous", source), "login", "dashboard", f"denied: {exc.status}"
            )
            raise
        token, exp = self.issue(principal, body["key"])
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
            if len(self._ended) >= MAX_ENDED:
                self._ended = {j: e for j, e in self._ended.items() if e > now}
            if len(self._ended) >= MAX_ENDED:  # never pretend: the session would go on
                return error_response(
                    503, "too many sessions ended lately to remember one more; retry later"
                )
            self._ended[str(claims["jti"])] = float(claims["exp"])
            source = request.remote or "unknown"
            await self.commands.audit(
                Actor(str(claims["sub"]), source), "logout", "dashboard", "ok"
            )
        response = json_response({"ended": claims is not None})
        response.del_cookie(COOKIE, path="/")
        return response
