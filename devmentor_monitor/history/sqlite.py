"""The embedded history backend: one SQLite file (WAL), three tiers, one writer thread.

`write` only puts the samples on a queue (a C SimpleQueue: no lock the event loop waits
on). The writer thread takes what has queued for up to `batch_interval` and stores it in
one transaction, all in SQL: the samples go into a temporary table through `executemany`
over C iterators (no Python code runs per sample, so the GIL is released between rows),
and `INSERT ... SELECT ... GROUP BY ... ON CONFLICT DO UPDATE` folds the rows newly
inserted into the raw tier (and backfill older than it) into the 1-minute and 1-hour
rollups. The event loop stays responsive while it writes (bench/history_write.py
measures both). What waits in memory (queued, in the batch being written, held for a
retry) is capped at `MAX_QUEUED` samples; past it `write` drops whole calls. Retention runs
in the same thread once a minute, in one transaction whose cost follows the data held,
not every series ever seen: it removes the series left with no rows, then each tier's
rows past its span. Reads use their own connection in their own thread; WAL lets them run
beside the writer.

A failed write (a full disk, an unwritable folder) is logged once, counted, reported
through ``on_state`` and retried with the next batch, up to `MAX_PENDING` samples; a
history file removed under a running monitor is noticed and started afresh.

Timestamps are stored as integer milliseconds (raw) and integer seconds (rollup starts):
SQLite stores small integers in fewer bytes than a REAL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, InvalidStateError, ThreadPoolExecutor
from itertools import chain
from operator import attrgetter
from pathlib import Path
from typing import Any

from devmentor_monitor.history.model import (
    AHEAD,
    STEP,
    HistoryError,
    Point,
    Sample,
    Tier,
    keep,
    rows_held,
    tier_for,
)
from devmentor_monitor.storage.db import CACHE_KIB, StorageError, _explain
from devmentor_monitor.storage.files import private_db, private_dir

log = logging.getLogger("devmentor_monitor.history")

SCHEMA = """
CREATE TABLE IF NOT EXISTS series (
    id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE);  -- ids never reused
