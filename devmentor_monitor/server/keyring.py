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
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from devmentor_monitor.config.schema import ROLES, ApiKey
from devmentor_monitor.storage.keys import StoredKey, key_id_of, matches

log = logging.getLogger("devmentor_monitor.server")
REFRESH = 2.0  # seconds between reads of the managed keys
SCRAPE = "scrape"  # the name the scrape token acts under
RESERVED = ("anonymous", SCRAPE)  # names no managed key may take (the audit uses them)
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")  # a managed key's name
# Guessing a managed key's secret costs a scrypt each (~50 ms of CPU): at most this many
# run at once, in threads of their own (never the shared pool the host sampling uses);
# past it a 503, and a wrong secret is remembered so repeating it costs nothing.
HASHING = 2
FAILED_KEPT = 10_000


def _bytes(secret: str) -> bytes:
    """A presented secret as bytes, whatever it holds (a lone surrogate from a JSON
    escape or a raw header byte must be a 401, not an encoding error)."""
    return secret.encode("utf-8", "surrogatepass")


def _same(a: str, b: str) -> bool:
    """Constant time, and no length leak: digests of equal length are compared."""
    return hmac.compare_digest(
        hashlib.sha256(_bytes(a)).digest(), hashlib.sha256(_bytes(b)).digest()
    )


def fingerprint(secret: str) -> str:
    """A short digest of a secret: what a session made from a config key names, so
    rotating the key ends its sessions (the secret itself is never put in a token)."""
    return hashlib.sha256(_bytes(secret)).hexdigest()[:16]


class Denied(Exception):
    """401 or 403, with a message that says what would be allowed."""

    def __init__(self, status: int, message: str, who: str = "anonymous") -> None:
        super().__init__(message)
        self.status, self.message = status, message
        self.who = who  # the key's name when it was known (a 403), for the audit


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
        self._failed: OrderedDict[bytes, None] = OrderedDict()  # wrong secrets seen
        self._hashing = 0
        self._pool: ThreadPoolExecutor | None = None

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

    def still_valid(self, name: str) -> Principal | None:
        """The principal of the managed key of this name if it is neither revoked nor
        expired (sessions name their key)."""
        key = next((k for k in self._managed.values() if k.name == name), None)
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
            if _same(key.key, secret):
                match = key
        if match is not None:
            return Principal(match.name, match.role)
        if self.scrape_token and _same(self.scrape_token, secret):
            return Principal(SCRAPE, "viewer", ("prometheus",))
        raise Denied(401, "unknown API key")

    def config_key(self, name: str, print_: str) -> Principal | None:
        """The configured key of this name if its secret still has this fingerprint."""
        for key in self.config_keys:
            if key.name == name and hmac.compare_digest(fingerprint(key.key), print_):
                return Principal(key.name, key.role)
        return None

    async def _managed_principal(self, key_id: str, secret: str) -> Principal:
        key = self._managed.get(key_id)
        if key is None:
            raise Denied(401, "unknown API key")
        digest = hashlib.sha256(_bytes(secret)).digest()
        if self._verified.get(digest) != key_id:
            if digest in self._failed:
                raise Denied(401, "unknown API key")
            if not await self._check(key, secret):
                self._failed[digest] = None
                if len(self._failed) > FAILED_KEPT:
                    self._failed.popitem(last=False)
                raise Denied(401, "unknown API key")
            if len(self._verified) >= 10_000:  # bounded: keys are few, secrets fewer
                self._verified.clear()
            self._verified[digest] = key_id
        if key.revoked is not None:
            raise Denied(401, f"API key {key.name!r} was revoked")
        if key.expires is not None and key.expires <= self.clock():
            raise Denied(401, f"API key {key.name!r} expired")
        return Principal(key.name, key.role, key.scopes, key.key_id)

    async def _check(self, key: StoredKey, secret: str) -> bool:
        """scrypt in the ring's own threads, at most HASHING at once: a flood of guesses
        gets 503s instead of starving the host sampling and every other caller."""
        if self._hashing >= HASHING:
            raise Denied(503, "too many API keys being checked at once; retry in a second")
        if self._pool is None:
            self._pool = ThreadPoolExecutor(HASHING, thread_name_prefix="keyring")
        self._hashing += 1
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._pool, matches, key, secret)
        finally:
            self._hashing -= 1
