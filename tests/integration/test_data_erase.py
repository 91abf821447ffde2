"""`devmentor-monitor data erase` (the right to erasure) and the data dir's file modes.

Two services' events, incidents (timelines, notifications) and history are written with
the monitor's own storage classes into a fresh data dir; the real CLI erases one of them
(or everything older than a date) and must leave the other, print what it deleted and
audit it. The data dir must come out 0700 and its database files 0600 whatever the umask.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from devmentor_monitor.events.model import Event, EventSeverity
from devmentor_monitor.history.model import DAY, HOUR, Sample, service_series
from devmentor_monitor.history.sqlite import SqliteSeries
from devmentor_monitor.incidents.model import Incident, IncidentState, Severity, TimelineEntry
from devmentor_monitor.storage.db import Database

pytestmark = pytest.mark.integration

NOW = time.time()
OLD = NOW - 3 * DAY  # older than the --before cut-off
NEW = NOW - HOUR
CUT = datetime.fromtimestamp(NOW - 2 * DAY, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def incident(service: str, opened: float, *, resolved: bool) -> Incident:
    return Incident(
        id=f"inc-{service}-{int(opened)}",
        service=service,
        rule="manual",
        severity=Severity.MEDIUM,
        title=f"{service} slow",
        description="p95 over target",
        state=IncidentState.RESOLVED if resolved else IncidentState.OPEN,
        opened_at=opened,
        updated_at=opened + 60,
        resolved_at=opened + 60 if resolved else None,
    )


def seed(data: Path) -> None:
    """For services a and b: an old and a new event, an old resolved incident and a new
    open one (each with a timeline entry and a notification), history samples old and new."""
    old_umask = os.umask(0o022)  # the usual one: it would make the dir 0755, the files 0644
    try:
        db = Database(data / "monitor.db")
        db.open()
        history = SqliteSeries(data / "history.db", 30 * DAY, batch_interval=0.01)
        history.open()
    finally:
        os.umask(old_umask)
    try:
        for svc in ("a", "b"):
            db.save_events(
                [
                    Event(ts, "deploy.finished", svc, EventSeverity.INFO, f"{svc} v{i}", {})
                    for i, ts in enumerate((OLD, NEW))
                ]
            )
            for opened, resolved in ((OLD, True), (NEW, False)):
                inc = incident(svc, opened, resolved=resolved)
                db.save_incident(inc, [TimelineEntry(opened, "opened", "monitor", "opened")])
                db.enqueue(inc.id, "slack", "open", {"text": inc.title}, opened)
            history.write([Sample(service_series(svc, "up"), ts, 1.0) for ts in (OLD, NEW)])
        asyncio.run(history.flush())
        # While both are open, WAL's -wal and -shm files exist: they must be private too.
        for name in ("monitor.db", "history.db"):
            for suffix in ("", "-wal", "-shm"):
                path = data / (name + suffix)
                assert path.exists(), path
                assert mode(path) == 0o600, f"{path}: {oct(mode(path))}"
    finally:
        asyncio.run(history.close())
        db.close()


def erase(
    data: Path, *args: str, stdin: int | None = subprocess.DEVNULL
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SERVICES_CONFIG", "REDIS_URL")}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "devmentor_monitor",
            "data",
            "erase",
            "--data-dir",
            str(data),
            *args,
        ],
        cwd=data.parent,
        env=env,
        stdin=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def rows(data: Path, sql: str, *args: object) -> list[tuple[object, ...]]:
    with sqlite3.connect(data / ("history.db" if "series" in sql else "monitor.db")) as conn:
        return conn.execute(sql, args).fetchall()


def count_by_service(data: Path, table: str) -> dict[str, int]:
    return dict(rows(data, f"SELECT service, COUNT(*) FROM {table} GROUP BY service"))


def history_rows(data: Path) -> dict[str, tuple[int, int, int]]:
    """Rows per stored series name in each tier: (raw, 1-minute, 1-hour). A sample three
    days old is in the rollups only (the raw tier keeps less)."""
    return {
        name: tuple(
            rows(
                data,
                f"SELECT COUNT(*) FROM {t} WHERE series = (SELECT id FROM series WHERE name = ?)",
                name,
            )[0][0]
            for t in ("raw", "m1", "h1")
        )
        for (name,) in rows(data, "SELECT name FROM series")
    }


@pytest.fixture
def data(tmp_path: Path) -> Path:
    d = tmp_path / "state" / "devmentor-monitor"  # parents missing, as on a first run
    seed(d)
    assert mode(d) == 0o700  # created by the monitor: private, though the umask was 022
    return d


def test_erase_a_service_removes_its_data_keeps_the_others_and_audits(data: Path) -> None:
    done = erase(data, "--service", "a", "--yes")
    assert done.returncode == 0, done.stderr
    assert count_by_service(data, "events") == {"b": 2}
    assert count_by_service(data, "incidents") == {"b": 2}
    assert {r[0] for r in rows(data, "SELECT incident_id FROM timeline")} == {
        f"inc-b-{int(OLD)}",
        f"inc-b-{int(NEW)}",
    }
    assert {r[0] for r in rows(data, "SELECT incident_id FROM notifications")} == {
        f"inc-b-{int(OLD)}",
        f"inc-b-{int(NEW)}",
    }
    assert history_rows(data) == {service_series("b", "up"): (1, 2, 2)}
    # It says what it deleted, per table.
    assert "monitor.db: events 2, timeline 2, signals 0, notifications 2, incidents 2" in (
        done.stdout
    )
    assert "history.db: series 1, raw 1, m1 2, h1 2" in done.stdout
    # ... and the audit trail has who, what and how it ended.
    (audit,) = rows(data, "SELECT actor, action, target, source, outcome FROM audit")
    actor, action, target, source, outcome = audit
    assert str(actor).startswith("cli:")
    assert len(str(actor)) > 4
    assert (action, target, source) == ("data.erase", "service=a", "cli")
    assert str(outcome).startswith("ok: ")
    assert "events=2" in str(outcome)
    assert "incidents=2" in str(outcome)
    assert "raw=1" in str(outcome)
    # The files are still what SQLite (and the monitor) can use, and the audit trail's
    # hash chain holds with the erasure in it.
    assert rows(data, "PRAGMA integrity_check") == [("ok",)]
    verify = subprocess.run(
        [sys.executable, "-m", "devmentor_monitor", "audit", "verify", "--data-dir", str(data)],
        cwd=data.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_erase_before_a_date_removes_older_rows_of_every_service(data: Path) -> None:
    done = erase(data, "--before", CUT, "--yes")
    assert done.returncode == 0, done.stderr
    assert count_by_service(data, "events") == {"a": 1, "b": 1}
    assert [r[0] for r in rows(data, "SELECT ts FROM events")] == [NEW, NEW]
    # The old incidents were resolved before the date: gone; the open ones stay.
    assert sorted(r[0] for r in rows(data, "SELECT state FROM incidents")) == ["open", "open"]
    assert len(rows(data, "SELECT * FROM timeline")) == 2
    assert history_rows(data) == {
        service_series("a", "up"): (1, 1, 1),
        service_series("b", "up"): (1, 1, 1),
    }
    (target,) = rows(data, "SELECT target FROM audit WHERE action = 'data.erase'")
    assert target == (f"before={CUT}",)
    assert "events 2" in done.stdout


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ((), "give --service SERVICE or --before DATE"),
        (("--before", "last tuesday", "--yes"), "'last tuesday' is not a date"),
        (("--before", "2026-13-45", "--yes"), "is not a date; use YYYY-MM-DD"),
        (("--service", "a"), "without --yes"),  # stdin is not a terminal: nobody to ask
    ],
    ids=["no-subject", "words", "bad-date", "no-yes"],
)
def test_erase_refuses_clearly_and_deletes_nothing(data: Path, args, says) -> None:
    done = erase(data, *args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert says in done.stderr
    assert count_by_service(data, "events") == {"a": 2, "b": 2}
    assert rows(data, "SELECT * FROM audit") == []


def test_a_data_dir_the_user_made_is_left_as_it_is_and_the_files_are_private(
    tmp_path: Path,
) -> None:
    mine = tmp_path / "mine"
    mine.mkdir(mode=0o755)
    os.chmod(mine, 0o755)
    (mine / "monitor.db").touch(mode=0o644)
    os.chmod(mine / "monitor.db", 0o644)  # written by an older version
    seed(mine)
    assert mode(mine) == 0o755  # never changed, never widened
    assert mode(mine / "monitor.db") == 0o600
    assert mode(mine / "history.db") == 0o600


def test_erase_beside_a_running_monitor_leaves_usable_files(tmp_path: Path, serve) -> None:
    """SQLite's locks order the writes: the monitor keeps running and answering, and both
    files pass an integrity check after the erasure."""
    data = tmp_path / "state" / "devmentor-monitor"
    seed(data)
    proc = serve("--data-dir", str(data))
    done = erase(data, "--service", "a", "--yes")
    assert done.returncode == 0, done.stderr
    assert proc.get("/api/incidents").status_code == 200
    assert count_by_service(data, "events").get("a") is None
    for name in ("monitor.db", "history.db"):
        with sqlite3.connect(data / name) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
