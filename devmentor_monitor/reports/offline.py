"""The report's reads straight from a data dir, for `devmentor-monitor report`: monitor.db
and history.db opened read-only, so it runs beside a live monitor (WAL) or without one."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from devmentor_monitor.history.sqlite import SqliteSeries
from devmentor_monitor.storage.db import Database

if TYPE_CHECKING:
    from devmentor_monitor.history.model import Point
    from devmentor_monitor.incidents.model import Incident


class OfflineSource:
    """`ReportSource` over the files; a missing history.db (a monitor from before the
    history) reads as no checks, a missing monitor.db is a StorageError."""

    def __init__(
        self,
        data_dir: Path,
        retention: float,
        clock: Callable[[], float] = time.time,
        db: Database | None = None,
    ) -> None:
        self.db = db if db is not None else Database(data_dir / "monitor.db")
        path = data_dir / "history.db"
        self.history_store: SqliteSeries | None = None
        if self.db.shared:  # storage.url: the fleet's history is in the same database
            from devmentor_monitor.history.postgres import PgSeries

            url = getattr(self.db, "url", "")
            self.history_store = PgSeries(url, retention, clock=clock, readonly=True)
        elif path.is_file():
            self.history_store = SqliteSeries(path, retention, clock=clock, readonly=True)

    def open(self) -> None:
        self.db.open_readonly()

    async def close(self) -> None:
        if self.history_store is not None:
            await self.history_store.close()
        self.db.close()

    async def history(self, series: str, since: float, until: float, step: float) -> list[Point]:
        if self.history_store is None:
            return []
        return await self.history_store.query(series, since, until, step)

    async def history_names(self, prefix: str = "") -> list[str]:
        return [] if self.history_store is None else await self.history_store.names(prefix)

    async def incidents_between(self, since: float, until: float, limit: int) -> list[Incident]:
        return await self.db.run(self.db.load_incidents, since=since, until=until, limit=limit)

    async def notification_counts(
        self, since: float, until: float
    ) -> list[tuple[str, str, str, int]]:
        return await self.db.run(self.db.count_notifications, since, until)
