"""Managed API keys in the incidents database: created and revoked at run time.

Only a salted scrypt hash of each secret is stored (hashlib's, parameters below), so a
copy of the file gives no usable key. A secret reads `dmk_<id>_<random>`: the id finds
the row without trying every hash, the random part (256 bits) is the credential.
Synchronous, like storage/db.py: the runtime calls it through `Database.run`; the
`keys` CLI calls it directly on the file.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from devmentor_monitor.storage.db import Connection

PREFIX = "dmk_"
# scrypt cost: ~40 ms and 16 MiB per hash on this machine's cores (measured); a verified
# secret is cached by the key ring, so the cost is paid once per key and process.
SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}
SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    name TEXT PRIMARY KEY,
    key_id TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    salt BLOB NOT NULL,
    hash BLOB NOT NULL,
    scopes TEXT NOT NULL DEFAULT '[]',
    created REAL NOT NULL,
    expires REAL,
    revoked REAL
)
"""


class KeyProblem(Exception):
    """A key operation that cannot be done; status is the HTTP answer (404, 409)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


@dataclass(frozen=True, slots=True)
class StoredKey:
    """One managed key as stored (no secret: only its hash)."""

    name: str
    key_id: str
    role: str
    salt: bytes
    hash: bytes
    scopes: tuple[str, ...]
    created: float
    expires: float | None
    revoked: float | None

    def public(self) -> dict[str, object]:
        """What the API and the CLI show of a key: never the secret or its hash."""
        return {
            "name": self.name,
            "role": self.role,
            "scopes": list(self.scopes),
            "created": self.created,
            "expires": self.expires,
            "revoked": self.revoked,
        }


def hash_secret(secret: str, salt: bytes) -> bytes:
    return hashlib.scrypt(secret.encode("utf-8", "surrogatepass"), salt=salt, **SCRYPT)


def key_id_of(secret: str) -> str | None:
    """The id part of a managed secret, or None when it is not shaped like one."""
    if not secret.startswith(PREFIX):
        return None
    key_id, sep, rest = secret[len(PREFIX) :].partition("_")
    return key_id if sep and rest and len(key_id) == 12 else None


def matches(key: StoredKey, secret: str) -> bool:
    return hmac.compare_digest(hash_secret(secret, key.salt), key.hash)


class KeyTable:
    """The api_keys table over one open connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        if isinstance(conn, sqlite3.Connection):  # PostgreSQL's: storage/migrations.py
            conn.execute(SCHEMA)

    def create(
        self,
        name: str,
        role: str,
        *,
        now: float,
        expires: float | None = None,
        scopes: tuple[str, ...] = (),
    ) -> tuple[StoredKey, str]:
        """A new key and its secret (shown once; only its hash is kept). 409 when a key
        of that name exists, revoked or not (names stay unique in the audit trail)."""
        key_id = secrets.token_hex(6)
        secret = f"{PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        salt = secrets.token_bytes(16)
        key = StoredKey(
            name, key_id, role, salt, hash_secret(secret, salt), scopes, now, expires, None
        )
        try:
            self.conn.execute(
                "INSERT INTO api_keys (name, key_id, role, salt, hash, scopes, created, "
                "expires, revoked) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                (name, key_id, role, salt, key.hash, json.dumps(list(scopes)), now, expires),
            )
        except sqlite3.IntegrityError:  # the PostgreSQL adapter raises it too
            raise KeyProblem(
                409, f"a key named {name!r} exists (revoked keys keep their name); pick another"
            ) from None
        return key, secret

    def revoke(self, name: str, now: float) -> StoredKey:
        """Revoke a key; 404 when no key has that name (revoking twice is fine)."""
        self.conn.execute(
            "UPDATE api_keys SET revoked = ? WHERE name = ? AND revoked IS NULL", (now, name)
        )
        for key in self.list():
            if key.name == name:
                return key
        raise KeyProblem(404, f"no managed key named {name!r}")

    def list(self) -> list[StoredKey]:
        rows = self.conn.execute(
            "SELECT name, key_id, role, salt, hash, scopes, created, expires, revoked "
            "FROM api_keys ORDER BY created"
        ).fetchall()
        return [
            StoredKey(r[0], r[1], r[2], bytes(r[3]), bytes(r[4]), tuple(json.loads(r[5])), *r[6:])
            for r in rows
        ]
