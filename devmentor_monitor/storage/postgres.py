"""PostgreSQL behind the same `Database` as SQLite: the store several instances share.

psycopg 3, synchronous and in autocommit mode, run in the Database's one thread like
sqlite3. `PgConnection` gives sqlite3's shape (execute, executemany, a cursor with
fetchone/fetchall/rowcount/lastrowid) and translates the few dialect differences the
methods' SQL has: `?` placeholders, `INSERT OR REPLACE` (an upsert on the table's key),
`lastrowid` (RETURNING id), SQLite's two-argument MIN (LEAST); `rowid` is a column of
that name (storage/migrations.py). So every Database method runs unchanged.

`BEGIN IMMEDIATE` (SQLite: one writer at a time) becomes a transaction holding the
store's write lock (an advisory lock), so the audit chain's head read and append stay
atomic across instances. With a fencing token set (`Database.token`, the leader's), every
write first moves the `fence` row up to it, and is refused (StaleLeader, nothing written)
when the store has seen a higher one. A lost connection is opened again by the next
call; a read that found it lost is sent once more on the new one.
"""

from __future__ import annotations

import contextlib
import functools
import re
import sqlite3
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import unquote, urlsplit

import psycopg

from devmentor_monitor.logs import mask
from devmentor_monitor.storage import migrations
from devmentor_monitor.storage.db import (
    CLAIMABLE,
    NOTE_COLUMNS,
    Database,
    StaleLeader,
    StorageError,
    _note,
)

# The conflict key of each table written with INSERT OR REPLACE.
_KEYS = {"incidents": ("id",), "silences": ("id",), "alert_state": ("rule", "subject")}
# Tables whose id the caller may read back as lastrowid.
_IDS = frozenset({"notifications", "events", "audit"})
_OR_REPLACE = re.compile(r"\s*INSERT OR REPLACE INTO (\w+) \(([^)]*)\)(.*)\Z", re.S)
_MIN2 = re.compile(r"\bMIN\((\w+), ")
_INSERT = re.compile(r"\s*INSERT INTO (\w+)", re.I)
_WRITES = ("INSERT", "UPDATE", "DELETE")
CONNECT_TIMEOUT = 5  # seconds, unless the URL says (connect_timeout=)


@functools.lru_cache(maxsize=1024)  # the methods' SQL is a few dozen distinct strings
def translate(sql: str) -> str:
    """SQLite's SQL as PostgreSQL takes it (the subset the Database methods use)."""
    m = _OR_REPLACE.match(sql)
    if m:
        table, columns, rest = m[1], m[2], m[3]
        key = _KEYS[table]
        names = [c.strip() for c in columns.split(",")]
        sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in names if c not in key)
        sql = (
            f"INSERT INTO {table} ({columns}){rest} "
            f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {sets}"
        )
    sql = _MIN2.sub(r"LEAST(\1, ", sql)
    return sql.replace("%", "%%").replace("?", "%s")


def location(url: str) -> str:
    """host:port/database of a URL: what messages name (never the user or password)."""
    try:
        parts = urlsplit(url)
        port = parts.port or 5432
    except ValueError:
        return "the configured database"
    db = unquote(parts.path.lstrip("/")) or "(default database)"
    return f"{parts.hostname or 'localhost'}:{port}/{db}"


def reason(exc: BaseException) -> str:
    """The server's or libpq's own words, one line, masked."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    first = first.rpartition(" failed: ")[2] or first
    return mask(first.removeprefix("FATAL:").strip())


class Lost(StorageError):
    """The connection broke under a statement; the next one opens a new connection (a
    write is not sent again: the server may have committed it before the break)."""


class PgCursor:
    """sqlite3.Cursor's reading side over a psycopg cursor."""

    def __init__(self, cur: psycopg.Cursor[Any] | None, lastrowid: int | None = None) -> None:
        self._cur = cur
        self.lastrowid = lastrowid

    @property
    def rowcount(self) -> int:
        return self._cur.rowcount if self._cur is not None else 0

    def fetchone(self) -> Any:
        return self._cur.fetchone() if self._cur is not None else None

    def fetchall(self) -> list[Any]:
        return self._cur.fetchall() if self._cur is not None else []

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())


