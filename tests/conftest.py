"""Shared fixtures: a demo fleet on loopback, config files, `--serve` subprocesses, Redis and
podman. What they are built from lives in tests/support/.

Everything real: HTTP servers bind free loopback ports, processes are stopped by PID.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.http import Receiver
from support.processes import FleetThread, ServeProc, fast_services
from support.waiting import wait_until

from devmentor_monitor.storage.db import Database

# The developer's own ~/.config/devmentor-monitor (a services.yaml, themes) must not change
# what the tests and the processes they start read: every run gets an empty one.
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="devmentor-test-config-")


# Files whose tests drive a podman engine carry the `podman` marker: scripts/check runs
# them in-process, after the rest ran on two xdist workers (under an xdist worker the
# engine's containers went unseen by the monitor; in-process they pass every time).
PODMAN_FILES = {"test_container.py", "test_docker.py", "test_secrets_masked.py"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.name in PODMAN_FILES:
            item.add_marker(pytest.mark.podman)


@pytest.fixture
def wait() -> Callable[..., Any]:
    return wait_until


@pytest.fixture
def fleet() -> Iterator[FleetThread]:
    ft = FleetThread(["auth", "memory", "project"])
    yield ft
    ft.close()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A webhook receiver on loopback that keeps every request."""
    r = Receiver()
    await r.start()
    yield r
    await r.stop()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A module with `BOTH_STORES = True` runs each test using `db` on SQLite and on a
    real PostgreSQL (storage.url): the same Database methods, both stores."""
    if "db" in metafunc.fixturenames and getattr(metafunc.module, "BOTH_STORES", False):
        metafunc.parametrize("db", ["sqlite", "postgres"], indirect=True)


@pytest.fixture
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """An open database: SQLite in the test's directory, or (parametrized "postgres") a
    fresh database on the session's PostgreSQL."""
    if getattr(request, "param", "sqlite") == "postgres":
        from devmentor_monitor.storage.postgres import PgDatabase

        d: Database = PgDatabase(request.getfixturevalue("pg_url"))
    else:
        d = Database(tmp_path / "monitor.db")
    d.open()
    yield d
    d.close()


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    """Write a services.yaml from Python data; returns its path."""

    def write(services: list[dict[str, Any]], name: str = "services.yaml", **top: Any) -> Path:
        path = tmp_path / name
        path.write_text(yaml.safe_dump({**top, "services": services}, sort_keys=False))
        return path

    return write


@pytest.fixture
def fast() -> Callable[..., list[dict[str, Any]]]:
    return fast_services


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., ServeProc]]:
    procs: list[ServeProc] = []

    def start(*args: str, env: dict[str, str] | None = None, ready: bool = True) -> ServeProc:
        p = ServeProc(list(args), tmp_path / f"serve-{len(procs)}.log", env)
        procs.append(p)
        if ready:
            p.wait_ready()
        return p

    yield start
    for p in procs:
        p.close()


@pytest.fixture(scope="session")
def podman_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real Docker-API engine (podman's service, tests/support/podman.py) with the busybox image,
    started once per session and stopped by PID; its containers are removed at the end."""
    from support.podman import Podman, missing

    why = missing()
    if why:
        pytest.fail(f"no container engine for the Docker tests: {why}")
    engine = Podman(tmp_path_factory.mktemp("podman"))
    engine.import_busybox()
    engine.start()
    yield engine
    try:
        engine.remove_all()
    finally:
        engine.stop()
        engine.unmount()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[Any]:
    """A real redis-server on a free loopback port, killed by PID afterwards."""
    from support.redis_server import RedisServer

    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Any]:
    """A real PostgreSQL for the session (tests/support/postgres.py), stopped by PID."""
    from support.postgres import PostgresServer

    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture
def pg_url(postgres_server: Any) -> str:
    """A fresh empty database on the session's PostgreSQL: its URL."""
    return str(postgres_server.database())
