"""The embedded history backend: one SQLite file (WAL), three tiers, one writer thread.

`write` only puts the samples on a queue (a C SimpleQueue: no lock the event loop waits
on). The writer thread takes what has queued for up to `batch_interval`, and in one
transaction inserts the raw samples and folds them into the 1-minute and 1-hour rollups
with `INSERT ... SELECT ... GROUP BY ... ON CONFLICT DO UPDATE`: the aggregation runs in
SQLite's C code, not in Python holding the GIL, so the loop stays responsive while it
writes (bench/history_write.py measures both). Retention runs in the same thread, a range
delete per series and tier once a minute. Reads use their own connection in their own
thread; WAL lets them run beside the writer.

Timestamps are stored as integer milliseconds (raw) and integer seconds (rollup starts):
SQLite stores small integers in fewer bytes than a REAL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from devmentor_monitor.history.model import (
    MINUTE_KEEP,
    RAW_KEEP,
    STEP,
    Point,
    Sample,
    Tier,
    tier_for,
)

log = logging.getLogger("devmentor_monitor.history")

SCHEMA = """
CREATE TABLE IF NOT EXISTS series (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
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
"""
_ROLLUP = """
INSERT INTO {table} (series, t, min, max, sum, count)
SELECT series, (ts / {ms}) * {width}, min(value), max(value), sum(value), count(*)
FROM temp.batch WHERE ts >= ? GROUP BY 1, 2
ON CONFLICT (series, t) DO UPDATE SET
    min = min({table}.min, excluded.min), max = max({table}.max, excluded.max),
    sum = {table}.sum + excluded.sum, count = {table}.count + excluded.count
"""
ROLLUPS = {
    "m1": _ROLLUP.format(table="m1", ms=60_000, width=60),
    "h1": _ROLLUP.format(table="h1", ms=3_600_000, width=3600),
}
RETENTION_EVERY = 60.0  # seconds between retention passes
TABLE = {Tier.MINUTE: "m1", Tier.HOUR: "h1"}


class _Flush:
    """A marker on the queue: everything before it is committed when its future is done."""

    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done: Future[None] = Future()


_STOP = object()


class SqliteSeries:
    """`SeriesStore` on SQLite. ``retention``: how long the hour tier keeps data
    (retention.metrics); ``clock``: injected by the tier tests; ``readonly``: a reader of
    an existing file (`report`, offline), never `open`ed: its reads open it read-only."""

    def __init__(
        self,
        path: Path,
        retention: float,
        *,
        clock: Callable[[], float] = time.time,
        batch_interval: float = 1.0,
        readonly: bool = False,
    ) -> None:
        self.path = path
        self.readonly = readonly
        self.retention = retention
        self.clock = clock
        self.batch_interval = batch_interval
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._reads = ThreadPoolExecutor(max_workers=1, thread_name_prefix="history-read")
        self._read_conn: sqlite3.Connection | None = None
        self._read_ids: dict[str, int] = {}
        self._ids: dict[str, int] = {}  # the writer's: series name -> id
        self._last_retention = 0.0
        self.written = 0  # samples committed (bench, tests)
        self.failures = 0

    # ------------------------------------------------------------------ lifecycle
    def open(self) -> None:
        """Create the file and schema and start the writer (blocking: call in a thread)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = self._connect()
        conn.executescript(SCHEMA)
        conn.close()
        self._writer = threading.Thread(target=self._run, name="history-write", daemon=True)
        self._writer.start()

    def _connect(self) -> sqlite3.Connection:
        if self.readonly:
            uri = f"{self.path.resolve().as_uri()}?mode=ro"
            conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout=5000")
            return conn
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable at checkpoint
        conn.execute("PRAGMA busy_timeout=5000")
        return conn

    async def close(self) -> None:
        if self._writer is not None:
            self._queue.put(_STOP)
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
        if samples:
            self._queue.put(samples)

    async def flush(self) -> None:
        marker = _Flush()
        self._queue.put(marker)
        await asyncio.wrap_future(marker.done)

    def _run(self) -> None:
        conn = self._connect()
        conn.execute("CREATE TEMP TABLE batch (series INTEGER, ts INTEGER, value REAL)")
        for name, sid in conn.execute("SELECT name, id FROM series"):
            self._ids[name] = sid
        stop = False
        while not stop:
            try:
                first = self._queue.get(timeout=self.batch_interval)
            except queue.Empty:
                self._retention(conn)
                continue
            items = [first]
            deadline = time.monotonic() + self.batch_interval
            # Take what is queued (and what comes for up to batch_interval, unless a flush
            # or stop is waiting): one transaction for all of it.
            while not any(isinstance(i, _Flush) or i is _STOP for i in items):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    items.append(self._queue.get(timeout=left))
                except queue.Empty:
                    break
            while True:  # and whatever else is already there
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            batches = [i for i in items if isinstance(i, Sequence)]
            try:
                self._commit(conn, batches)
            except sqlite3.Error as exc:  # a full disk: the samples are lost, the monitor runs
                self.failures += 1
                log.error("history write failed", extra={"fields": {"error": str(exc)}})
            for item in items:
                if isinstance(item, _Flush):
                    item.done.set_result(None)
                elif item is _STOP:
                    stop = True
            self._retention(conn)
        conn.close()

    def _commit(self, conn: sqlite3.Connection, batches: list[Sequence[Sample]]) -> None:
        rows = []
        ids = self._ids
        conn.execute("BEGIN")
        try:
            for batch in batches:
                for s in batch:
                    sid = ids.get(s.series)
                    if sid is None:
                        sid = ids[s.series] = self._series_id(conn, s.series)
                    rows.append((sid, int(s.ts * 1000), s.value))
            if rows:
                now = self.clock()
                conn.executemany("INSERT INTO temp.batch VALUES (?, ?, ?)", rows)
                conn.execute(
                    "INSERT OR REPLACE INTO raw SELECT series, ts, value FROM temp.batch "
                    "WHERE ts >= ?",
                    (int((now - RAW_KEEP) * 1000),),
                )
                conn.execute(ROLLUPS["m1"], (int((now - MINUTE_KEEP) * 1000),))
                conn.execute(ROLLUPS["h1"], (int((now - self.retention) * 1000),))
                conn.execute("DELETE FROM temp.batch")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self.written += len(rows)

    @staticmethod
    def _series_id(conn: sqlite3.Connection, name: str) -> int:
        conn.execute("INSERT OR IGNORE INTO series (name) VALUES (?)", (name,))
        row = conn.execute("SELECT id FROM series WHERE name = ?", (name,)).fetchone()
        return int(row[0])

    def _retention(self, conn: sqlite3.Connection) -> None:
        """Each tier keeps its own span; a series with nothing left in any tier is kept
        (its id is cheap, and it may come back)."""
        now = self.clock()
        if now - self._last_retention < RETENTION_EVERY:
            return
        self._last_retention = now
        cutoffs = (
            ("raw", "ts", int((now - RAW_KEEP) * 1000)),
            ("m1", "t", int(now - MINUTE_KEEP)),
            ("h1", "t", int(now - self.retention)),
        )
        try:
            conn.execute("BEGIN")
            for sid in list(self._ids.values()):
                for table, column, cutoff in cutoffs:
                    conn.execute(
                        f"DELETE FROM {table} WHERE series = ? AND {column} < ?", (sid, cutoff)
                    )
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            log.error("history retention failed", extra={"fields": {"error": str(exc)}})

    def enforce_retention(self) -> Future[None]:
        """Run a retention pass now (tests with an injected clock); done when it is."""
        self._last_retention = float("-inf")
        marker = _Flush()
        self._queue.put(marker)
        return marker.done

    # ------------------------------------------------------------------ reading
    async def _read(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        def call() -> Any:
            if self._read_conn is None:
                self._read_conn = self._connect()
            return fn(self._read_conn)

        return await asyncio.get_running_loop().run_in_executor(self._reads, call)

    def _id(self, conn: sqlite3.Connection, series: str) -> int | None:
        sid = self._read_ids.get(series)
        if sid is None:
            row = conn.execute("SELECT id FROM series WHERE name = ?", (series,)).fetchone()
            if row is None:
                return None
            sid = self._read_ids[series] = int(row[0])
        return sid

    async def query(self, series: str, since: float, until: float, step: float) -> list[Point]:
        tier = tier_for(step, since, self.clock(), self.retention)
        return list(await self._read(lambda c: self._range(c, series, tier, since, until, step)))

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
        if tier is Tier.RAW:
            width = max(1, int(step * 1000))
            rows = conn.execute(
                "SELECT (ts / ?1) * ?1, min(value), avg(value), max(value), count(*) FROM raw "
                "WHERE series = ?2 AND ts BETWEEN ?3 AND ?4 GROUP BY 1 ORDER BY 1",
                (width, sid, int(since * 1000), int(until * 1000)),
            )
            return [Point(b / 1000, lo, avg, hi, n) for b, lo, avg, hi, n in rows]
        width = max(int(STEP[tier]), int(step))
        rows = conn.execute(
            f"SELECT (t / ?1) * ?1, min(min), sum(sum) / sum(count), max(max), sum(count) "
            f"FROM {TABLE[tier]} WHERE series = ?2 AND t BETWEEN ?3 AND ?4 "
            "GROUP BY 1 ORDER BY 1",
            (width, sid, int(since) - int(since) % int(STEP[tier]), int(until)),
        )
        return [Point(float(b), lo, avg, hi, n) for b, lo, avg, hi, n in rows]

    async def last(self, series: str) -> Sample | None:
        def read(conn: sqlite3.Connection) -> Sample | None:
            sid = self._id(conn, series)
            if sid is None:
                return None
            row = conn.execute(
                "SELECT ts, value FROM raw WHERE series = ? ORDER BY ts DESC LIMIT 1", (sid,)
            ).fetchone()
            return None if row is None else Sample(series, row[0] / 1000, row[1])

        result: Sample | None = await self._read(read)
        return result

    async def names(self, prefix: str = "") -> list[str]:
        def read(conn: sqlite3.Connection) -> list[str]:
            rows = conn.execute(
                "SELECT name FROM series WHERE name >= ? AND name < ? ORDER BY name",
                (prefix, prefix + "\U0010ffff"),
            )
            return [r[0] for r in rows]

        result: list[str] = await self._read(read)
        return result

    def file_bytes(self) -> int:
        """The database and its WAL on disk (the bench's and the tier test's bound)."""
        return sum(
            p.stat().st_size
            for p in (self.path, self.path.with_name(self.path.name + "-wal"))
            if p.exists()
        )
