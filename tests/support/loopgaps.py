"""How long a coroutine holds the event loop at once, in the loop thread's CPU time (a
busy machine does not stretch it): another task yields in a loop beside it and records
the CPU time between its turns. The cycle collector is held off meanwhile: a full
collection over a 1,000-service store takes ~10 ms wherever it lands, and it is the
work's own holds that are measured (bench/gc_pause.py measures the collector's)."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def held_gaps(work: Awaitable[T]) -> tuple[T, list[float]]:
    """(what `work` returned, the CPU seconds between the other task's turns)."""
    gaps: list[float] = []
    done = False

    async def other_work() -> None:  # stands for a scrape, a check's reply or the screen
        last = time.thread_time()
        while not done:
            await asyncio.sleep(0)
            now = time.thread_time()
            gaps.append(now - last)
            last = now

    waiting = asyncio.create_task(other_work())
    await asyncio.sleep(0)
    enabled = gc.isenabled()
    gc.disable()
    try:
        result = await work
    finally:
        done = True
        if enabled:
            gc.enable()
        await waiting
    return result, gaps


def within_slices(gaps: list[float], whole: float) -> str | None:
    """None when the longest hold in ``gaps`` is a slice's: under 8 ms of CPU, or a twentieth
    of ``whole`` (the same work done in one go, timed in the same run) if more. Two cores
    that are SMT siblings, or a busy machine's caches, slow this thread's CPU seconds, and
    they slow ``whole`` alike; in one go a hold is all of ``whole``. Else the message."""
    bound = max(0.008, whole / 20)
    longest = max(gaps)
    if longest < bound:
        return None
    return f"the loop was held {longest * 1000:.1f} ms at once (bound {bound * 1000:.1f} ms)"