class PgConnection:
    """A psycopg connection in sqlite3.Connection's shape (see the module docstring)."""

    def __init__(self, db: PgDatabase, raw: psycopg.Connection[Any]) -> None:
        self._db = db
        self._raw = raw
        self._in_tx = False

    def execute(self, sql: str, parameters: Any = (), /) -> PgCursor:
        word = sql.lstrip()[:16].upper()
        if word.startswith("BEGIN"):
            self._begin(write="IMMEDIATE" in word)
            return PgCursor(None)
        if word.startswith("COMMIT"):
            try:
                self._run("COMMIT", ())
            finally:
                self._in_tx = False
            return PgCursor(None)
        if word.startswith("ROLLBACK"):  # after an error: a dead connection has none left
            self._abort()
            return PgCursor(None)
        if word.startswith("PRAGMA"):
            raise StorageError(f"{self._db.where}: SQLite-only statement: {sql.split()[:2]}")
        text = translate(sql)
        insert = _INSERT.match(sql)
        wants_id = insert is not None and insert[1] in _IDS
        if wants_id:
            text += " RETURNING id"
        if not self._in_tx and self._db.token is not None and word.startswith(_WRITES):
            return self._fenced(lambda: self._result(text, parameters, wants_id))
        if self._in_tx or not word.startswith("SELECT"):
            return self._result(text, parameters, wants_id)
        try:
            return self._result(text, parameters, wants_id)
        except Lost:  # a read is safe to send again, on the connection opened anew
            return self._result(text, parameters, wants_id)

    def _result(self, text: str, parameters: Any, wants_id: bool) -> PgCursor:
        cur = self._run(text, parameters)
        if wants_id:
            row = cur.fetchone()
            return PgCursor(cur, int(row[0]) if row else None)
        return PgCursor(cur)

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> PgCursor:
        rows = list(parameters)
        text = translate(sql)

        def many() -> PgCursor:
            if not rows:
                return PgCursor(None)
            if not self._in_tx:
                self._reopen_if_lost()
            cur = self._raw.cursor()
            self._call(lambda: cur.executemany(text.encode(), rows))
            return PgCursor(cur)

        if not self._in_tx and self._db.token is not None:
            return self._fenced(many)
        return many()

    def close(self) -> None:
        self._raw.close()

    # ------------------------------------------------------------------ transactions
    def _begin(self, *, write: bool) -> None:
        """BEGIN IMMEDIATE: the write lock, then the fence; BEGIN: a consistent read."""
        if not write:
            self._run("BEGIN ISOLATION LEVEL REPEATABLE READ", ())
            self._in_tx = True
            return
        self._run("BEGIN", ())
        self._in_tx = True
        try:
            self._run("SELECT pg_advisory_xact_lock(%s)", (migrations.WRITE_LOCK,))
            self._fence()
        except BaseException:
            self._abort()
            raise

    def _fenced(self, write: Any) -> PgCursor:
        """One statement in its own transaction behind the fence check."""
        self._run("BEGIN", ())
        self._in_tx = True
        try:
            self._fence()
            out: PgCursor = write()
        except BaseException:
            self._abort()
            raise
        self._in_tx = False
        self._run("COMMIT", ())
        return out

    def _fence(self) -> None:
        token = self._db.token
        if token is None:
            return
        cur = self._run("UPDATE fence SET token = %s WHERE one = 1 AND token <= %s", (token, token))
        if cur.rowcount == 0:
            self._abort()
            seen = self._run("SELECT token FROM fence", ()).fetchone()
            raise StaleLeader(
                f"{self._db.where}: fencing token {token} is older than the store's "
                f"({seen[0] if seen else '?'}): this instance is no longer the leader; "
                "nothing written"
            )

    def _abort(self) -> None:
        if self._in_tx:
            self._in_tx = False
            if not self._raw.closed:
                with contextlib.suppress(psycopg.Error):
                    self._raw.execute("ROLLBACK")

    # ------------------------------------------------------------------ the wire
    def _run(self, text: str, parameters: Any) -> psycopg.Cursor[Any]:
        if not self._in_tx or text.startswith("BEGIN"):
            self._reopen_if_lost()
        cur = self._raw.cursor()
        try:
            # parameters, () too: psycopg reads "%%" as "%" then (with None it would not)
            self._call(lambda: cur.execute(text.encode(), parameters))
        except Lost:
            if not text.startswith("BEGIN"):
                raise
            self._reopen_if_lost()  # nothing was written yet: begin on a new connection
            cur = self._raw.cursor()
            self._call(lambda: cur.execute(text.encode(), parameters))
        return cur

    def _call(self, fn: Any) -> None:
        try:
            fn()
        except psycopg.errors.IntegrityError as exc:  # what keys.py (and sqlite3) expect
            raise sqlite3.IntegrityError(reason(exc)) from None
        except psycopg.OperationalError as exc:
            if self._raw.broken or self._raw.closed:
                self._in_tx = False
                raise Lost(f"{self._db.where}: connection lost: {reason(exc)}") from None
            raise

    def _reopen_if_lost(self) -> None:
        """A connection the server dropped (restart, failover) is opened again, once per
        call; the call that found it dead had already failed with StorageError."""
        if self._raw.closed or self._raw.broken:
            self._raw = self._db.connect()


