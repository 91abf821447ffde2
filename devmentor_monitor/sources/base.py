"""What every source has in common: it observes and hands typed observations to the
intake (observations.py). Sources never touch the store; the runtime's intake is the only
writer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Protocol, TypeVar

from devmentor_monitor.model import SourceState, SourceStatus
from devmentor_monitor.observations import Intake, Polled

T = TypeVar("T")


class Source(Protocol):
    name: str

    async def run(self, intake: Intake) -> None:
        """Observe until cancelled. Must not raise for the source's own failures."""


async def in_thread(fn: Callable[[], T], timeout: float) -> T:  # noqa: ASYNC109 - bounds a thread
    """Run a blocking call off the event loop, bounded in time: the loop never waits on it.

    asyncio.timeout, not wait_for: on 3.11, a cancel that lands as the thread finishes is
    swallowed by wait_for (the result is returned instead), and the source's loop went on
    for ever; the monitor's stop waited on it (a CI hang, reproduced by
    test_runtime_start.py's stubborn-task test, where the system source did it every run)."""
    async with asyncio.timeout(timeout):
        return await asyncio.to_thread(fn)


@contextmanager
def timed(intake: Intake, source: str, interval: float) -> Iterator[None]:
    """Time one poll of ``source`` and tell the intake (the monitor's own cost, on screen,
    /api/self and /metrics): every source's polls are timed here."""
    started = time.perf_counter()
    try:
        yield
    finally:
        intake.observe(Polled(source, time.perf_counter() - started, interval))


async def every(
    interval: float,
    tick: Callable[[], Awaitable[None]],
    timing: tuple[Intake, str] | None = None,
) -> None:
    """Call ``tick`` on a fixed schedule without drift; a slow tick skips, never overlaps.
    ``timing``: (intake, source name) each tick's duration is told to."""
    next_at = time.monotonic()
    while True:
        if timing is None:
            await tick()
        else:
            with timed(*timing, interval):
                await tick()
        next_at += interval
        now = time.monotonic()
        if next_at < now:  # we fell behind: skip the missed ticks
            next_at = now + interval - ((now - next_at) % interval)
        await asyncio.sleep(next_at - now)


def status(
    name: str, ok: bool, reason: str = "", retry_at: float | None = None, **detail: object
) -> SourceStatus:
    return SourceStatus(
        name=name,
        state=SourceState.OK if ok else SourceState.UNAVAILABLE,
        reason=reason,
        last_ok=time.time() if ok else None,
        retry_at=retry_at,
        detail=dict(detail),
    )
