"""SQLite persistence: incidents, timelines, the audit trail, notification state.

WAL mode with synchronous=FULL: when a write returns, it is on disk, so an API
answer of 201 survives a kill -9. The class is synchronous; the runtime calls it
through one dedicated thread (`Database.run`), which also serialises access.
The same methods run on PostgreSQL (storage/postgres.py: a connection adapter that
speaks sqlite3's shape), for a store several instances share.
"""

from __future__ import annotations

import asyncio
import functools
import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol, TypeVar

from devmentor_monitor.events.model import Event, EventSeverity
from devmentor_monitor.incidents.flapping import FlapSnapshot
from devmentor_monitor.incidents.model import (
    Incident,
    IncidentState,
    Severity,
    Signal,
    TimelineEntry,
)
from devmentor_monitor.incidents.silences import Matcher, Silence
from devmentor_monitor.model import AuditEntry, NotificationRecord
from devmentor_monitor.storage.audit_chain import (
    GENESIS,
    Anchor,
    ChainCheck,
    entry_hash,
)
from devmentor_monitor.storage.audit_chain import verify as verify_chain
from devmentor_monitor.storage.files import private_db, private_dir

T = TypeVar("T")
# Each connection's page cache, KiB (SQLite's default is 2,000), for monitor.db here and
# history.db (history/sqlite.py). A cache fills with what is written up to its cap and
# stays. history.db's writer and reader filled to 2 MiB each; at 1,000 services the writer
# touches thousands of leaves a batch, more than either size holds, and finds them in the
# OS's page cache: --serve at 1,000 held 1.7 MiB less after 3 minutes with 256, for the
# same CPU (16.4 s against 16.6 s; measured side by side). At 256, in `ultra --demo` the
# writer's cache filled ~6 KiB a minute (62 KiB at start, 170 at 18 minutes: RSS rising
# for ~40 minutes; sqlite3_db_status). 128: full within ~12 minutes there, and the
# writer's CPU at 1,000 services unchanged (1,000 services' checks and 12 host series,
# simulated hours written in a row, writer thread CPU alternating: 60 simulated minutes
# 17.07 / 14.40 s at 256, 14.19 / 15.38 s at 128; 20 minutes, 256 / 128 / 64 KiB, medians
# 3.72 / 3.36 / 3.67 s). monitor.db kept the default, and its tables (incidents,
# timelines, events, audit) grow all day.
CACHE_KIB = 128
SCHEMA_VERSION = 4  # 2: incident grouping and paging columns, signals, alert_state, flap_state
# 3: the audit trail hash-chained (id, prev, hash; audit_anchor): older code must not append
# unchained rows to it; 4: outbox claims (notifications.claimed_by, claim_until)
# Columns added to `incidents` by version 2 (a version 1 file gets them by ALTER TABLE).
_INCIDENT_V2 = (
    ("group_key", "TEXT NOT NULL DEFAULT ''"),
    ("dependents", "TEXT NOT NULL DEFAULT '[]'"),  # JSON list of service names
    ("page_at", "REAL"),
    ("paged_at", "REAL"),
    ("paged_channels", "TEXT NOT NULL DEFAULT '[]'"),  # JSON list of channel names
    ("notified_rank", "INTEGER NOT NULL DEFAULT -1"),
    ("notified_at", "REAL"),
    ("silenced_by", "TEXT"),
    ("flapping", "INTEGER NOT NULL DEFAULT 0"),
    ("closing_note", "TEXT NOT NULL DEFAULT ''"),
)
# Append-only and hash-chained (storage/audit_chain.py): rows are never updated, and only
# retention deletes, from the oldest, leaving the anchor behind.
_AUDIT_TABLE = """CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL,
    source TEXT NOT NULL, outcome TEXT NOT NULL,
    count INTEGER NOT NULL DEFAULT 1,  -- how many attempts the row stands for (DeniedAudit)
    prev TEXT NOT NULL,  -- the hash of the row before (or of the anchor, or GENESIS)
    hash TEXT NOT NULL  -- audit_chain.entry_hash(prev, ts, actor, ..., count)
)"""
SCHEMA = """
CREATE TABLE IF NOT EXISTS incidents (
    id TEXT PRIMARY KEY, service TEXT NOT NULL, rule TEXT NOT NULL, severity TEXT NOT NULL,
    title TEXT NOT NULL, description TEXT NOT NULL, state TEXT NOT NULL,
    opened_at REAL NOT NULL, updated_at REAL NOT NULL,
    acknowledged_at REAL, acknowledged_by TEXT, resolved_at REAL, resolved_by TEXT,
    parent_id TEXT
);
CREATE TABLE IF NOT EXISTS signals (
    incident_id TEXT NOT NULL, rule TEXT NOT NULL, subject TEXT NOT NULL,
    service TEXT NOT NULL, kind TEXT NOT NULL, severity TEXT NOT NULL, outage INTEGER NOT NULL,
    state TEXT NOT NULL, first_at REAL NOT NULL, last_at REAL NOT NULL, value REAL,
    threshold REAL, labels TEXT NOT NULL,  -- JSON: [[name, value], ...]
    PRIMARY KEY (incident_id, rule, subject)
);
CREATE TABLE IF NOT EXISTS alert_state (  -- pending and firing alerts (rules.Evaluator)
    rule TEXT NOT NULL, subject TEXT NOT NULL, state TEXT NOT NULL, since REAL NOT NULL,
    value REAL, threshold REAL NOT NULL, PRIMARY KEY (rule, subject)
);
CREATE TABLE IF NOT EXISTS flap_state (  -- incidents.flapping.FlapDetector snapshots
    service TEXT PRIMARY KEY, history TEXT NOT NULL, flapping INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS incidents_state ON incidents(state);
CREATE INDEX IF NOT EXISTS incidents_opened ON incidents(opened_at);
CREATE TABLE IF NOT EXISTS timeline (
    incident_id TEXT NOT NULL, ts REAL NOT NULL, kind TEXT NOT NULL, actor TEXT NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS timeline_incident ON timeline(incident_id, ts);
%(audit)s;
CREATE INDEX IF NOT EXISTS audit_ts ON audit(ts);
CREATE TABLE IF NOT EXISTS audit_anchor (  -- the last audit row retention removed
    one INTEGER PRIMARY KEY CHECK (one = 1), last_id INTEGER NOT NULL, hash TEXT NOT NULL,
    ts REAL NOT NULL, pruned INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS notifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT, incident_id TEXT NOT NULL, channel TEXT NOT NULL,
    kind TEXT NOT NULL, payload TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL, state TEXT NOT NULL, last_error TEXT, created_at REAL NOT NULL,
    sent_at REAL,
    claimed_by TEXT, claim_until REAL  -- the sender delivering it, until when (claim_notifications)
);
CREATE INDEX IF NOT EXISTS notifications_pending ON notifications(state, next_at);
CREATE INDEX IF NOT EXISTS notifications_incident ON notifications(incident_id);
CREATE TABLE IF NOT EXISTS silences (
    id TEXT PRIMARY KEY, matchers TEXT NOT NULL,  -- JSON: [{name, value, isRegex, isEqual}]
    starts_at REAL NOT NULL, ends_at REAL NOT NULL, created_by TEXT NOT NULL,
    comment TEXT NOT NULL, created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS silences_ends ON silences(ends_at);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL, type TEXT NOT NULL,
    service TEXT NOT NULL, severity TEXT NOT NULL, origin TEXT NOT NULL,
    body TEXT NOT NULL  -- the event's JSON as it arrived (message and data are read from it)
);
CREATE INDEX IF NOT EXISTS events_ts ON events(ts);
""".replace("%(audit)s", _AUDIT_TABLE)
_AUDIT_COLUMNS = "id, ts, actor, action, target, source, outcome, count, prev, hash"
_INCIDENT_COLUMNS = (
    "id",
    "service",
    "rule",
    "severity",
    "title",
    "description",
    "state",
    "opened_at",
    "updated_at",
    "acknowledged_at",
    "acknowledged_by",
    "resolved_at",
    "resolved_by",
    "parent_id",
    *(name for name, _ in _INCIDENT_V2),
)
_SIGNAL_COLUMNS = (
    "rule",
    "subject",
    "service",
    "kind",
    "severity",
    "outage",
    "state",
    "first_at",
    "last_at",
    "value",
    "threshold",
    "labels",
)


