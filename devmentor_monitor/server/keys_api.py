"""/api/keys (admin role): create a managed key (its secret shown once), list keys without
secrets, revoke one. The writes go through Commands and are audited; the key ring takes
the change at once (other processes' changes within keyring.REFRESH seconds)."""

from __future__ import annotations

import time
from collections.abc import Callable

from devmentor_monitor.aio import web
from devmentor_monitor.commands import Commands
from devmentor_monitor.config.schema import ROLES
from devmentor_monitor.server.auth import operator
from devmentor_monitor.server.keyring import NAME, RESERVED, KeyRing
from devmentor_monitor.server.params import BadRequest, json_body
from devmentor_monitor.server.responses import error_response, json_response
from devmentor_monitor.server.routes import SCOPES
from devmentor_monitor.storage.keys import KeyProblem

MAX_TTL = 10 * 365 * 86400.0


class KeysApi:
    def __init__(self, commands: Commands, ring: KeyRing, clock: Callable[[], float]) -> None:
        self.commands, self.ring, self.clock = commands, ring, clock

    async def list(self, request: web.Request) -> web.Response:
        keys = await self.commands.list_keys()
        managed = [k.public() for k in keys]
        configured = [
            {"name": k.name, "role": k.role, "source": "config"} for k in self.ring.config_keys
        ]
        return json_response({"keys": managed, "config_keys": configured})

    async def create(self, request: web.Request) -> web.Response:
        body = await json_body(request)
        if not isinstance(body, dict):
            raise BadRequest("body must be a JSON object: {name, role, expires_in?, scopes?}")
        unknown = set(body) - {"name", "role", "expires_in", "scopes"}
        if unknown:
            raise BadRequest(f"unknown field(s) {', '.join(sorted(unknown))}")
        name, role = body.get("name"), body.get("role")
        if not isinstance(name, str) or not NAME.match(name) or name in RESERVED:
            raise BadRequest(
                "name: 1-64 letters, digits, '_', '.' or '-', starting with one, and not "
                + " or ".join(RESERVED)
            )
        if role not in ROLES:
            raise BadRequest(f"role: one of {', '.join(ROLES)}")
        ttl = body.get("expires_in")
        if ttl is not None and (
            isinstance(ttl, bool) or not isinstance(ttl, int | float) or not 1 <= ttl <= MAX_TTL
        ):
            raise BadRequest(f"expires_in: seconds, 1 to {MAX_TTL:.0f}")
        scopes = body.get("scopes", [])
        if not isinstance(scopes, list) or any(s not in SCOPES for s in scopes):
            raise BadRequest(f"scopes: a list of {', '.join(SCOPES)}")
        actor = await operator(request, None, self.commands, "key.create", name)
        now = self.clock()
        expires = None if ttl is None else now + float(ttl)
        if any(k.name == name for k in self.ring.config_keys):
            return error_response(409, f"a configured key is named {name!r}; pick another")
        try:
            key, secret = await self.commands.create_key(
                name, str(role), actor, now=now, expires=expires, scopes=tuple(scopes)
            )
        except KeyProblem as exc:
            return error_response(exc.status, exc.message)
        await self.ring.refresh()
        return json_response(
            {**key.public(), "secret": secret, "note": "shown once: store it now"}, 201
        )

    async def revoke(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        actor = await operator(request, None, self.commands, "key.revoke", name)
        try:
            key = await self.commands.revoke_key(name, actor, now=time.time())
        except KeyProblem as exc:
            return error_response(exc.status, exc.message)
        await self.ring.refresh()
        return json_response(key.public())
