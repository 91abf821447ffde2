"""Long work on the event loop, in slices: the loop is given back between them.

The loop serves the API, runs the checks and (in `ultra`) draws the screen; one callback
that holds it for 5-10 ms shows as a scrape that waits as long. Work written as a
generator that yields between small units (one service fed, say) is driven here: it
runs until a slice has taken SLICE_S, then ``await asyncio.sleep(0)`` lets whatever is
ready (a request, a check's reply) run before the next slice.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Generator
from typing import TypeVar

T = TypeVar("T")

# 1 ms: about what a scrape of /api/services at 1,000 services costs, so a slice at most
# doubles the wait of a request that arrives during one. Measured with the prediction step
# at 1,000 services (`--serve`, per-callback CPU on the loop): whole, p50 4.7 ms and up to
# 9.9 ms once a second; in slices, p50 1.06 ms (a slice ends after the unit that crosses
# the budget; the longest, 4.3 ms, had a young collection in it).
SLICE_S = 0.001

Work = Generator[None, None, T]


async def in_slices(work: Work[T], budget: float = SLICE_S) -> T:
    """Run ``work`` to its end, giving the loop back each time a slice took ``budget``
    seconds; its return value."""
    clock = time.perf_counter
    start = clock()
    while True:
        try:
            next(work)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        if clock() - start >= budget:
            await asyncio.sleep(0)
            start = clock()


def at_once(work: Work[T]) -> T:
    """Run ``work`` to its end without a break (tests, benchmarks, a sync caller)."""
    while True:
        try:
            next(work)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
