"""The shared history backend: the fleet's PostgreSQL (storage.url), same tiers as SQLite.

`PgSeries` is `SqliteSeries` with PostgreSQL underneath: the same queue, writer thread,
batching, retry, drop and state reporting (history/sqlite.py), and the same semantics
(tiers, rollups, first-wins, refusals, retention), ported to SQL PostgreSQL takes. The
tables are created by a versioned migration (storage/migrations.py, "history_*"), never
here. It has its own two connections (the writer's, the reader's), not the store's: a
batch is one plain transaction and takes neither the store's write lock nor the fence
(both exist for incidents and the audit chain; history rows have one writer per series).

Written once fleet-wide: each instance writes the results of the checks it ran (the
ones heard from other instances update only the live store: cluster/node.py), so every
instance reads the same rows. Host metrics are each instance's own: a ``host:<key>``
series is stored as ``host@<instance>:<key>`` (``instance``: cluster.id, else the host
name), and read back under its own name by the instance that wrote it; another
instance's host series are listed (names) and read under their stored name.

A batch: the samples go into a temporary table by COPY, then `INSERT ... SELECT` moves
them into the raw tier and folds them into the 1-minute and 1-hour rollups, as the
SQLite backend does. Retention runs in one instance at a time (a transaction-level try
lock: the others skip that pass); the raw tier's expired rows are found by a BRIN index
on time (a few pages; a B-tree on time would cost every sample a second insert).
"""

from __future__ import annotations

import asyncio
import math
import socket
import time
from collections.abc import Callable, Sequence
from itertools import chain
from typing import Any

import psycopg

from devmentor_monitor.history.model import (
    AHEAD,
    STEP,
    Point,
    Sample,
    Tier,
    keep,
    tier_for,
)
from devmentor_monitor.history.sqlite import SqliteSeries
from devmentor_monitor.storage import migrations
from devmentor_monitor.storage.db import StorageError

HOST = "host:"
_TOP = "\U0010ffff"  # after every character a name holds: prefix + _TOP bounds a prefix