CREATE TABLE IF NOT EXISTS raw (
    series INTEGER NOT NULL, ts INTEGER NOT NULL, value REAL NOT NULL,
    PRIMARY KEY (series, ts)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS m1 (
    series INTEGER NOT NULL, t INTEGER NOT NULL,
    min REAL NOT NULL, max REAL NOT NULL, sum REAL NOT NULL, count INTEGER NOT NULL,
    PRIMARY KEY (series, t)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS h1 (
    series INTEGER NOT NULL, t INTEGER NOT NULL,
    min REAL NOT NULL, max REAL NOT NULL, sum REAL NOT NULL, count INTEGER NOT NULL,
    PRIMARY KEY (series, t)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS m1_t ON m1 (t);
CREATE INDEX IF NOT EXISTS h1_t ON h1 (t);
"""
# The rollups' indexes on time let retention find what expired without visiting every
# series (a new entry per bucket, not per sample: the raw tier has none, see RETENTION).
# The writer's scratch tables (per connection, in memory): what came in, by name, and the
# same rows by series id once new names have their id. Their primary keys drop a repeat
# of (series, ts) within one batch: the first wins, as against the raw tier.
TEMP = """
CREATE TEMP TABLE batch (name TEXT, ts INTEGER, value REAL, PRIMARY KEY (name, ts))
    WITHOUT ROWID;
CREATE TEMP TABLE rows (series INTEGER, ts INTEGER, value REAL, PRIMARY KEY (series, ts))
    WITHOUT ROWID;
"""
# ts arrives as float seconds; NaN binds as NULL, +-inf as 9e999 (SQLite's infinity).
INSERT_BATCH = "INSERT OR IGNORE INTO temp.batch VALUES (?1, CAST(round(?2 * 1000) AS INTEGER), ?3)"
REFUSE = (
    "DELETE FROM temp.batch WHERE ts IS NULL OR value IS NULL OR value IN (9e999, -9e999) "
    "OR ts < ?1 OR ts > ?2"
)
NEW_NAMES = "INSERT OR IGNORE INTO series (name) SELECT DISTINCT name FROM temp.batch"
TO_IDS = (
    "INSERT INTO temp.rows SELECT s.id, b.ts, b.value FROM temp.batch b "
    "JOIN series s ON s.name = b.name"
)
ALREADY_STORED = (
    "DELETE FROM temp.rows WHERE ts >= ?1 AND EXISTS "
    "(SELECT 1 FROM raw r WHERE r.series = temp.rows.series AND r.ts = temp.rows.ts)"
)
INSERT_RAW = "INSERT INTO raw SELECT series, ts, value FROM temp.rows WHERE ts >= ?1"
_ROLLUP = """
INSERT INTO {table} (series, t, min, max, sum, count)
SELECT series, (ts / {ms}) * {width}, min(value), max(value), sum(value), count(*)
FROM temp.rows WHERE ts >= ? GROUP BY 1, 2
ON CONFLICT (series, t) DO UPDATE SET
    min = min({table}.min, excluded.min), max = max({table}.max, excluded.max),
    sum = {table}.sum + excluded.sum, count = {table}.count + excluded.count
"""
ROLLUPS = {
    Tier.MINUTE: _ROLLUP.format(table="m1", ms=60_000, width=60),
    Tier.HOUR: _ROLLUP.format(table="h1", ms=3_600_000, width=3600),
}
RETENTION_EVERY = 60.0  # seconds between retention passes
# One retention pass (:raw, :m1, :h1: each tier's cutoff), in one transaction. First the
# series with no row left inside any tier's span go. Only those losing a rollup row are
# looked at (found on the time indexes): a series loses its last row in a rollup, never
# in raw, since every raw sample is also in the minute tier, which keeps it 6 days
# longer. Then each tier's expired rows: the rollups' by their time index (cost: the
# rows removed); raw rows per series that has any, found by a skip-scan of raw's primary
# key (~3 us per such series: 25-35 ms for 10,000). An index on raw.ts would make it
# free, but costs every sample a second B-tree insert: 35-45 % fewer samples per CPU
# second, and ~15 B more per raw row on disk (measured).
RETENTION = (
    """
    DELETE FROM series WHERE id IN (
        SELECT series FROM m1 WHERE t < :m1 UNION SELECT series FROM h1 WHERE t < :h1)
    AND NOT EXISTS (SELECT 1 FROM m1 WHERE series = series.id AND t >= :m1)
    AND NOT EXISTS (SELECT 1 FROM h1 WHERE series = series.id AND t >= :h1)
    AND NOT EXISTS (SELECT 1 FROM raw WHERE series = series.id AND ts >= :raw)
    """,
    "DELETE FROM m1 WHERE t < :m1",
    "DELETE FROM h1 WHERE t < :h1",
    """
    WITH RECURSIVE held(id) AS (
        SELECT min(series) FROM raw
        UNION ALL SELECT (SELECT min(series) FROM raw WHERE series > held.id) FROM held
        WHERE held.id IS NOT NULL)
    DELETE FROM raw WHERE series IN (SELECT id FROM held) AND ts < :raw
    """,
)
TABLE = {Tier.RAW: "raw", Tier.MINUTE: "m1", Tier.HOUR: "h1"}
# Samples in memory: queued, in the batch being written, or held for a retry. ~110 B each
# (a Sample and its two floats, measured with tracemalloc; ~180 B when each has its own
# name string), so ~55-90 MB at most: 10 s of the bench's 50,000 samples/s target, hours
# of a normal load. Beyond it whole write() calls are dropped (a stalled disk must not
# take the monitor's memory with it).
MAX_QUEUED = 500_000
MAX_PENDING = 200_000  # samples held for a retry while writes fail (~20 MB; hours of data)
_FIELDS = attrgetter("series", "ts", "value")

# ------------------------------------------------------------------ the disk bound
# Bytes one row takes in each table in the steady state (B-tree pages partly filled,
# freed pages reused), measured by bench/history_write.py with dbstat: raw 17 B with 6
# series, 26 B with 200 series interleaved (pages split in the middle fill less); rollups
# 36-39 B with their entry in the time index (23-25 B without). The bound takes half as
# much again.
RAW_ROW_BYTES = 40
ROLLUP_ROW_BYTES = 58
SERIES_BYTES = 256  # a name (up to ~100 characters) in the table and its index
FIXED_BYTES = 6 * 1024 * 1024  # schema pages, plus a WAL truncated to WAL_LIMIT
WAL_LIMIT = 4 * 1024 * 1024


def disk_bound(intervals: Iterable[float], retention: float) -> int:
    """The most bytes history.db (with its WAL) takes for series sampled at these
    intervals (one entry per series) with the hour tier kept ``retention`` seconds: each
    tier's rows (`rows_held`) at their measured size, plus fixed overhead. The README,
    the bench and the tier test use this one formula."""
    total = FIXED_BYTES
    for interval in intervals:
        rows = rows_held(interval, retention)
        total += SERIES_BYTES + rows[Tier.RAW] * RAW_ROW_BYTES
        total += (rows[Tier.MINUTE] + rows[Tier.HOUR]) * ROLLUP_ROW_BYTES
    return total


def erase(path: Path, *, service: str | None, before: float | None) -> dict[str, int]:
    """The right to erasure in history.db: a service's series (its checks, what was
    scraped from it, pushed metrics labelled service="<it>"), or rows older than
    ``before`` (rollup buckets that ended by then), or both; then the series left with
    no row. One transaction, beside a running monitor (WAL; it waits for the writer's
    lock up to the busy timeout). Rows deleted per table."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA busy_timeout=10000")
        counts = dict.fromkeys(("series", "raw", "m1", "h1"), 0)
        conn.execute("BEGIN IMMEDIATE")
        try:
            if service is not None:
                ids = [
                    (r[0],)
                    for r in conn.execute(
                        "SELECT id FROM series WHERE substr(name, 1, ?) = ? "
                        "OR substr(name, 1, ?) = ? OR (substr(name, 1, 7) = 'custom:' "
                        "AND instr(name, ?) > 0)",
                        (
                            len(f"service:{service}:"),
                            f"service:{service}:",
                            len(f"scrape:{service}:"),
                            f"scrape:{service}:",
                            f'service="{service}"',
                        ),
                    )
                ]
                time_raw = " AND ts < ?" if before is not None else ""
                time_roll = " AND t + {w} <= ?" if before is not None else ""
                extra = (before * 1000,) if before is not None else ()
                for table, cond, args in (
                    ("raw", time_raw, extra),
                    ("m1", time_roll.format(w=60), (before,) if before is not None else ()),
                    ("h1", time_roll.format(w=3600), (before,) if before is not None else ()),
                ):
                    counts[table] = conn.executemany(
                        f"DELETE FROM {table} WHERE series = ?{cond}", [(*i, *args) for i in ids]
                    ).rowcount
            else:
                assert before is not None
                counts["raw"] = conn.execute(
                    "DELETE FROM raw WHERE ts < ?", (before * 1000,)
                ).rowcount
                counts["m1"] = conn.execute("DELETE FROM m1 WHERE t + 60 <= ?", (before,)).rowcount
                counts["h1"] = conn.execute(
                    "DELETE FROM h1 WHERE t + 3600 <= ?", (before,)
                ).rowcount
            counts["series"] = conn.execute(
                "DELETE FROM series WHERE NOT EXISTS (SELECT 1 FROM raw WHERE series = id) "
                "AND NOT EXISTS (SELECT 1 FROM m1 WHERE series = id) "
                "AND NOT EXISTS (SELECT 1 FROM h1 WHERE series = id)"
            ).rowcount
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return counts
    finally:
        conn.close()


class _Flush:
    """A marker on the queue: everything before it is committed when its future is done
    (or failed with HistoryError when it could not be)."""

    __slots__ = ("done", "prune")

    def __init__(self, prune: bool = False) -> None:
        self.done: Future[None] = Future()
        self.prune = prune


_STOP = object()


class SqliteSeries:
    """`SeriesStore` on SQLite. ``retention``: how long the hour tier keeps data
    (retention.metrics); ``clock``: injected by the tier tests; ``on_state``: told from
    the writer thread when writing starts failing (the reason) and when it works again
    (None), so the runtime can show it as the "history" source; ``readonly``: a reader of
    an existing file (`report`, offline), never `open`ed: its reads open it read-only."""

    def __init__(
        self,
        path: Path,
        retention: float,
        *,
        clock: Callable[[], float] = time.time,
        batch_interval: float = 1.0,
        readonly: bool = False,
        on_state: Callable[[str | None], None] | None = None,
    ) -> None:
        self.path = path
        self.readonly = readonly
        self.retention = retention
        self.clock = clock
        self.batch_interval = batch_interval
        self.on_state = on_state
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        # Set with a flush or stop marker: the writer, gathering a batch, takes it at once.
        self._urgent = threading.Event()
        self._writer: threading.Thread | None = None
        self._closed = False
        self._reads = ThreadPoolExecutor(max_workers=1, thread_name_prefix="history-read")
        self._read_conn: sqlite3.Connection | None = None
        self._read_generation = 0
        self._generation = 0  # bumped when the writer starts a new file
        self._file_id: tuple[int, int] | None = None
        self._pending: list[Sequence[Sample]] = []  # held for a retry after a failure
        # Samples in memory = _accepted - _released. Each count has one writer thread
        # (write(): the event loop's; _released: the writer's), so no update is lost
        # without a lock; write() may read a _released a moment old: it errs on dropping.
        self._accepted = 0
        self._released = 0
        self._dropping = False  # write() is dropping: logged when it starts and ends
        self._dropped_since = 0
        self._last_retention = float("-inf")
        self._retention_every = RETENTION_EVERY
        self.label = path.name  # what the "history" source's state names
        self._trouble: str | None = None
        # Counters (the writer thread's, read by the bench, tests and logs):
        self.written = 0  # samples newly stored
        self.duplicates = 0  # dropped: the series already had a sample at that time
        self.refused = 0  # dropped: too old for every tier, too far ahead, not finite
        self.dropped = 0  # lost: queue or retry buffer full, or not stored at close
        self.failures = 0  # failed transactions (writes and retention passes)

    # ------------------------------------------------------------------ lifecycle
    def open(self) -> None:
        """Create the file and schema and start the writer (blocking: call in a thread).
        StorageError, naming the file, when it cannot be used."""
        try:
            self._connect_writer().close()
        except sqlite3.DatabaseError as exc:
            raise StorageError(_explain(self.path, exc)) from None
        except OSError as exc:
            raise StorageError(f"{self.path}: {exc.strerror or exc}") from None
        self._start_writer()

    def _start_writer(self) -> None:
        self._writer = threading.Thread(target=self._run, name="history-write", daemon=True)
        self._writer.start()

    def _connect(self) -> sqlite3.Connection:
        if self.readonly:
            uri = f"{self.path.resolve().as_uri()}?mode=ro"
            conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        else:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout=5000")
        conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        return conn

    def _connect_writer(self) -> sqlite3.Connection:
        """The file, its schema and the writer's pragmas; remembers which file it is, so
        one removed (or replaced) under the monitor is noticed."""
        private_dir(self.path.parent)
        private_db(self.path)
        conn = self._connect()
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: a kill loses nothing
            conn.execute(f"PRAGMA journal_size_limit={WAL_LIMIT}")  # part of disk_bound
            conn.execute("PRAGMA temp_store=MEMORY")
            conn.executescript(SCHEMA)
            conn.executescript(TEMP)
            st = os.stat(self.path)
        except BaseException:
            conn.close()
            raise
        self._file_id = (st.st_dev, st.st_ino)
        return conn

    def _same_file(self) -> bool:
        try:
            st = os.stat(self.path)
        except OSError:
            return False
        return (st.st_dev, st.st_ino) == self._file_id

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._writer is not None:
            self._queue.put(_STOP)
            self._urgent.set()
            await asyncio.to_thread(self._writer.join)
            self._writer = None
        await asyncio.get_running_loop().run_in_executor(self._reads, self._close_reader)
        self._reads.shutdown(wait=False)

    def _close_reader(self) -> None:
        if self._read_conn is not None:
            self._read_conn.close()
            self._read_conn = None

    # ------------------------------------------------------------------ writing
    def write(self, samples: Sequence[Sample]) -> None:
        if not samples:
            return
        if self._closed:
            self.dropped += len(samples)
            return
        held = self._accepted - self._released
        if held + len(samples) > MAX_QUEUED:
            self._drop(len(samples))
            return
        if self._dropping and held < MAX_QUEUED // 2:  # caught up: the episode is over
            self._dropping = False
            log.info(
                "history writes queued again",
                extra={"fields": {"file": str(self.path), "dropped": self._dropped_since}},
            )
        self._accepted += len(samples)
        self._queue.put(samples)

    def _drop(self, count: int) -> None:
        """The writer is behind by `MAX_QUEUED` samples (a stalled disk): said once."""
        self.dropped += count
        if not self._dropping:
            self._dropping = True
            self._dropped_since = 0
            log.warning(
                "history writer behind: dropping samples",
                extra={"fields": {"file": str(self.path), "held": MAX_QUEUED}},
            )
        self._dropped_since += count

    async def flush(self) -> None:
        if self._writer is None or self._closed:
            return
        marker = _Flush()
        self._queue.put(marker)
        self._urgent.set()
        await asyncio.wrap_future(marker.done)

    def enforce_retention(self) -> Future[None]:
        """Store what is queued, then run a retention pass now (tests with an injected
        clock); done when it is."""
        marker = _Flush(prune=True)
        self._queue.put(marker)
        self._urgent.set()
        return marker.done

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        stop = False
        while not stop:
            try:
                items = self._take()
            except queue.Empty:
                items = []
            markers = [i for i in items if isinstance(i, _Flush)]
            stop = any(i is _STOP for i in items)
            self._pending.extend(i for i in items if isinstance(i, Sequence))
            error: str | None = None
            try:
                if conn is not None and not self._same_file():
                    self._lost_file(conn)
                    conn = None
                if conn is None:
                    conn = self._connect_writer()
                    self._generation += 1  # the reader reconnects too
                if self._pending:
                    self._commit(conn, self._pending)
                    self._released += sum(map(len, self._pending))
                    self._pending = []
                if any(m.prune for m in markers):
                    self._last_retention = float("-inf")
                self._retention(conn)
            except Exception as exc:  # a full disk, a lost folder: state, not a crash
                error = str(exc) or type(exc).__name__
                self._failed(error)
                if conn is not None and not self._keep_writer(conn, exc):
                    conn.close()  # something unexpected: start from a fresh connection
                    conn = None
            else:
                self._recovered()
            for m in markers:
                with contextlib.suppress(InvalidStateError):  # its waiter was cancelled
                    if error is None or not self._pending:
                        m.done.set_result(None)
                    else:
                        m.done.set_exception(HistoryError(f"{self.path}: {error}"))
        if self._pending:
            lost = sum(map(len, self._pending))
            self.dropped += lost
            self._released += lost
            log.error(
                "history samples not stored at close",
                extra={"fields": {"file": str(self.path), "samples": lost}},
            )
        if conn is not None:
            conn.close()

    def _take(self) -> list[Any]:
        """What is queued: the first item (waiting up to `batch_interval`), what comes
        for up to `batch_interval` more unless a flush or stop is waiting, and whatever
        else is already there. Raises queue.Empty when nothing came.

        While a batch gathers the writer sleeps on `_urgent`, which only a flush or a stop
        sets: waiting in queue.get for each item woke this thread (and made the loop's
        put wake it) for every write, 100 a second at 1,000 services."""
        items = [self._queue.get(timeout=self.batch_interval)]
        if not isinstance(items[-1], _Flush) and items[-1] is not _STOP:
            self._urgent.wait(self.batch_interval)
        self._urgent.clear()
        while True:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                return items

    def _keep_writer(self, conn: Any, exc: Exception) -> bool:
        """Whether the writer's connection is still good after ``exc`` failed a batch."""
        return isinstance(exc, sqlite3.Error)

    def _lost_file(self, conn: sqlite3.Connection) -> None:
        """The file on disk is no longer the one written to (removed or replaced):
        writing on would lose everything, so a new one is started."""
        conn.close()
        self.failures += 1
        log.error(
            "history file removed or replaced: starting a new one",
            extra={"fields": {"file": str(self.path)}},
        )

    def _failed(self, error: str) -> None:
        self.failures += 1
        held = sum(map(len, self._pending))
        while held > MAX_PENDING and self._pending:
            held -= len(self._pending[0])
            lost = len(self._pending.pop(0))
            self.dropped += lost
            self._released += lost
        if self._trouble is None:  # logged when it starts, not every second
            log.error(
                "history write failed; retrying with the next batch",
                extra={"fields": {"file": str(self.path), "error": error, "held": held}},
            )
        if self._trouble != error:
            self._trouble = error
            self._tell(f"cannot write {self.label}: {error}")

    def _recovered(self) -> None:
        if self._trouble is None:
            return
        self._trouble = None
        log.info("history writes recovered", extra={"fields": {"file": str(self.path)}})
        self._tell(None)

    def _tell(self, reason: str | None) -> None:
        if self.on_state is not None:
            try:
                self.on_state(reason)
            except Exception:  # e.g. the loop already closed at exit: the writer goes on
                log.exception("history state callback failed")

    def _commit(self, conn: sqlite3.Connection, batches: list[Sequence[Sample]]) -> None:
        now_ms = round(self.clock() * 1000)
        cut = {tier: now_ms - round(keep(tier, self.retention) * 1000) for tier in Tier}
        given = sum(map(len, batches))
        conn.execute("BEGIN")
        try:
            cur = conn.executemany(INSERT_BATCH, map(_FIELDS, chain.from_iterable(batches)))
            repeated = given - cur.rowcount
            refused = conn.execute(REFUSE, (min(cut.values()), now_ms + AHEAD * 1000)).rowcount
            conn.execute(NEW_NAMES)
            conn.execute(TO_IDS)
            stored = conn.execute(ALREADY_STORED, (cut[Tier.RAW],)).rowcount
            conn.execute(INSERT_RAW, (cut[Tier.RAW],))
            for tier, sql in ROLLUPS.items():
                conn.execute(sql, (cut[tier],))
            fresh = conn.execute("SELECT count(*) FROM temp.rows").fetchone()[0]
            conn.execute("DELETE FROM temp.batch")
            conn.execute("DELETE FROM temp.rows")
            conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise
        self.written += fresh
        self.duplicates += repeated + stored
        self.refused += refused

    def _retention(self, conn: sqlite3.Connection) -> None:
        """Each tier keeps its own span; a series with nothing left in any tier goes
        too (custom and scraped series come and go: kept, their names would slow every
        pass and fill names() for ever). Safe against a write of that series: the same
        thread commits every batch before a pass, and a later sample makes a new row."""
        now = self.clock()
        if now - self._last_retention < self._retention_every:
            return
        cutoffs = {
            "raw": round((now - keep(Tier.RAW, self.retention)) * 1000),
            "m1": int(now - keep(Tier.MINUTE, self.retention)),
            "h1": int(now - keep(Tier.HOUR, self.retention)),
        }
        conn.execute("BEGIN")
        try:
            for sql in RETENTION:
                conn.execute(sql, cutoffs)
            conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise
        self._last_retention = now

    # ------------------------------------------------------------------ reading
    async def _read(self, fn: Callable[[sqlite3.Connection], Any], empty: Any) -> Any:
        """Run ``fn`` on the reader's connection in the reader's thread; ``empty`` once
        closed (a view asking during shutdown gets nothing, not an error)."""

        def call() -> Any:
            if self._read_conn is not None and self._read_generation != self._generation:
                self._close_reader()  # the writer started a new file
            if self._read_conn is None:
                self._read_generation = self._generation
                self._read_conn = self._connect()
                self._read_conn.execute("PRAGMA query_only=1")
            return fn(self._read_conn)

        if self._closed:
            return empty
        return await asyncio.get_running_loop().run_in_executor(self._reads, call)

    @staticmethod
    def _id(conn: sqlite3.Connection, series: str) -> int | None:
        row = conn.execute("SELECT id FROM series WHERE name = ?", (series,)).fetchone()
        return None if row is None else int(row[0])

    async def query(self, series: str, since: float, until: float, step: float) -> list[Point]:
        if since > until:
            return []
        tier = tier_for(step, since, self.clock(), self.retention)
        points: list[Point] = await self._read(
            lambda c: self._range(c, series, tier, since, until, step), []
        )
        return points

    def _range(
        self,
        conn: sqlite3.Connection,
        series: str,
        tier: Tier,
        since: float,
        until: float,
        step: float,
    ) -> list[Point]:
        sid = self._id(conn, series)
        if sid is None:
            return []
        # At a tier's own resolution each row is a point: no GROUP BY (and its sort).
        if tier is Tier.RAW and step <= 0:
            rows = conn.execute(
                "SELECT ts, value FROM raw WHERE series = ? AND ts BETWEEN ? AND ? ORDER BY ts",
                (sid, int(since * 1000), int(until * 1000)),
            )
            return [Point(t / 1000, v, v, v, 1) for t, v in rows]
        if tier is Tier.RAW:
            width = max(1, round(step * 1000))
            rows = conn.execute(
                "SELECT (ts / ?1) * ?1, min(value), avg(value), max(value), count(*) FROM raw "
                "WHERE series = ?2 AND ts BETWEEN ?3 AND ?4 GROUP BY 1 ORDER BY 1",
                (width, sid, round(since * 1000), round(until * 1000)),
            )
            return [Point(b / 1000, lo, avg, hi, n) for b, lo, avg, hi, n in rows]
        # A whole number of the tier's buckets per point, so none is split between two.
        base = int(STEP[tier])
        width = max(1, round(step / base)) * base
        start = int(since) - int(since) % base
        if width == base:  # one bucket a point: read in key order, nothing to sort
            rows = conn.execute(
                f"SELECT t, min, sum / count, max, count FROM {TABLE[tier]} "
                "WHERE series = ? AND t BETWEEN ? AND ? ORDER BY t",
                (sid, start, int(until)),
            )
            return [Point(float(b), lo, avg, hi, n) for b, lo, avg, hi, n in rows]
        rows = conn.execute(
            f"SELECT (t / ?1) * ?1, min(min), sum(sum) / sum(count), max(max), sum(count) "
            f"FROM {TABLE[tier]} WHERE series = ?2 AND t BETWEEN ?3 AND ?4 "
            "GROUP BY 1 ORDER BY 1",
            (width, sid, start, int(until)),
        )
        return [Point(float(b), lo, avg, hi, n) for b, lo, avg, hi, n in rows]

    async def samples(
        self, series: str, since: float, until: float
    ) -> tuple[list[float], list[float]]:
        def read(conn: sqlite3.Connection) -> tuple[list[float], list[float]]:
            sid = self._id(conn, series)
            if sid is None:
                return [], []
            rows = conn.execute(
                "SELECT ts / 1000.0, value FROM raw WHERE series = ? AND ts BETWEEN ? AND ? "
                "ORDER BY ts",
                (sid, int(since * 1000), int(until * 1000)),
            ).fetchall()
            if not rows:
                return [], []
            ts, values = zip(*rows, strict=True)
            return list(ts), list(values)

        result: tuple[list[float], list[float]] = await self._read(read, ([], []))
        return result

    async def last(self, series: str) -> Sample | None:
        def read(conn: sqlite3.Connection) -> Sample | None:
            sid = self._id(conn, series)
            if sid is None:
                return None
            row = conn.execute(
                "SELECT ts, value FROM raw WHERE series = ? ORDER BY ts DESC LIMIT 1", (sid,)
            ).fetchone()
            return None if row is None else Sample(series, row[0] / 1000, row[1])

        result: Sample | None = await self._read(read, None)
        return result

    async def names(self, prefix: str = "") -> list[str]:
        def read(conn: sqlite3.Connection) -> list[str]:
            rows = conn.execute(
                "SELECT name FROM series WHERE name >= ? AND name < ? ORDER BY name",
                (prefix, prefix + "\U0010ffff"),
            )
            return [r[0] for r in rows]

        result: list[str] = await self._read(read, [])
        return result

    async def latest(self, prefix: str, since: float) -> list[Sample]:
        def read(conn: sqlite3.Connection) -> list[Sample]:
            # Each series' newest is one probe of the raw key (series, ts), so the names
            # past ``since`` cost an index seek each, not a scan of their samples.
            rows = conn.execute(
                "SELECT s.name, r.ts, r.value FROM series s JOIN raw r ON r.series = s.id "
                "AND r.ts = (SELECT max(ts) FROM raw m WHERE m.series = s.id) "
                "WHERE s.name >= ?1 AND s.name < ?2 AND r.ts >= ?3 ORDER BY s.name",
                (prefix, prefix + "\U0010ffff", math.ceil(since * 1000)),
            )
            return [Sample(name, ts / 1000, value) for name, ts, value in rows]

        result: list[Sample] = await self._read(read, [])
        return result

    def file_bytes(self) -> int:
        """The database and its WAL on disk (the bench's and the tier test's bound)."""
        return sum(
            p.stat().st_size
            for p in (self.path, self.path.with_name(self.path.name + "-wal"))
            if p.exists()
        )
