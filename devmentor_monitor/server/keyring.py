"""Who a credential is: config keys, managed keys (storage/keys.py) and the scrape token.

The ring answers `resolve(secret)` with a Principal or a Denied(401) that says why (unknown,
expired, revoked). Config keys compare in constant time against every key; managed keys
are found by their id and checked against their scrypt hash in a worker thread (never on
the event loop), and a verified secret is remembered by its SHA-256, so the hash costs
once per key and process, not per request. Managed keys are re-read from the database
every few seconds, so a key the `keys` CLI creates or revokes takes effect here too.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from devmentor_monitor.config.schema import ROLES, ApiKey
from devmentor_monitor.storage.keys import StoredKey, key_id_of, matches

log = logging.getLogger("devmentor_monitor.server")
REFRESH = 2.0  # seconds between reads of the managed keys
SCRAPE = "scrape"  # the name the scrape token acts under


class Denied(Exception):
    """401 or 403, with a message that says what would be allowed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


@dataclass(frozen=True, slots=True)
class Principal:
    """Who made a request: a key's name, its role, and the scopes it is limited to
    (empty: every route its role allows)."""

    name: str
    role: str
    scopes: tuple[str, ...] = ()
    key_id: str = ""  # managed keys: what a session names, so revocation ends it

    def can(self, need: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(need)


Loader = Callable[[], Awaitable[Sequence[StoredKey]]]


class KeyRing:
    """Every credential the server accepts; see the module docstring."""

    def __init__(
        self,
        config_keys: Sequence[ApiKey],
        scrape_token: str | None = None,
        load: Loader | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config_keys = tuple(config_keys)
        self.scrape_token = scrape_token
        self.load = load
        self.clock = clock
        self._managed: dict[str, StoredKey] = {}  # key_id -> key
        self._verified: dict[bytes, str] = {}  # sha256(secret) -> key_id

    @property
    def empty(self) -> bool:
        """No key of any kind: writes cannot be authorised at all."""
        return not self.config_keys and not self._managed

    def replace(self, keys: Sequence[StoredKey]) -> None:
        """Take the managed keys as stored now (after a create, a revoke or a refresh)."""
        self._managed = {k.key_id: k for k in keys}

    async def refresh(self) -> None:
        if self.load is not None:
            self.replace(await self.load())

    async def keep_fresh(self) -> None:
        """Re-read the managed keys every REFRESH seconds until cancelled."""
        while True:
            await asyncio.sleep(REFRESH)
            try:
                await self.refresh()
            except Exception as exc:  # the last good keys stay in force
                log.error("cannot re-read the managed API keys", exc_info=exc)

    def managed(self, key_id: str) -> StoredKey | None:
        return self._managed.get(key_id)

    def still_valid(self, key_id: str) -> Principal | None:
        """The principal of a managed key that is neither revoked nor expired (sessions)."""
        key = self._managed.get(key_id)
        if key is None or key.revoked is not None:
            return None
        if key.expires is not None and key.expires <= self.clock():
            return None
        return Principal(key.name, key.role, key.scopes, key.key_id)

    async def resolve(self, secret: str) -> Principal:
        """The principal behind a presented secret; Denied(401) saying why not."""
        key_id = key_id_of(secret)
        if key_id is not None:
            return await self._managed_principal(key_id, secret)
        match = None
        for key in self.config_keys:  # every key: timing says nothing about which matched
            if hmac.compare_digest(key.key.encode(), secret.encode()):
                match = key
        if match is not None:
            return Principal(match.name, match.role)
        if self.scrape_token and hmac.compare_digest(self.scrape_token.encode(), secret.encode()):
            return Principal(SCRAPE, "viewer", ("metrics",))
        raise Denied(401, "unknown API key")

    async def _managed_principal(self, key_id: str, secret: str) -> Principal:
        key = self._managed.get(key_id)
        if key is None:
            raise Denied(401, "unknown API key")
        digest = hashlib.sha256(secret.encode()).digest()
        if self._verified.get(digest) != key_id:
            if not await asyncio.to_thread(matches, key, secret):
                raise Denied(401, "unknown API key")
            if len(self._verified) >= 10_000:  # bounded: keys are few, secrets fewer
                self._verified.clear()
            self._verified[digest] = key_id
        if key.revoked is not None:
            raise Denied(401, f"API key {key.name!r} was revoked")
        if key.expires is not None and key.expires <= self.clock():
            raise Denied(401, f"API key {key.name!r} expired")
        return Principal(key.name, key.role, key.scopes, key.key_id)
