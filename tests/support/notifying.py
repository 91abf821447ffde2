"""Incidents, settings and a running outbox for the notification tests, written once."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from msgspec.structs import replace

from devmentor_monitor.incidents.model import Incident, IncidentState, Severity
from devmentor_monitor.notify.outbox import Outbox
from devmentor_monitor.notify.settings import ChannelSettings, NotifySettings
from devmentor_monitor.storage.db import Database


def incident(inc_id: str = "inc-1", *, opened_ago: float = 60.0, **changes: Any) -> Incident:
    """An open critical incident on auth, opened ``opened_ago`` seconds ago and paged to
    every channel then (as the dispatcher leaves it: escalation goes where it paged)."""
    t = time.time() - opened_ago
    inc = Incident(
        id=inc_id,
        service="auth",
        rule="health",
        severity=Severity.CRITICAL,
        title="service down",
        description="3 checks failed: connection refused",
        state=IncidentState.OPEN,
        opened_at=t,
        updated_at=t,
        paged_at=t,
        paged_channels=("*",),
    )
    return replace(inc, **changes)


def resolve(inc: Incident, after: float = 240.0) -> Incident:
    """The same incident resolved by the monitor ``after`` seconds after it opened."""
    return replace(
        inc,
        state=IncidentState.RESOLVED,
        resolved_at=inc.opened_at + after,
        resolved_by="monitor",
    )


def settings(*channels: ChannelSettings, **kw: Any) -> NotifySettings:
    """Fast retries, so a test sees a retry in well under a second."""
    return NotifySettings(
        channels=channels, **{"retry_base": 0.05, "retry_max": 0.4, "max_attempts": 10, **kw}
    )


@asynccontextmanager
async def running(outbox: Outbox) -> AsyncIterator[Outbox]:
    """The outbox's delivery loop for the duration of the block."""
    task = asyncio.create_task(outbox.run())
    try:
        yield outbox
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def rows(db: Database) -> list[tuple[Any, ...]]:
    """Read the store with a separate connection: what is on disk, not in a cache."""
    sql = (
        "SELECT incident_id, channel, kind, state, attempts, last_error "
        "FROM notifications ORDER BY id"
    )
    if db.shared:  # PostgreSQL (storage.url)
        import psycopg

        with psycopg.connect(db.url) as pg:  # type: ignore[attr-defined]
            return pg.execute(sql).fetchall()
    with sqlite3.connect(db.path) as conn:
        return conn.execute(sql).fetchall()
