"""The history writer gathers a batch for its interval without being woken by each write,
yet a flush or a close is served at once, and a batch lands once its interval is over.
Real SQLite files in tmp_path."""

from __future__ import annotations

import asyncio
import queue
import time
from pathlib import Path
from typing import Any

from support.clock import T0, FakeClock
from support.waiting import eventually

from devmentor_monitor.history.model import HOUR, Sample
from devmentor_monitor.history.sqlite import SqliteSeries

START = T0 - T0 % HOUR
SERIES = "service:auth:latency_seconds"


class CountedQueue(queue.SimpleQueue[Any]):
    """The writer's queue, counting the items its thread waited for (each a wake-up)."""

    waited_for = 0

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        item = super().get(block, timeout)
        self.waited_for += 1
        return item


async def test_writes_gather_for_the_interval_and_a_flush_or_close_is_prompt(
    tmp_path: Path,
) -> None:
    clock = FakeClock(START + HOUR)
    store = SqliteSeries(tmp_path / "h.db", 30 * 86400, clock=clock, batch_interval=30.0)
    store._queue = counted = CountedQueue()
    await asyncio.to_thread(store.open)
    for i in range(50):  # the writer is gathering: none of these wakes it
        store.write([Sample(SERIES, START + i, 0.1)])
        await asyncio.sleep(0.002)
    await asyncio.sleep(0.2)
    assert store.written == 0  # still gathering (30 s)
    assert counted.waited_for == 1  # woken by the first write only
    started = time.monotonic()
    await store.flush()  # not left to wait out the 30 s
    assert time.monotonic() - started < 5
    assert store.written == 50
    store.write([Sample(SERIES, START + 60, 0.2)])
    started = time.monotonic()
    await store.close()  # the stop is taken at once too, and what was queued is kept
    assert time.monotonic() - started < 5
    assert store.written == 51


async def test_a_batch_lands_once_its_interval_is_over(tmp_path: Path) -> None:
    clock = FakeClock(START + HOUR)
    store = SqliteSeries(tmp_path / "h.db", 30 * 86400, clock=clock, batch_interval=0.3)
    await asyncio.to_thread(store.open)
    try:
        for i in range(3):
            store.write([Sample(SERIES, START + i, 0.1)])
        await eventually(lambda: store.written == 3, 5, "the batch committed")
    finally:
        await store.close()
