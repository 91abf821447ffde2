"""Which store a config names: SQLite in the data dir, or PostgreSQL at storage.url.

psycopg is imported only for a postgresql:// store, so the default (and `ultra`'s start)
never loads it. The database is returned closed: `open()` it (in a thread: it blocks).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from devmentor_monitor.config.schema import data_dir
from devmentor_monitor.history.sqlite import SqliteSeries
from devmentor_monitor.storage.db import Database

if TYPE_CHECKING:
    from devmentor_monitor.config.schema import Config


def database_for(config: Config) -> Database:
    """The incidents store the config names (not opened yet)."""
    if config.storage_url:
        from devmentor_monitor.storage.postgres import PgDatabase

        return PgDatabase(config.storage_url)
    return Database(data_dir(config) / "monitor.db")


def history_for(config: Config, clock: Callable[[], float] = time.time) -> SqliteSeries:
    """The history the config names (not opened yet): history.db in the data dir, or
    the shared store's tables (history/postgres.py) with a postgresql:// storage.url, so
    every instance of a fleet reads the same history."""
    if config.storage_url:
        from devmentor_monitor.history.postgres import PgSeries

        return PgSeries(
            config.storage_url,
            config.retention.metrics,
            instance=config.cluster.id,
            clock=clock,
        )
    return SqliteSeries(data_dir(config) / "history.db", config.retention.metrics, clock=clock)