# The writer's scratch tables (this session's only, emptied at each commit). ``n``: the
# order samples came in, so the first of a repeated (series, ts) in a batch wins.
TEMP = (
    "CREATE TEMP TABLE IF NOT EXISTS hbatch (n BIGINT GENERATED ALWAYS AS IDENTITY, "
    'name TEXT COLLATE "C", ts DOUBLE PRECISION, value DOUBLE PRECISION) '
    "ON COMMIT DELETE ROWS",
    "CREATE TEMP TABLE IF NOT EXISTS hrows (series BIGINT, ts BIGINT, value DOUBLE PRECISION, "
    "PRIMARY KEY (series, ts)) ON COMMIT DELETE ROWS",
)
COPY = "COPY hbatch (name, ts, value) FROM STDIN"
# NaN is equal to itself and above every number in PostgreSQL: `ts > ahead` refuses it.
REFUSE = (
    "DELETE FROM hbatch WHERE ts IS NULL OR value IS NULL OR value = 'NaN' "
    "OR value IN ('Infinity', '-Infinity') OR ts * 1000 < %s OR ts * 1000 > %s"
)
# Only names not stored yet (an ON CONFLICT alone would draw an id for every name of
# every batch); sorted, so two writers adding the same new names (instances in
# fallback) take the unique index's locks in the same order and do not deadlock.
NEW_NAMES = (
    "INSERT INTO history_series (name) SELECT DISTINCT name FROM hbatch b WHERE NOT EXISTS "
    "(SELECT 1 FROM history_series s WHERE s.name = b.name) ORDER BY name "
    "ON CONFLICT (name) DO NOTHING"
)
TO_IDS = (
    "INSERT INTO hrows SELECT DISTINCT ON (s.id, round(b.ts * 1000)) s.id, "
    "round(b.ts * 1000)::BIGINT, b.value FROM hbatch b JOIN history_series s "
    "ON s.name = b.name ORDER BY s.id, round(b.ts * 1000), b.n"
)
ALREADY_STORED = (
    "DELETE FROM hrows WHERE ts >= %s AND EXISTS "
    "(SELECT 1 FROM history_raw r WHERE r.series = hrows.series AND r.ts = hrows.ts)"
)
INSERT_RAW = (
    "INSERT INTO history_raw SELECT series, ts, value FROM hrows WHERE ts >= %s "
    "ORDER BY series, ts ON CONFLICT DO NOTHING"
)
_ROLLUP = """
INSERT INTO {table} (series, t, min, max, sum, count)
SELECT series, (ts / {ms}) * {width}, min(value), max(value), sum(value), count(*)
FROM hrows WHERE ts >= %s GROUP BY 1, 2 ORDER BY 1, 2
ON CONFLICT (series, t) DO UPDATE SET
    min = LEAST({table}.min, EXCLUDED.min), max = GREATEST({table}.max, EXCLUDED.max),
    sum = {table}.sum + EXCLUDED.sum, count = {table}.count + EXCLUDED.count
"""
ROLLUPS = {
    Tier.MINUTE: _ROLLUP.format(table="history_m1", ms=60_000, width=60),
    Tier.HOUR: _ROLLUP.format(table="history_h1", ms=3_600_000, width=3600),
}
# As history/sqlite.py's RETENTION; the raw tier's rows by its BRIN index on ts.
RETENTION = (
    """
    DELETE FROM history_series WHERE id IN (
        SELECT series FROM history_m1 WHERE t < %(m1)s
        UNION SELECT series FROM history_h1 WHERE t < %(h1)s)
    AND NOT EXISTS (SELECT 1 FROM history_m1 WHERE series = history_series.id AND t >= %(m1)s)
    AND NOT EXISTS (SELECT 1 FROM history_h1 WHERE series = history_series.id AND t >= %(h1)s)
    AND NOT EXISTS (SELECT 1 FROM history_raw WHERE series = history_series.id
                    AND ts >= %(raw)s)
    """,
    "DELETE FROM history_m1 WHERE t < %(m1)s",
    "DELETE FROM history_h1 WHERE t < %(h1)s",
    "DELETE FROM history_raw WHERE ts < %(raw)s",
)
TABLE = {Tier.RAW: "history_raw", Tier.MINUTE: "history_m1", Tier.HOUR: "history_h1"}
# pg_try_advisory_xact_lock key: one instance's retention pass at a time.
RETENTION_LOCK = int.from_bytes(b"dm_hret1", "big")


def _sql(text: str) -> bytes:
    return text.encode()  # psycopg takes no built str as a query (its LiteralString)


