"""The audit trail is append-only and hash-chained: `devmentor-monitor audit verify`, run as
a user runs it over a real SQLite file, passes on an intact chain (refusals aggregated per
minute, rows pruned by retention, a file from before the chain) and names the first row
that was edited, or that follows a deleted one."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from support.headless import clean_env
from support.processes import REPO

from devmentor_monitor.incidents.engine import Actor
from devmentor_monitor.model import AuditEntry
from devmentor_monitor.server.auth import AUDIT_WINDOW, DeniedAudit
from devmentor_monitor.storage.db import Database

T0 = 1_790_000_040.0  # a minute boundary (2026-09-21T14:14:00Z)
OPS = Actor("ops", "10.0.0.7")
ANON = Actor("anonymous", "203.0.113.9")


def verify(data: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "devmentor_monitor.cli", "audit", "verify", "--data-dir", str(data)],
        cwd=REPO,
        env=clean_env(data),
        capture_output=True,
        text=True,
        timeout=30,
    )


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def write_trail(data: Path) -> Database:
    """Two writes, a flood of 40 refusals in one minute (DeniedAudit, as the API counts them),
    two more writes in the next minute: the database, open."""
    db = Database(data / "monitor.db")
    db.open()
    clock = Clock(T0 + 1)

    async def write(entry: AuditEntry) -> None:
        await db.run(db.audit, entry)

    await write(AuditEntry(clock(), "ops", "incident.open", "inc-1", OPS.source, "ok"))
    await write(AuditEntry(clock() + 1, "ops", "incident.acknowledge", "inc-1", OPS.source, "ok"))
    denied = DeniedAudit(write, clock)
    for i in range(40):
        clock.now = T0 + 10 + i
        await denied.record(ANON, "incident.resolve", f"inc-{i % 2}", "denied: 401")
    clock.now = T0 + AUDIT_WINDOW + 5  # the next minute: the counted ones are appended first
    await denied.record(ANON, "incident.resolve", "inc-9", "denied: 401")
    await denied.flush()
    await write(AuditEntry(clock() + 1, "ops", "incident.resolve", "inc-1", OPS.source, "ok"))
    return db


def rows(data: Path) -> list[tuple[int, str, str, str, int]]:
    with sqlite3.connect(data / "monitor.db") as conn:
        return conn.execute(
            "SELECT id, actor, action, target, count FROM audit ORDER BY id"
        ).fetchall()


async def test_an_intact_chain_with_aggregated_refusals_verifies(tmp_path: Path) -> None:
    db = await write_trail(tmp_path)
    db.close()
    # 40 refusals in a minute are two rows: the first, and the other 39 appended as one;
    # the first row is never updated (an update would break the chain).
    assert rows(tmp_path) == [
        (1, "ops", "incident.open", "inc-1", 1),
        (2, "ops", "incident.acknowledge", "inc-1", 1),
        (3, "anonymous", "incident.resolve", "inc-0", 1),
        (4, "anonymous", "incident.resolve", "*", 39),
        (5, "anonymous", "incident.resolve", "inc-9", 1),
        (6, "ops", "incident.resolve", "inc-1", 1),
    ]
    with sqlite3.connect(tmp_path / "monitor.db") as conn:
        (ts,) = conn.execute("SELECT ts FROM audit WHERE id = 4").fetchone()
    assert ts == T0 + AUDIT_WINDOW  # timed at the end of the minute it counts
    proc = verify(tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == "audit chain ok: 6 entries"


async def test_an_edited_row_is_named(tmp_path: Path) -> None:
    (await write_trail(tmp_path)).close()
    with sqlite3.connect(tmp_path / "monitor.db") as conn:
        conn.execute("UPDATE audit SET actor = 'someone-else' WHERE id = 2")
    proc = verify(tmp_path)
    assert proc.returncode == 1
    assert "audit chain ok" not in proc.stdout
    first = proc.stderr.splitlines()[0]
    assert "row 2 (" in first
    assert "actor 'someone-else', action 'incident.acknowledge'" in first
    assert "2026-09-21T14:14:02Z" in first  # its time (T0 + 2), in UTC
    assert "hash mismatch" in first
    assert "the 1 row(s) before it are intact" in proc.stderr
    assert "Traceback" not in proc.stderr


async def test_a_row_re_hashed_after_an_edit_breaks_the_next_link(tmp_path: Path) -> None:
    """Whoever edits a row and recomputes its hash still breaks the row after it."""
    from devmentor_monitor.storage.audit_chain import entry_hash

    (await write_trail(tmp_path)).close()
    with sqlite3.connect(tmp_path / "monitor.db") as conn:
        prev, ts, source, outcome = conn.execute(
            "SELECT prev, ts, source, outcome FROM audit WHERE id = 3"
        ).fetchone()
        forged = entry_hash(prev, ts, "ops", "incident.resolve", "inc-0", source, outcome, 1)
        conn.execute("UPDATE audit SET actor = 'ops', hash = ? WHERE id = 3", (forged,))
    proc = verify(tmp_path)
    assert proc.returncode == 1
    assert "row 4 (" in proc.stderr
    assert "broken link" in proc.stderr


async def test_a_deleted_middle_row_is_detected(tmp_path: Path) -> None:
    (await write_trail(tmp_path)).close()
    with sqlite3.connect(tmp_path / "monitor.db") as conn:
        conn.execute("DELETE FROM audit WHERE id = 4")  # the 39 counted refusals, gone
    proc = verify(tmp_path)
    assert proc.returncode == 1
    first = proc.stderr.splitlines()[0]
    assert "row 5 (" in first
    assert "actor 'anonymous', action 'incident.resolve'" in first
    assert "broken link" in first
    assert "1 row(s) between them are missing" in first


async def test_retention_prunes_the_oldest_and_verify_starts_at_the_anchor(tmp_path: Path) -> None:
    db = await write_trail(tmp_path)
    db.purge(T0 + 30)  # rows 1-3 are older
    await db.run(db.audit, AuditEntry(T0 + 200, "ops", "silence.create", "s-1", "tui", "ok"))
    db.close()
    assert [r[0] for r in rows(tmp_path)] == [4, 5, 6, 7]
    proc = verify(tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("audit chain ok: 4 entries, after 3 older row(s) removed")
    # The anchor is what the chain left starts from: removing its first row is seen too.
    with sqlite3.connect(tmp_path / "monitor.db") as conn:
        conn.execute("DELETE FROM audit WHERE id = 4")
    proc = verify(tmp_path)
    assert proc.returncode == 1
    assert "row 5 (" in proc.stderr
    assert "pruning anchor (row 3" in proc.stderr


def test_pruning_everything_keeps_the_chain_going(tmp_path: Path) -> None:
    db = Database(tmp_path / "monitor.db")
    db.open()
    db.audit(AuditEntry(T0, "ops", "incident.open", "inc-1", "tui", "ok"))
    db.purge(T0 + 1)
    assert db.load_audit() == []
    db.audit(AuditEntry(T0 + 2, "ops", "incident.open", "inc-2", "tui", "ok"))
    check = db.verify_audit()
    db.close()
    assert check.ok, check.problem
    assert check.entries == 1
    assert check.anchor is not None
    assert (check.anchor.last_id, check.anchor.pruned) == (1, 1)


def test_a_file_from_before_the_chain_is_chained_once_at_open(tmp_path: Path) -> None:
    path = tmp_path / "monitor.db"
    with sqlite3.connect(path) as conn:  # the schema-2 audit table: no id, prev or hash
        conn.executescript(
            "CREATE TABLE audit (ts REAL NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, "
            "target TEXT NOT NULL, source TEXT NOT NULL, outcome TEXT NOT NULL, "
            "count INTEGER NOT NULL DEFAULT 1); CREATE INDEX audit_ts ON audit(ts); "
            "PRAGMA user_version = 2;"
        )
        conn.executemany(
            "INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (T0 + 5, "ops", "incident.open", "inc-1", "tui", "ok", 1),
                (T0 + 1, "anonymous", "incident.resolve", "*", "1.2.3.4", "denied: 401", 12),
                (T0 + 9, "ops", "incident.resolve", "inc-1", "tui", "ok", 1),
            ],
        )
    old = verify(tmp_path)  # read-only: it says why, and changes nothing
    assert old.returncode == 1
    assert "not hash-chained yet" in old.stderr
    db = Database(path)
    db.open()
    db.audit(AuditEntry(T0 + 20, "ops", "silence.create", "s-1", "tui", "ok"))
    db.close()
    # In the order written (rowid), not by time; their content unchanged.
    assert rows(tmp_path) == [
        (1, "ops", "incident.open", "inc-1", 1),
        (2, "anonymous", "incident.resolve", "*", 12),
        (3, "ops", "incident.resolve", "inc-1", 1),
        (4, "ops", "silence.create", "s-1", 1),
    ]
    proc = verify(tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("audit chain ok: 4 entries")


@pytest.mark.parametrize(("column", "value"), [("ts", "yesterday"), ("count", 2.9)])
async def test_a_field_edited_to_another_type_is_named_not_a_crash(
    tmp_path: Path, column: str, value: object
) -> None:
    """int(2.9) == 2 would hash as the original: a field of the wrong type is itself the
    evidence of an edit."""
    (await write_trail(tmp_path)).close()
    with sqlite3.connect(tmp_path / "monitor.db") as conn:
        conn.execute(f"UPDATE audit SET {column} = ? WHERE id = 2", (value,))
    proc = verify(tmp_path)
    assert proc.returncode == 1
    first = proc.stderr.splitlines()[0]
    assert "row 2 (" in first
    assert "wrong type" in first
    assert "Traceback" not in proc.stderr
    assert "internal error" not in proc.stderr