# The head of each (incident, channel) queue: the oldest pending row. Later rows wait, so
# an "open" still being retried is never overtaken by its "resolved".
HEAD = """state = 'pending' AND NOT EXISTS (
    SELECT 1 FROM notifications p WHERE p.state = 'pending' AND p.incident_id = n.incident_id
    AND p.channel = n.channel AND p.id < n.id)"""
# Heads due now and claimed by no one (or by a sender whose claim ran out).
CLAIMABLE = f"{HEAD} AND n.next_at <= ? AND (n.claim_until IS NULL OR n.claim_until <= ?)"
NOTE_COLUMNS = ("id", "incident_id", "channel", "kind", "payload", "attempts", "next_at")


class Cursor(Protocol):
    """What the methods read of a query: sqlite3's cursor, or storage/postgres.py's."""

    @property
    def rowcount(self) -> int: ...
    @property
    def lastrowid(self) -> int | None: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """sqlite3.Connection's shape, which the PostgreSQL adapter gives too."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Cursor: ...
    def executemany(self, sql: str, parameters: Iterable[Any], /) -> Cursor: ...
    def close(self) -> None: ...


class StorageError(Exception):
    """The database cannot be used; the message says which file and what to do."""


class StaleLeader(StorageError):
    """A write under a fencing token older than the highest one the store has seen: a
    leader whose lease ran out (paused, partitioned) while another took over. Nothing of
    the refused transaction is written."""


class Database:
    """One SQLite file. Use `await db.run(db.method, ...)` from the event loop."""

    # The leader's fencing token (cluster/lease.py); None: no fencing (one instance, or
    # SQLite, which a fleet never shares). PostgreSQL checks it on every write.
    token: int | None = None
    shared = False  # True: a store several instances use (PostgreSQL)

    def __init__(self, path: Path) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        self._conn: Connection | None = None

    @property
    def where(self) -> str:
        """The store as messages name it (a file; a URL without its password)."""
        return str(self.path)

    # ------------------------------------------------------------------ lifecycle
    def open(self) -> None:
        """Create or open the file and its schema; StorageError on any problem."""
        try:
            private_dir(self.path.parent)
            private_db(self.path)
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA busy_timeout=5000")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StorageError(
                    f"{self.path}: written by a newer devmentor-monitor "
                    f"(schema {version}); upgrade, or use another --data-dir"
                )
            conn.executescript(SCHEMA)
            _add_audit_count(conn)
            _chain_audit(conn)
            _add_incident_v2(conn)
            _add_columns(conn, "notifications", (("claimed_by", "TEXT"), ("claim_until", "REAL")))
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            conn.execute("PRAGMA quick_check").fetchone()
        except sqlite3.DatabaseError as exc:
            raise StorageError(_explain(self.path, exc)) from None
        except OSError as exc:
            raise StorageError(
                f"{self.path}: cannot create its folder: "
                f"{exc.strerror or exc}; choose another --data-dir"
            ) from None
        self._conn = conn

    def open_readonly(self) -> None:
        """Open an existing file for reading only (`report`, beside a running monitor: WAL
        lets both read); StorageError when it is missing, newer or not a database."""
        if not self.path.is_file():
            raise StorageError(
                f"{self.path}: no such file; the monitor writes it there when it runs "
                "(or pass --data-dir)"
            )
        try:
            conn = sqlite3.connect(
                f"{self.path.resolve().as_uri()}?mode=ro",
                uri=True,
                check_same_thread=False,
                isolation_level=None,
            )
            conn.execute("PRAGMA busy_timeout=5000")
            conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise StorageError(_explain(self.path, exc)) from None
        if version > SCHEMA_VERSION:
            conn.close()
            raise StorageError(
                f"{self.path}: written by a newer devmentor-monitor (schema {version}); upgrade"
            )
        self._conn = conn

    def close(self) -> None:
        """Close in the database thread, after the work already queued there.

        A write submitted before a stop keeps running after its caller is cancelled;
        closing the connection from another thread under it crashed the process.
        """
        try:
            self._executor.submit(self._close_connection)
        except RuntimeError:  # closed before: the executor takes no more work
            self._close_connection()
        self._executor.shutdown(wait=True)

    def _close_connection(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a method in the database thread (never on the event loop)."""
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, functools.partial(fn, *args, **kwargs)
        )

    @property
    def conn(self) -> Connection:
        if self._conn is None:
            raise StorageError(f"{self.where}: database is not open")
        return self._conn

    # ------------------------------------------------------------------ incidents
    def save_incident(self, inc: Incident, new_entries: list[TimelineEntry]) -> None:
        """Insert or update an incident and append timeline entries, in one transaction."""
        row = (
            inc.id,
            inc.service,
            inc.rule,
            inc.severity.value,
            inc.title,
            inc.description,
            inc.state.value,
            inc.opened_at,
            inc.updated_at,
            inc.acknowledged_at,
            inc.acknowledged_by,
            inc.resolved_at,
            inc.resolved_by,
            inc.parent_id,
            inc.group_key,
            json.dumps(list(inc.dependents)),
            inc.page_at,
            inc.paged_at,
            json.dumps(list(inc.paged_channels)),
            inc.notified_rank,
            inc.notified_at,
            inc.silenced_by,
            int(inc.flapping),
            inc.closing_note,
        )
        conn = self.conn
        with _transaction(conn):
            conn.execute(
                f"INSERT OR REPLACE INTO incidents ({', '.join(_INCIDENT_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(_INCIDENT_COLUMNS))})",
                row,
            )
            conn.execute("DELETE FROM signals WHERE incident_id = ?", (inc.id,))
            conn.executemany(
                f"INSERT INTO signals (incident_id, {', '.join(_SIGNAL_COLUMNS)}) "
                f"VALUES ({', '.join('?' * (1 + len(_SIGNAL_COLUMNS)))})",
                [
                    (
                        inc.id,
                        s.rule,
                        s.subject,
                        s.service,
                        s.kind,
                        s.severity.value,
                        int(s.outage),
                        s.state,
                        s.first_at,
                        s.last_at,
                        s.value,
                        s.threshold,
                        json.dumps([list(p) for p in s.labels]),
                    )
                    for s in inc.signals
                ],
            )
            conn.executemany(
                "INSERT INTO timeline VALUES (?, ?, ?, ?, ?)",
                [(inc.id, e.ts, e.kind, e.actor, e.text) for e in new_entries],
            )

    def load_incidents(
        self,
        *,
        state: str | None = None,
        service: str | None = None,
        severity: str | None = None,
        since: float | None = None,
        until: float | None = None,
        open_only: bool = False,
        open_at: float | None = None,
        limit: int = 500,
    ) -> list[Incident]:
        """Newest first; ``since``/``until``: opened in [since, until)."""
        where: list[str] = []
        args: list[str | float] = []
        if open_only:
            where.append("state != 'resolved'")
        if open_at is not None:  # open at that moment: the TUI's time travel
            where.append("opened_at <= ? AND (resolved_at IS NULL OR resolved_at > ?)")
            args += [open_at, open_at]
        for column, value in (("state", state), ("service", service), ("severity", severity)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if since is not None:
            where.append("opened_at >= ?")
            args.append(since)
        if until is not None:
            where.append("opened_at < ?")
            args.append(until)
        sql = f"SELECT {', '.join(_INCIDENT_COLUMNS)} FROM incidents"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY opened_at DESC LIMIT ?"
        rows = self.conn.execute(sql, [*args, limit]).fetchall()
        return [self._incident(r) for r in rows]

    def load_incident(self, incident_id: str) -> Incident | None:
        row = self.conn.execute(
            f"SELECT {', '.join(_INCIDENT_COLUMNS)} FROM incidents WHERE id = ?", (incident_id,)
        ).fetchone()
        return self._incident(row) if row else None

    def _incident(self, row: tuple[Any, ...]) -> Incident:
        d = dict(zip(_INCIDENT_COLUMNS, row, strict=True))
        timeline = tuple(
            TimelineEntry(ts, kind, actor, text)
            for ts, kind, actor, text in self.conn.execute(
                "SELECT ts, kind, actor, text FROM timeline WHERE "
                "incident_id = ? ORDER BY ts, rowid",
                (d["id"],),
            )
        )
        rows = self.conn.execute(
            f"SELECT {', '.join(_SIGNAL_COLUMNS)} FROM signals WHERE incident_id = ? "
            "ORDER BY first_at, rowid",
            (d["id"],),
        ).fetchall()
        signals = tuple(
            Signal(
                r[0],
                r[1],
                r[2],
                r[3],
                Severity(r[4]),
                bool(r[5]),
                r[6],
                r[7],
                r[8],
                r[9],
                r[10],
                tuple((str(k), str(v)) for k, v in json.loads(r[11])),
            )
            for r in rows
        )
        return Incident(
            **{
                **d,
                "severity": Severity(d["severity"]),
                "state": IncidentState(d["state"]),
                "dependents": tuple(json.loads(d["dependents"])),
                "paged_channels": tuple(json.loads(d["paged_channels"])),
                "flapping": bool(d["flapping"]),
            },
            timeline=timeline,
            signals=signals,
        )

    # ------------------------------------------------------------------ audit
    def audit(self, entry: AuditEntry) -> None:
        """Append a row (standing for ``entry.count`` attempts), chained to the one before."""
        with _transaction(self.conn):  # the head read and the append: one writer at a time
            append_audit(self.conn, entry)

    def load_audit(
        self,
        limit: int = 200,
        *,
        actor: str | None = None,
        action: str | None = None,
        since: float | None = None,
    ) -> list[AuditEntry]:
        """Newest first; ``action`` matches exactly, or a prefix when it ends in '.'
        ("incident." for every incident action); ``since``: written at or after."""
        where: list[str] = []
        args: list[str | float] = []
        if actor is not None:
            where.append("actor = ?")
            args.append(actor)
        if action is not None and action.endswith("."):
            where.append("substr(action, 1, ?) = ?")
            args += [len(action), action]
        elif action is not None:
            where.append("action = ?")
            args.append(action)
        if since is not None:
            where.append("ts >= ?")
            args.append(since)
        sql = f"SELECT {_AUDIT_COLUMNS} FROM audit"
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self.conn.execute(sql + " ORDER BY ts DESC, id DESC LIMIT ?", (*args, limit))
        return [
            AuditEntry(r[1], r[2], r[3], r[4], r[5], r[6], count=r[7], id=r[0], hash=r[9])
            for r in rows
        ]

    def require_chained_audit(self) -> None:
        """StorageError, saying why, for a file opened read-only from before the chain."""
        columns = {r[1] for r in self.conn.execute("PRAGMA table_info(audit)")}
        if "hash" not in columns:
            raise StorageError(
                f"{self.where}: its audit trail is not hash-chained yet (written by an older "
                "devmentor-monitor); the monitor chains it when it next opens the file"
            )

    def audit_anchor(self) -> Anchor | None:
        row = self.conn.execute("SELECT last_id, hash, ts, pruned FROM audit_anchor").fetchone()
        return Anchor(*row) if row else None

    def verify_audit(self) -> ChainCheck:
        """Recompute the chain from the anchor (read in one transaction, so a monitor
        appending meanwhile cannot make a consistent file look broken)."""
        conn = self.conn
        self.require_chained_audit()
        conn.execute("BEGIN")
        try:
            rows = conn.execute(f"SELECT {_AUDIT_COLUMNS} FROM audit ORDER BY id")
            return verify_chain(rows, self.audit_anchor())
        finally:
            conn.execute("COMMIT")

    # ------------------------------------------------------------------ notifications
    def enqueue(
        self, incident_id: str, channel: str, kind: str, payload: dict[str, Any], now: float
    ) -> int:
        cur = self.conn.execute(
            "INSERT INTO notifications (incident_id, channel, kind, payload, next_at, state, "
            "created_at) VALUES (?, ?, ?, ?, ?, 'pending', ?)",
            (incident_id, channel, kind, json.dumps(payload), now, now),
        )
        return int(cur.lastrowid or 0)

    def due_notifications(self, now: float, limit: int = 100) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT id, incident_id, channel, kind, payload, attempts FROM notifications "
            "WHERE state = 'pending' AND next_at <= ? ORDER BY next_at LIMIT ?",
            (now, limit),
        ).fetchall()
        return [
            {
                "id": r[0],
                "incident_id": r[1],
                "channel": r[2],
                "kind": r[3],
                "payload": json.loads(r[4]),
                "attempts": r[5],
            }
            for r in rows
        ]

    def claim_notifications(
        self, now: float, limit: int, owner: str, hold_s: float
    ) -> list[dict[str, Any]]:
        """Claim up to ``limit`` due queue heads for ``owner`` until ``now + hold_s`` and
        return them: no other sender gets them until the claim runs out (a crashed
        sender's rows are claimed again then) or `mark_notification` ends it. SQLite: one
        write transaction; PostgreSQL overrides it with FOR UPDATE SKIP LOCKED."""
        if limit <= 0:
            return []
        conn = self.conn
        with _transaction(conn):
            rows = conn.execute(
                f"SELECT {', '.join(NOTE_COLUMNS)} FROM notifications n WHERE {CLAIMABLE} "
                "ORDER BY next_at, id LIMIT ?",
                (now, now, limit),
            ).fetchall()
            conn.executemany(
                "UPDATE notifications SET claimed_by = ?, claim_until = ? WHERE id = ?",
                [(owner, now + hold_s, r[0]) for r in rows],
            )
        return [_note(r) for r in rows]

    def next_notification_at(self, now: float) -> float | None:
        """When a queue head next needs a look: the earliest retry time, or claim expiry,
        still ahead of ``now``; None when nothing waits."""
        row = self.conn.execute(
            "SELECT MIN(CASE WHEN claim_until IS NOT NULL AND claim_until > next_at "
            f"THEN claim_until ELSE next_at END) FROM notifications n WHERE {HEAD} "
            "AND (n.next_at > ? OR n.claim_until > ?)",
            (now, now),
        ).fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def release_notifications(self, owner: str | None) -> int:
        """Give back ``owner``'s claims on rows still pending (a sender stopping): another
        sender takes them at once rather than after the claim runs out. None: everyone's
        (a file has one sender: a claim found as it starts is a crashed run's)."""
        sql = "UPDATE notifications SET claimed_by = NULL, claim_until = NULL WHERE "
        if owner is None:
            return self.conn.execute(sql + "claimed_by IS NOT NULL AND state = 'pending'").rowcount
        return self.conn.execute(sql + "claimed_by = ? AND state = 'pending'", (owner,)).rowcount

    def mark_notification(
        self,
        note_id: int,
        *,
        sent: bool,
        attempts: int,
        error: str | None,
        next_at: float | None,
        now: float,
    ) -> None:
        state = "sent" if sent else ("pending" if next_at is not None else "failed")
        self.conn.execute(  # the claim ends with the attempt: a retry is anyone's to claim
            "UPDATE notifications SET state = ?, attempts = ?, last_error = ?, next_at = ?, "
            "sent_at = ?, claimed_by = NULL, claim_until = NULL WHERE id = ?",
            (
                state,
                attempts,
                error,
                next_at if next_at is not None else now,
                now if sent else None,
                note_id,
            ),
        )

    def load_notifications(self, incident_id: str, limit: int = 200) -> list[NotificationRecord]:
        """An incident's notifications, oldest first."""
        rows = self.conn.execute(
            "SELECT channel, kind, state, created_at, sent_at, attempts, last_error "
            "FROM notifications WHERE incident_id = ? ORDER BY created_at, id LIMIT ?",
            (incident_id, limit),
        ).fetchall()
        return [NotificationRecord(*r) for r in rows]

    def notification_counts(self) -> dict[tuple[str, str], int]:
        rows = self.conn.execute(
            "SELECT channel, state, COUNT(*) FROM notifications GROUP BY channel, state"
        ).fetchall()
        return {(c, s): n for c, s, n in rows}

    def count_notifications(self, since: float, until: float) -> list[tuple[str, str, str, int]]:
        """Notifications created in [since, until) by (channel, kind, state): the reports'."""
        rows = self.conn.execute(
            "SELECT channel, kind, state, COUNT(*) FROM notifications "
            "WHERE created_at >= ? AND created_at < ? GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
            (since, until),
        ).fetchall()
        return [(str(c), str(k), str(s), int(n)) for c, k, s, n in rows]

    # ------------------------------------------------------------------ events
    def save_events(self, events: list[Event]) -> None:
        with _transaction(self.conn):
            self.conn.executemany(
                "INSERT INTO events (ts, type, service, severity, origin, body) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (
                        e.ts,
                        e.type,
                        e.service,
                        e.severity.value,
                        e.origin,
                        _text(e.raw if e.raw is not None else e.wire()),
                    )
                    for e in events
                ],
            )

    def load_events(
        self,
        *,
        limit: int = 100,
        since: float | None = None,
        until: float | None = None,
        type_prefix: str | None = None,
        service: str | None = None,
        min_severity: EventSeverity | None = None,
    ) -> list[Event]:
        """Newest first, from disk (for ranges older than what memory holds)."""
        where: list[str] = []
        args: list[str | float] = []
        if since is not None:
            where.append("ts >= ?")
            args.append(since)
        if until is not None:
            where.append("ts < ?")
            args.append(until)
        if type_prefix:
            where.append("substr(type, 1, ?) = ?")
            args += [len(type_prefix), type_prefix]
        if service:
            where.append("service = ?")
            args.append(service)
        if min_severity is not None:
            ok = [s.value for s in EventSeverity if s.rank >= min_severity.rank]
            where.append(f"severity IN ({','.join('?' * len(ok))})")
            args += ok
        sql = "SELECT ts, type, service, severity, origin, body FROM events"
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self.conn.execute(sql + " ORDER BY ts DESC, id DESC LIMIT ?", (*args, limit))
        out = []
        for ts, etype, service, severity, origin, body in rows:
            doc = json.loads(body)
            event = Event(
                ts,
                etype,
                service,
                EventSeverity(severity),
                str(doc.get("message", "")),
                doc.get("data") or {},
                origin,
            )
            event.mask_secrets()  # rows written before events were masked on arrival
            out.append(event)
        return out

    def purge_events(self, before: float) -> int:
        with _transaction(self.conn):
            return self.conn.execute("DELETE FROM events WHERE ts < ?", (before,)).rowcount

    # ------------------------------------------------------------------ retention
    def purge(self, incidents_before: float) -> int:
        """Forget resolved incidents (and their timelines) resolved before the cut-off."""
        conn = self.conn
        with _transaction(conn):
            ids = [
                r[0]
                for r in conn.execute(
                    "SELECT id FROM incidents WHERE state = 'resolved' AND resolved_at < ?",
                    (incidents_before,),
                )
            ]
            conn.executemany("DELETE FROM timeline WHERE incident_id = ?", [(i,) for i in ids])
            conn.executemany("DELETE FROM signals WHERE incident_id = ?", [(i,) for i in ids])
            conn.executemany("DELETE FROM incidents WHERE id = ?", [(i,) for i in ids])
            _prune_audit(conn, incidents_before)
            conn.execute(
                "DELETE FROM notifications WHERE state != 'pending' AND created_at < ?",
                (incidents_before,),
            )
        return len(ids)

    # ------------------------------------------------------------------ erasure
    def erase(self, *, service: str | None, before: float | None) -> dict[str, int]:
        """The right to erasure: delete a service's events and incidents (with their
        timelines, signals and notifications), or those older than ``before`` (events by
        their time; incidents resolved before it: an open one is not old), or both
        conditions at once; in one transaction. Rows deleted per table."""
        events: list[str] = []
        incidents: list[str] = []
        args: list[str | float] = []
        inc_args: list[str | float] = []
        if service is not None:
            events.append("service = ?")
            args.append(service)
            incidents.append("service = ?")
            inc_args.append(service)
        if before is not None:
            events.append("ts < ?")
            args.append(before)
            incidents.append("state = 'resolved' AND resolved_at < ?")
            inc_args.append(before)
        if not events:
            raise ValueError("erase needs a service or a time")
        conn = self.conn
        counts: dict[str, int] = {}
        with _transaction(conn):
            counts["events"] = conn.execute(
                f"DELETE FROM events WHERE {' AND '.join(events)}", args
            ).rowcount
            ids = [
                (r[0],)
                for r in conn.execute(
                    f"SELECT id FROM incidents WHERE {' AND '.join(incidents)}", inc_args
                )
            ]
            for table in ("timeline", "signals", "notifications"):
                counts[table] = conn.executemany(
                    f"DELETE FROM {table} WHERE incident_id = ?", ids
                ).rowcount
            counts["incidents"] = conn.executemany(
                "DELETE FROM incidents WHERE id = ?", ids
            ).rowcount
            if service is not None and before is None:  # what other incidents hold of it
                counts["signals"] += conn.execute(
                    "DELETE FROM signals WHERE service = ?", (service,)
                ).rowcount
                counts["flap_state"] = conn.execute(
                    "DELETE FROM flap_state WHERE service = ?", (service,)
                ).rowcount
        return counts

    # ------------------------------------------------------------------ silences
    def save_silence(self, silence: Silence) -> None:
        """Insert or replace a silence (by id)."""
        self.conn.execute(
            "INSERT OR REPLACE INTO silences (id, matchers, starts_at, ends_at, created_by, "
            "comment, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                silence.id,
                json.dumps([m.to_json() for m in silence.matchers]),
                silence.starts_at,
                silence.ends_at,
                silence.created_by,
                silence.comment,
                silence.created_at,
            ),
        )

    def expire_silence(self, silence_id: str, now: float) -> bool:
        """End a silence at ``now`` (Alertmanager: ends_at = now; one not started yet
        starts then too). False if there is no such silence or it had ended already."""
        cur = self.conn.execute(
            "UPDATE silences SET ends_at = ?, starts_at = MIN(starts_at, ?) "
            "WHERE id = ? AND ends_at > ?",
            (now, now, silence_id, now),
        )
        return cur.rowcount > 0

    def load_silences(self, *, ended_after: float | None = None) -> list[Silence]:
        """Every silence (or those ending after ``ended_after``), newest first."""
        sql = (
            "SELECT id, matchers, starts_at, ends_at, created_by, comment, created_at FROM silences"
        )
        args: tuple[float, ...] = ()
        if ended_after is not None:
            sql += " WHERE ends_at > ?"
            args = (ended_after,)
        rows = self.conn.execute(sql + " ORDER BY created_at DESC, id", args).fetchall()
        return [
            Silence(r[0], tuple(Matcher.from_json(m) for m in json.loads(r[1])), *r[2:])
            for r in rows
        ]

    def purge_silences(self, ended_before: float) -> int:
        """Forget silences that ended before the cut-off (retention.incidents)."""
        return self.conn.execute("DELETE FROM silences WHERE ends_at < ?", (ended_before,)).rowcount

    # ------------------------------------------------------------------ alert state
    def save_alert_states(
        self,
        upserts: list[tuple[str, str, str, float, float | None, float]],
        deletes: list[tuple[str, str]],
    ) -> None:
        """Write pending/firing alerts ((rule, subject, state, since, value, threshold))
        and forget the ones that went quiet, in one transaction."""
        conn = self.conn
        with _transaction(conn):
            conn.executemany(
                "INSERT OR REPLACE INTO alert_state (rule, subject, state, since, value, "
                "threshold) VALUES (?, ?, ?, ?, ?, ?)",
                upserts,
            )
            conn.executemany("DELETE FROM alert_state WHERE rule = ? AND subject = ?", deletes)

    def load_alert_states(self) -> list[tuple[str, str, str, float, float | None, float]]:
        rows = self.conn.execute(
            "SELECT rule, subject, state, since, value, threshold FROM alert_state"
        ).fetchall()
        return [(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows]

    def save_flap_states(self, snapshots: dict[str, FlapSnapshot]) -> None:
        """Replace the flap detector's persisted state with ``snapshots``."""
        conn = self.conn
        with _transaction(conn):
            conn.execute("DELETE FROM flap_state")
            conn.executemany(
                "INSERT INTO flap_state (service, history, flapping) VALUES (?, ?, ?)",
                [(name, s.history, int(s.flapping)) for name, s in snapshots.items()],
            )

    def load_flap_states(self) -> dict[str, FlapSnapshot]:
        rows = self.conn.execute("SELECT service, history, flapping FROM flap_state").fetchall()
        return {r[0]: FlapSnapshot(r[1], bool(r[2])) for r in rows}


def _text(body: bytes | str) -> str:
    """An event's JSON as text (PostgreSQL's TEXT column takes no bytes; SQLite kept them
    as a BLOB, which reads back the same to json.loads)."""
    return body if isinstance(body, str) else body.decode("utf-8", "replace")


def _note(r: tuple[Any, ...]) -> dict[str, Any]:
    """A notification row as the outbox takes it (the payload decoded)."""
    return {**dict(zip(NOTE_COLUMNS, r, strict=True)), "payload": json.loads(r[4])}


def _add_incident_v2(conn: sqlite3.Connection) -> None:
    """Files written by schema 1 lack the grouping and paging columns: add them."""
    _add_columns(conn, "incidents", _INCIDENT_V2)


def _add_columns(
    conn: sqlite3.Connection, table: str, columns: tuple[tuple[str, str], ...]
) -> None:
    """Columns a file written by an older schema lacks, added (ALTER TABLE)."""
    have = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
    for name, decl in columns:
        if name not in have:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {decl}")


def append_audit(conn: Connection, entry: AuditEntry) -> None:
    """Append one chained row; the caller holds a write transaction (BEGIN IMMEDIATE), so
    no other writer, another process included, appends between the head read and this."""
    head = conn.execute("SELECT hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
    if head is None:
        head = conn.execute("SELECT hash FROM audit_anchor").fetchone()
    prev = head[0] if head is not None else GENESIS
    fields = (entry.ts, entry.actor, entry.action, entry.target, entry.source, entry.outcome)
    conn.execute(
        "INSERT INTO audit (ts, actor, action, target, source, outcome, count, prev, hash) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (*fields, entry.count, prev, entry_hash(prev, *fields, entry.count)),
    )


def _prune_audit(conn: Connection, before: float) -> None:
    """Remove the oldest rows written before the cut-off: a prefix of the chain (up to the
    first row at or after it), so no hole opens in the middle; the last one removed becomes
    the anchor. Call within a transaction."""
    first_kept = conn.execute("SELECT MIN(id) FROM audit WHERE ts >= ?", (before,)).fetchone()[0]
    sql = "SELECT id, hash, ts FROM audit"
    args: tuple[int, ...] = ()
    if first_kept is not None:
        sql, args = sql + " WHERE id < ?", (first_kept,)
    last = conn.execute(sql + " ORDER BY id DESC LIMIT 1", args).fetchone()
    if last is None:
        return
    removed = conn.execute("DELETE FROM audit WHERE id <= ?", (last[0],)).rowcount
    conn.execute(
        "INSERT INTO audit_anchor (one, last_id, hash, ts, pruned) VALUES (1, ?, ?, ?, ?) "
        "ON CONFLICT (one) DO UPDATE SET last_id = excluded.last_id, hash = excluded.hash, "
        "ts = excluded.ts, pruned = audit_anchor.pruned + excluded.pruned",
        (*last, removed),
    )


def _chain_audit(conn: sqlite3.Connection) -> None:
    """Files written before the chain (no audit.hash): rebuild the table with an id and
    chain the rows once, in the order they were written (rowid), keeping that as id."""
    columns = {r[1] for r in conn.execute("PRAGMA table_info(audit)")}
    if "hash" in columns:
        return
    with _transaction(conn):
        conn.execute("ALTER TABLE audit RENAME TO audit_unchained")
        conn.execute(_AUDIT_TABLE)
        prev = GENESIS
        for row in conn.execute(
            "SELECT rowid, ts, actor, action, target, source, outcome, count "
            "FROM audit_unchained ORDER BY rowid"
        ).fetchall():
            digest = entry_hash(prev, *row[1:])
            conn.execute(
                f"INSERT INTO audit ({_AUDIT_COLUMNS}) VALUES ({', '.join('?' * 10)})",
                (*row, prev, digest),
            )
            prev = digest
        conn.execute("DROP TABLE audit_unchained")  # and its index
        conn.execute("CREATE INDEX IF NOT EXISTS audit_ts ON audit(ts)")


def _add_audit_count(conn: sqlite3.Connection) -> None:
    """Files written before refusals were aggregated lack audit.count: add it (default 1)."""
    columns = {r[1] for r in conn.execute("PRAGMA table_info(audit)")}
    if "count" not in columns:
        conn.execute("ALTER TABLE audit ADD COLUMN count INTEGER NOT NULL DEFAULT 1")


class _transaction:  # PostgreSQL: a transaction under the store's write lock (postgres.py)
    """BEGIN IMMEDIATE … COMMIT, rolled back on error (autocommit connection)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def __enter__(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")


def _explain(path: Path, exc: sqlite3.DatabaseError) -> str:
    text = str(exc)
    if "not a database" in text or "malformed" in text:
        return (
            f"{path}: not a usable SQLite database ({text}); move it aside to start "
            "afresh, or choose another --data-dir"
        )
    if "readonly" in text or "unable to open" in text or "permission" in text.lower():
        return f"{path}: cannot write ({text}); check permissions or choose another --data-dir"
    return f"{path}: {text}"