class PgSeries(SqliteSeries):
    """`SeriesStore` on PostgreSQL (see the module's docstring). ``url``: storage.url;
    ``instance``: what this instance's host series are stored under (cluster.id, else
    the host name)."""

    def __init__(
        self,
        url: str,
        retention: float,
        *,
        instance: str | None = None,
        clock: Callable[[], float] = time.time,
        batch_interval: float = 1.0,
        readonly: bool = False,
        on_state: Callable[[str | None], None] | None = None,
    ) -> None:
        from pathlib import Path

        from devmentor_monitor.storage.postgres import location

        self.url = url
        self.where = location(url)
        # path: what the writer's messages name (the base class logs it)
        super().__init__(
            Path(self.where),
            retention,
            clock=clock,
            batch_interval=batch_interval,
            readonly=readonly,
            on_state=on_state,
        )
        self.label = f"the history at {self.where}"
        self.instance = instance or socket.gethostname()
        self._mine = f"host@{self.instance}:"
        self._pg_read: psycopg.Connection[Any] | None = None

    # ------------------------------------------------------------------ names
    def _stored(self, name: str) -> str:
        """A name as stored: this instance's host series under its own instance."""
        return self._mine + name[len(HOST) :] if name.startswith(HOST) else name

    def _shown(self, name: str) -> str:
        return HOST + name[len(self._mine) :] if name.startswith(self._mine) else name

    # ------------------------------------------------------------------ lifecycle
    def _pg_connect(self) -> psycopg.Connection[Any]:
        from devmentor_monitor.storage.postgres import CONNECT_TIMEOUT, reason

        kwargs: dict[str, Any] = {"autocommit": True, "application_name": "devmentor-history"}
        if "connect_timeout" not in self.url:
            kwargs["connect_timeout"] = CONNECT_TIMEOUT
        try:
            return psycopg.connect(self.url, **kwargs)
        except psycopg.Error as exc:
            raise StorageError(
                f"storage.url: cannot connect to {self.where}: {reason(exc)}"
            ) from None

    def open(self) -> None:
        """Check the schema has the history's tables (the store's open migrated it) and
        start the writer (blocking: call in a thread). StorageError when it cannot."""
        conn = self._pg_connect()
        try:
            found = migrations.version(conn)
        finally:
            conn.close()
        if found < migrations.HISTORY:
            raise StorageError(
                f"storage.url: {self.where}: schema {found} has no history tables "
                f"(version {migrations.HISTORY}): run `devmentor-monitor db migrate`"
            )
        super()._start_writer()

    def _connect_writer(self) -> Any:
        conn = self._pg_connect()
        try:
            for sql in TEMP:
                conn.execute(_sql(sql))
        except BaseException:
            conn.close()
            raise
        return conn

    def _same_file(self) -> bool:
        return True  # a server, not a file: a lost connection fails the batch instead

    def _keep_writer(self, conn: Any, exc: Exception) -> bool:
        """A failed batch: keep the connection only while it still works."""
        return not (conn.closed or conn.broken)

    # ------------------------------------------------------------------ writing
    def write(self, samples: Sequence[Sample]) -> None:
        if samples and samples[0].series.startswith(HOST):  # host batches hold host series
            samples = [Sample(self._stored(s.series), s.ts, s.value) for s in samples]
        super().write(samples)

    def _commit(self, conn: Any, batches: list[Sequence[Sample]]) -> None:
        now_ms = round(self.clock() * 1000)
        cut = {tier: now_ms - round(keep(tier, self.retention) * 1000) for tier in Tier}
        given = sum(map(len, batches))
        with conn.transaction():
            cur = conn.cursor()
            with cur.copy(_sql(COPY)) as copy:
                for s in chain.from_iterable(batches):
                    copy.write_row((s.series, s.ts, s.value))
            refused = cur.execute(_sql(REFUSE), (min(cut.values()), now_ms + AHEAD * 1000)).rowcount
            cur.execute(_sql(NEW_NAMES))
            inserted = cur.execute(_sql(TO_IDS)).rowcount
            stored = cur.execute(_sql(ALREADY_STORED), (cut[Tier.RAW],)).rowcount
            cur.execute(_sql(INSERT_RAW), (cut[Tier.RAW],))
            for tier, sql in ROLLUPS.items():
                cur.execute(_sql(sql), (cut[tier],))
        self.written += inserted - stored
        self.duplicates += given - refused - inserted + stored
        self.refused += refused

    def _retention(self, conn: Any) -> None:
        now = self.clock()
        if now - self._last_retention < self._retention_every:
            return
        cutoffs = {
            "raw": round((now - keep(Tier.RAW, self.retention)) * 1000),
            "m1": int(now - keep(Tier.MINUTE, self.retention)),
            "h1": int(now - keep(Tier.HOUR, self.retention)),
        }
        with conn.transaction():
            row = conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (RETENTION_LOCK,)).fetchone()
            if row and row[0]:  # another instance's pass is running: it does the work
                for sql in RETENTION:
                    conn.execute(_sql(sql), cutoffs)
        self._last_retention = now

    # ------------------------------------------------------------------ reading
    async def _read(self, fn: Callable[[Any], Any], empty: Any) -> Any:
        def call() -> Any:
            conn = self._pg_read
            if conn is not None and (conn.closed or conn.broken):
                conn = None
            if conn is None:
                conn = self._pg_read = self._pg_connect()
                if self.readonly:
                    conn.execute("SET default_transaction_read_only = on")
            try:
                return fn(conn)
            except psycopg.OperationalError:
                if not (conn.closed or conn.broken):
                    raise
                self._pg_read = self._pg_connect()  # lost (a restart): a read goes again
                return fn(self._pg_read)

        if self._closed:
            return empty
        return await asyncio.get_running_loop().run_in_executor(self._reads, call)

    def _close_reader(self) -> None:
        if self._pg_read is not None:
            self._pg_read.close()
            self._pg_read = None

    @staticmethod
    def _id(conn: Any, series: str) -> int | None:
        row = conn.execute("SELECT id FROM history_series WHERE name = %s", (series,)).fetchone()
        return None if row is None else int(row[0])

    async def query(self, series: str, since: float, until: float, step: float) -> list[Point]:
        if since > until:
            return []
        tier = tier_for(step, since, self.clock(), self.retention)
        name = self._stored(series)
        points: list[Point] = await self._read(
            lambda c: self._range(c, name, tier, since, until, step), []
        )
        return points

    def _range(
        self, conn: Any, series: str, tier: Tier, since: float, until: float, step: float
    ) -> list[Point]:
        sid = self._id(conn, series)
        if sid is None:
            return []
        if tier is Tier.RAW and step <= 0:
            rows = conn.execute(
                "SELECT ts, value FROM history_raw WHERE series = %s AND ts BETWEEN %s AND %s "
                "ORDER BY ts",
                (sid, int(since * 1000), int(until * 1000)),
            )
            return [Point(t / 1000, v, v, v, 1) for t, v in rows]
        if tier is Tier.RAW:
            width = max(1, round(step * 1000))
            rows = conn.execute(
                "SELECT (ts / %(w)s) * %(w)s AS b, min(value), avg(value), max(value), "
                "count(*) FROM history_raw WHERE series = %(s)s AND ts BETWEEN %(a)s AND %(z)s "
                "GROUP BY b ORDER BY b",
                {"w": width, "s": sid, "a": round(since * 1000), "z": round(until * 1000)},
            )
            return [Point(b / 1000, lo, avg, hi, n) for b, lo, avg, hi, n in rows]
        base = int(STEP[tier])
        width = max(1, round(step / base)) * base
        start = int(since) - int(since) % base
        table = TABLE[tier]
        if width == base:
            rows = conn.execute(
                _sql(
                    f"SELECT t, min, sum / count, max, count FROM {table} "
                    "WHERE series = %s AND t BETWEEN %s AND %s ORDER BY t"
                ),
                (sid, start, int(until)),
            )
            return [Point(float(b), lo, avg, hi, n) for b, lo, avg, hi, n in rows]
        rows = conn.execute(
            _sql(
                "SELECT (t / %(w)s) * %(w)s AS b, min(min), sum(sum) / sum(count), max(max), "
                f"sum(count) FROM {table} WHERE series = %(s)s AND t BETWEEN %(a)s AND %(z)s "
                "GROUP BY b ORDER BY b"
            ),
            {"w": width, "s": sid, "a": start, "z": int(until)},
        )
        return [Point(float(b), lo, avg, hi, int(n)) for b, lo, avg, hi, n in rows]

    async def samples(
        self, series: str, since: float, until: float
    ) -> tuple[list[float], list[float]]:
        name = self._stored(series)

        def read(conn: Any) -> tuple[list[float], list[float]]:
            sid = self._id(conn, name)
            if sid is None:
                return [], []
            rows = conn.execute(
                "SELECT ts / 1000.0, value FROM history_raw WHERE series = %s "
                "AND ts BETWEEN %s AND %s ORDER BY ts",
                (sid, int(since * 1000), int(until * 1000)),
            ).fetchall()
            if not rows:
                return [], []
            ts, values = zip(*rows, strict=True)
            return [float(t) for t in ts], list(values)

        result: tuple[list[float], list[float]] = await self._read(read, ([], []))
        return result

    async def last(self, series: str) -> Sample | None:
        name = self._stored(series)

        def read(conn: Any) -> Sample | None:
            sid = self._id(conn, name)
            if sid is None:
                return None
            row = conn.execute(
                "SELECT ts, value FROM history_raw WHERE series = %s ORDER BY ts DESC LIMIT 1",
                (sid,),
            ).fetchone()
            return None if row is None else Sample(series, row[0] / 1000, row[1])

        result: Sample | None = await self._read(read, None)
        return result

    async def names(self, prefix: str = "") -> list[str]:
        stored = self._stored(prefix)

        def read(conn: Any) -> list[str]:
            rows = conn.execute(
                "SELECT name FROM history_series WHERE name >= %s AND name < %s ORDER BY name",
                (stored, stored + _TOP),
            )
            return [self._shown(r[0]) for r in rows]

        result: list[str] = await self._read(read, [])
        if prefix == "" or prefix.startswith(HOST):
            result.sort()
        return result

    async def latest(self, prefix: str, since: float) -> list[Sample]:
        stored = self._stored(prefix)

        def read(conn: Any) -> list[Sample]:
            rows = conn.execute(
                "SELECT s.name, r.ts, r.value FROM history_series s "
                "JOIN LATERAL (SELECT ts, value FROM history_raw m WHERE m.series = s.id "
                "ORDER BY ts DESC LIMIT 1) r ON true "
                "WHERE s.name >= %s AND s.name < %s AND r.ts >= %s ORDER BY s.name",
                (stored, stored + _TOP, math.ceil(since * 1000)),
            )
            return [Sample(self._shown(n), ts / 1000, value) for n, ts, value in rows]

        result: list[Sample] = await self._read(read, [])
        return result

    def file_bytes(self) -> int:
        """The history's tables and indexes on the server."""

        def size() -> int:
            conn = self._pg_connect()
            try:
                row = conn.execute(
                    "SELECT sum(pg_total_relation_size(c)) FROM unnest(ARRAY["
                    "'history_series', 'history_raw', 'history_m1', 'history_h1']"
                    "::regclass[]) c"
                ).fetchone()
                return int(row[0]) if row and row[0] is not None else 0
            finally:
                conn.close()

        return size()


