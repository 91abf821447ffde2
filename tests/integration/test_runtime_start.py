"""Monitor.start pairs every part it starts with its stop: a failure part-way through
leaves nothing bound or running (the database closed, no task, no listener)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from devmentor_monitor.config.schema import load_config
from devmentor_monitor.demo.fleet import free_port
from devmentor_monitor.runtime import Monitor

pytestmark = pytest.mark.integration


def monitor_on(tmp_path: Path, port: int) -> Monitor:
    doc = {
        "storage": {"data_dir": str(tmp_path / "data")},
        "services": [
            {
                "name": "auth",
                "url": f"http://127.0.0.1:{free_port()}/health",
                "interval": "0.5s",
                "timeout": "0.4s",
            }
        ],
    }
    path = tmp_path / "services.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return Monitor(load_config(path, env={}, port=port))


@pytest.fixture
def taken_port() -> Iterator[tuple[socket.socket, int]]:
    """A loopback port another socket is listening on."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    yield sock, sock.getsockname()[1]
    sock.close()


def assert_nothing_left(monitor: Monitor, port: int) -> None:
    db = monitor.db
    assert db._conn is None  # the database was opened, then closed
    assert not any(t.is_alive() for t in db._executor._threads)  # and its thread ended
    assert monitor._tasks == {}
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert not [
        t
        for t in others
        if not t.done()
        and t.get_name().startswith(("source:", "alerts", "notify", "events", "predictions"))
    ]
    probe = socket.socket()  # nothing of ours listens on the port: it binds at once
    try:
        probe.bind(("127.0.0.1", port))
    finally:
        probe.close()


async def test_a_taken_port_stops_what_had_started(
    tmp_path: Path, taken_port: tuple[socket.socket, int]
) -> None:
    blocker, port = taken_port
    monitor = monitor_on(tmp_path, port)
    with pytest.raises(OSError, match=r"(?i)address already in use"):
        await monitor.start(require_server=True)
    blocker.close()
    assert_nothing_left(monitor, port)
    await monitor.stop()  # and a stop after a failed start is harmless


async def test_a_failure_after_the_tasks_started_stops_them_and_the_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    monitor = monitor_on(tmp_path, port)
    started = monitor._start_tasks
    running: list[asyncio.Task[None]] = []

    def start_then_fail() -> None:
        started()
        running.extend(monitor._tasks.values())
        raise RuntimeError("a later step failed")

    monkeypatch.setattr(monitor, "_start_tasks", start_then_fail)
    with pytest.raises(RuntimeError, match="a later step failed"):
        await monitor.start()
    assert running, "the pollers had started"
    assert all(t.done() for t in running)
    assert_nothing_left(monitor, port)


class Stubborn:
    """A source that swallows its first cancel, as a 3.11 wait_for race can."""

    name = "stubborn"

    def __init__(self) -> None:
        self.started, self.swallowed = asyncio.Event(), asyncio.Event()

    async def run(self, intake: object) -> None:
        self.started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            self.swallowed.set()
        await asyncio.sleep(3600)  # the second cancel ends it


async def test_stop_does_not_wait_for_ever_on_a_task_that_ignores_its_cancel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr("devmentor_monitor.runtime.STOP_GRACE", 0.5)
    monitor = monitor_on(tmp_path, free_port())
    stubborn = Stubborn()
    monitor.sources.append(stubborn)
    await monitor.start()
    task = monitor._tasks["stubborn"]
    await asyncio.wait_for(stubborn.started.wait(), 5)
    async with asyncio.timeout(10):  # before the grace existed, this waited for ever
        await monitor.stop()
    assert stubborn.swallowed.is_set()
    await asyncio.wait([task], timeout=5)
    assert task.cancelled()  # cancelled a second time, and it ended
    records = [r for r in caplog.records if r.getMessage() == "task did not stop when cancelled"]
    # Only the stubborn one: every task of ours ends on its first cancel. (The system
    # source did not, before in_thread used asyncio.timeout rather than wait_for.)
    (record,) = records
    fields = record.fields  # type: ignore[attr-defined]
    assert fields["task"] == "source:stubborn"
    assert fields["waiting_at"].endswith("test_runtime_start.py:" + str(STUBBORN_WAIT_LINE))


STUBBORN_WAIT_LINE = Stubborn.run.__code__.co_firstlineno + 6
