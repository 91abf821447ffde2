"""storage.url on a real PostgreSQL, through the real command line: `db migrate` run by
three processes at once applies each migration once; a database it cannot reach is a
one-line error naming host, port and database, never the password; and `--serve`
instances started together on an empty database migrate it once and share it: an incident
opened and acknowledged through one is listed by another."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg
import pytest
from support.processes import REPO

from devmentor_monitor.demo.fleet import free_port
from devmentor_monitor.history.model import Sample
from devmentor_monitor.storage.migrations import LATEST, MIGRATIONS

pytestmark = pytest.mark.integration

OPERATOR = "op-key-0123456789abcdef"
PASSWORD = "s3cretPASSWORDvalue"


def cli_env(tmp_path: Path, url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SERVICES_CONFIG", "REDIS_URL")}
    return {**env, "DATABASE_URL": url, "XDG_STATE_HOME": str(tmp_path / "state")}


def migrate(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "devmentor_monitor", "db", "migrate"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def cli(tmp_path: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "devmentor_monitor", *args],
        cwd=REPO,
        env=cli_env(tmp_path, url),
        capture_output=True,
        text=True,
        timeout=60,
    )


def ledger(url: str) -> list[tuple[int, str]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT version, applied_by FROM schema_migrations ORDER BY version"
        ).fetchall()
    return [(int(v), str(by)) for v, by in rows]


def test_three_migrations_at_once_apply_each_version_once(tmp_path: Path, pg_url: str) -> None:
    env = cli_env(tmp_path, pg_url)
    procs = [migrate(env) for _ in range(3)]
    outs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outs
    applied = [out for out, _ in outs if "applied" in out]
    assert len(applied) == 1, outs  # the first took the lock; the others found it done
    assert [line.split()[1] for line in applied[0].splitlines()[:-1]] == [
        str(m.version) for m in MIGRATIONS
    ]
    others = [out for out, _ in outs if "applied" not in out]
    assert all(f"up to date (version {LATEST})" in out for out in others), outs
    rows = ledger(pg_url)
    assert [v for v, _ in rows] == [m.version for m in MIGRATIONS]
    assert all(by.startswith("devmentor-monitor ") for _, by in rows)
    again = migrate(env)
    out, _ = again.communicate(timeout=60)
    assert again.returncode == 0
    assert out.strip().endswith(f"up to date (version {LATEST})")


def test_an_unreachable_database_is_one_masked_line(tmp_path: Path, write_config, serve) -> None:
    port = free_port()  # nothing listens
    url = f"postgresql://monitor:{PASSWORD}@127.0.0.1:{port}/fleet"
    proc = migrate(cli_env(tmp_path, url))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert err.strip() == (
        f"devmentor-monitor: storage error: storage.url: cannot connect to "
        f"127.0.0.1:{port}/fleet: Connection refused"
    )
    # the effective config shows where it points, not the password
    check = cli(tmp_path, url, "config", "check")
    assert check.returncode == 0, check.stderr
    assert f'"storage_url": "postgresql://monitor:***@127.0.0.1:{port}/fleet"' in check.stdout
    assert PASSWORD not in check.stdout + check.stderr + out + err
    # --serve does not start on it, and says why
    cfg = write_config([{"name": "api", "url": "http://127.0.0.1:9/health"}])
    s = serve("-c", str(cfg), env={"DATABASE_URL": url}, ready=False)
    assert s.proc.wait(timeout=60) == 1
    assert f"cannot connect to 127.0.0.1:{port}/fleet: Connection refused" in s.output()
    assert PASSWORD not in s.output()


def test_serves_share_the_store(
    tmp_path: Path, pg_url: str, fleet, fast, write_config, serve, wait
) -> None:
    cfg = write_config(fast(fleet.urls))
    env = {"DATABASE_URL": pg_url, "DEVMENTOR_API_KEYS": f"ops:operator:{OPERATOR}"}
    # three instances start at once on the empty database: one migrates, the others wait
    procs = [serve("-c", str(cfg), env=env, ready=False) for _ in range(3)]
    for p in procs:
        p.wait_ready(timeout=40)
    assert [v for v, _ in ledger(pg_url)] == [m.version for m in MIGRATIONS]
    one, other = procs[0], procs[1]
    auth = {"Authorization": f"Bearer {OPERATOR}"}
    made = httpx.post(
        one.url + "/api/incidents",
        headers=auth,
        json={"service": "auth", "description": "login errors", "severity": "high"},
        timeout=10,
    )
    assert made.status_code == 201, made.text
    incident = made.json()["id"]
    acked = httpx.post(
        f"{one.url}/api/incidents/{incident}/acknowledge", headers=auth, json={}, timeout=10
    )
    assert acked.status_code == 200, acked.text
    listed = other.get("/api/incidents").json()["incidents"]
    (seen,) = [i for i in listed if i["id"] == incident]
    assert seen["state"] == "acknowledged"
    assert seen["description"] == "login errors"
    # a key the CLI makes in the shared store works on any instance
    made = cli(tmp_path, pg_url, "keys", "-c", str(cfg), "create", "ci", "--role", "operator")
    assert made.returncode == 0, made.stderr
    ci = {"Authorization": f"Bearer {made.stdout.strip()}"}
    third = procs[2]
    wait(
        lambda: third.get("/api/incidents", headers=ci).status_code == 200,
        10,
        what="the third instance to take the key the CLI made",
    )
    # the audit trail in the shared store (the instance's writes, the CLI's) is one chain
    verify = cli(tmp_path, pg_url, "audit", "verify", "-c", str(cfg))
    assert verify.returncode == 0, verify.stderr
    assert verify.stdout.startswith("audit chain ok: ")
    # the metric history is in the shared store too (history/postgres.py), no file of it
    with psycopg.connect(pg_url) as conn:
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables")}
        wait(
            lambda: conn.execute(
                "SELECT count(*) FROM history_series WHERE name LIKE 'service:auth:%%'"
            ).fetchone()[0],
            10,
            what="the checks of auth in the shared history",
        )
    assert {"incidents", "history_series", "history_raw"} <= tables
    assert not list(tmp_path.rglob("history.db"))


async def seed_history(url: str, samples: list[Sample]) -> None:
    from devmentor_monitor.history.postgres import PgSeries

    series = PgSeries(url, 30 * 86400.0, batch_interval=0.01)
    series.open()
    series.write(samples)
    await series.flush()
    await series.close()


def test_erase_and_report_work_on_the_shared_store(tmp_path: Path, pg_url: str) -> None:
    from devmentor_monitor.incidents.model import Incident, IncidentState, Severity
    from devmentor_monitor.storage.postgres import PgDatabase

    now = time.time()
    db = PgDatabase(pg_url)
    db.open()
    try:
        for service in ("a", "b"):
            inc = Incident(
                f"inc-{service}", service, "manual", Severity.HIGH, "slow", "p95",
                IncidentState.OPEN, now - 60, now - 60,
            )  # fmt: skip
            db.save_incident(inc, [])
            db.enqueue(inc.id, "ops", "open", {}, now)
    finally:
        db.close()
    asyncio.run(  # and their checks in the shared history
        seed_history(
            pg_url, [Sample(f"service:{s}:up", now - 60 * k, 1.0) for s in "ab" for k in (1, 2)]
        )
    )
    erased = cli(tmp_path, pg_url, "data", "erase", "--service", "a", "--yes")
    assert erased.returncode == 0, erased.stderr
    where = pg_url.rsplit("@", 1)[1]  # host:port/database
    assert f"  {where}: " in erased.stdout
    assert "incidents 1" in erased.stdout
    assert "  history: series 1, raw 2, " in erased.stdout
    with psycopg.connect(pg_url) as conn:
        left = conn.execute("SELECT id FROM incidents").fetchall()
        audit = conn.execute("SELECT action, target FROM audit").fetchall()
        names = conn.execute("SELECT name FROM history_series").fetchall()
    assert left == [("inc-b",)]
    assert names == [("service:b:up",)]
    assert audit == [("data.erase", "service=a")]
    report = cli(tmp_path, pg_url, "report", "--since", "1d")
    assert report.returncode == 0, report.stderr
    assert "inc-b" in report.stdout or "slow" in report.stdout