def erase(url: str, *, service: str | None, before: float | None) -> dict[str, int]:
    """history/sqlite.py's `erase` on the shared history: a service's series, or rows
    older than ``before``, or both, then the series left with no row. Rows deleted per
    table (named as in history.db)."""
    conn = psycopg.connect(url, autocommit=True)
    counts = dict.fromkeys(("series", "raw", "m1", "h1"), 0)
    try:
        with conn.transaction():
            ids: list[int] | None = None
            if service is not None:
                ids = [
                    r[0]
                    for r in conn.execute(
                        "SELECT id FROM history_series WHERE starts_with(name, %s) "
                        "OR starts_with(name, %s) OR (starts_with(name, 'custom:') "
                        "AND strpos(name, %s) > 0)",
                        (f"service:{service}:", f"scrape:{service}:", f'service="{service}"'),
                    )
                ]
            for table, col, end in (("raw", "ts", 0), ("m1", "t", 60), ("h1", "t", 3600)):
                where: list[str] = []
                args: list[Any] = []
                if ids is not None:
                    where.append("series = ANY(%s)")
                    args.append(ids)
                if before is not None:
                    if table == "raw":
                        where.append("ts < %s")
                        args.append(before * 1000)
                    else:
                        where.append(f"{col} + {end} <= %s")
                        args.append(before)
                counts[table] = conn.execute(
                    _sql(f"DELETE FROM history_{table} WHERE {' AND '.join(where)}"), args
                ).rowcount
            counts["series"] = conn.execute(
                "DELETE FROM history_series s WHERE "
                "NOT EXISTS (SELECT 1 FROM history_raw WHERE series = s.id) "
                "AND NOT EXISTS (SELECT 1 FROM history_m1 WHERE series = s.id) "
                "AND NOT EXISTS (SELECT 1 FROM history_h1 WHERE series = s.id)"
            ).rowcount
    finally:
        conn.close()
    return counts
