"""Every SQLite connection the monitor keeps open holds its page cache to CACHE_KIB.

SQLite's default (2,000 KiB a connection) fills with the file and stays: monitor.db and
history.db both grow all day, so each cache was RSS that rose for hours (bench/tui_soak.py).
The cap is read back from the connection itself (PRAGMA cache_size) for each way one is
opened: the monitor's database read-write and read-only (`report`, `audit`), the
history's writer, reader and read-only reader. Real files in tmp_path.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from devmentor_monitor.history.model import DAY
from devmentor_monitor.history.sqlite import SqliteSeries
from devmentor_monitor.storage.db import CACHE_KIB, Database

CAP = -CACHE_KIB  # negative: KiB, not pages


def cache_size(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA cache_size").fetchone()[0])


def test_cap_is_below_sqlites_default() -> None:
    assert 0 < CACHE_KIB < 2000


def test_monitor_database_connections_are_capped(tmp_path: Path) -> None:
    path = tmp_path / "monitor.db"
    db = Database(path)
    db.open()
    try:
        assert db._executor.submit(cache_size, db.conn).result() == CAP
    finally:
        db.close()
    reader = Database(path)
    reader.open_readonly()
    try:
        assert cache_size(reader.conn) == CAP
    finally:
        reader.close()


async def test_history_connections_are_capped(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    store = SqliteSeries(path, 30 * DAY, batch_interval=0.01)
    await asyncio.to_thread(store.open)
    try:
        writer = store._connect_writer()
        try:
            assert cache_size(writer) == CAP
        finally:
            writer.close()
        assert await store._read(cache_size, None) == CAP
    finally:
        await store.close()
    offline = SqliteSeries(path, 30 * DAY, readonly=True)
    try:
        assert await offline._read(cache_size, None) == CAP
    finally:
        await offline.close()