class PgDatabase(Database):
    """The shared store: a PostgreSQL database (storage.url). Same methods as Database."""

    shared = True

    def __init__(self, url: str) -> None:
        self.url = url
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="postgres")
        self._conn = None

    @property
    def where(self) -> str:
        return location(self.url)

    def connect(self) -> psycopg.Connection[Any]:
        """A new autocommit connection; StorageError naming host, port and database."""
        kwargs: dict[str, Any] = {"autocommit": True, "application_name": "devmentor-monitor"}
        if "connect_timeout" not in self.url:
            kwargs["connect_timeout"] = CONNECT_TIMEOUT
        try:
            return psycopg.connect(self.url, **kwargs)
        except psycopg.Error as exc:
            raise StorageError(
                f"storage.url: cannot connect to {self.where}: {reason(exc)}"
            ) from None

    def open(self) -> None:
        """Connect and apply the migrations it lacks (under the migration lock)."""
        raw = self.connect()
        try:
            migrations.migrate(raw, self.where)
        except psycopg.Error as exc:
            raw.close()
            raise StorageError(
                f"storage.url: {self.where}: cannot migrate: {reason(exc)}"
            ) from None
        except BaseException:
            raw.close()
            raise
        self._conn = PgConnection(self, raw)

    def open_readonly(self) -> None:
        """Connect for reading (`report`, `audit`): nothing is migrated; a database not
        migrated yet, or by a newer version, is a StorageError saying what to do."""
        raw = self.connect()
        try:
            found = migrations.version(raw)
            migrations.too_new(found, self.where)
            if found < migrations.LATEST:
                raise StorageError(
                    f"storage.url: {self.where}: schema {found}, this version needs "
                    f"{migrations.LATEST}: run `devmentor-monitor db migrate`"
                )
            raw.execute("SET default_transaction_read_only = on")
        except BaseException:
            raw.close()
            raise
        self._conn = PgConnection(self, raw)

    def require_chained_audit(self) -> None:
        """Always chained: the audit table was born with its chain here."""

    def claim_notifications(
        self, now: float, limit: int, owner: str, hold_s: float
    ) -> list[dict[str, Any]]:
        """Database.claim_notifications with row locks: rows another sender is claiming at
        this moment are skipped (SKIP LOCKED), never waited for or claimed twice."""
        if limit <= 0:
            return []
        rows = self.conn.execute(
            "UPDATE notifications SET claimed_by = ?, claim_until = ? WHERE id IN ("
            f"SELECT id FROM notifications n WHERE {CLAIMABLE} ORDER BY next_at, id LIMIT ? "
            f"FOR UPDATE OF n SKIP LOCKED) RETURNING {', '.join(NOTE_COLUMNS)}",
            (owner, now + hold_s, now, now, limit),
        ).fetchall()
        rows.sort(key=lambda r: (r[6], r[0]))
        return [_note(r) for r in rows]
