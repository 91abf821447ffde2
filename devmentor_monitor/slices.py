"""Long work on the event loop, in slices: the loop is given back between them.

The loop serves the API, runs the checks and (in `ultra`) draws the screen; one callback
that holds it for 5-10 ms shows as a scrape that waits as long. Work written as a
generator that yields between small units (one service fed, say) is driven here: it
runs until a slice has taken SLICE_S, then ``await asyncio.sleep(0)`` lets whatever is
ready (a request, a check's reply) run before the next slice. Background work (the
services body's keeper, the prediction step, a check's result taken in) also waits for
a turn of the loop that none of the others has had (`my_turn`).
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections import deque
from collections.abc import Generator
from typing import TypeVar

T = TypeVar("T")

# 1 ms: about what a scrape of /api/services at 1,000 services costs, so a slice at most
# doubles the wait of a request that arrives during one. Measured with the prediction step
# at 1,000 services (`--serve`, per-callback CPU on the loop): whole, p50 4.7 ms and up to
# 9.9 ms once a second; in slices, p50 1.06 ms (a slice ends after the unit that crosses
# the budget; the longest, 4.3 ms, had a young collection in it).
SLICE_S = 0.001
# Background slices (`in_slices(background=True)`) are half that: at 1,000 services
# (`--serve`, 1,200 scrapes 10 ms apart, bench/services_ab.py, the same tree both sides,
# two rounds) the loop's holds over 2 ms of CPU 61 / 89 -> 25 / 45, its time in them
# 0.55 / 0.88 -> 0.26 / 0.46 %, its CPU the same (10.2 / 10.8 vs 10.1 / 10.6 %).
BACKGROUND_SLICE_S = 0.0005

Work = Generator[None, None, T]


async def in_slices(work: Work[T], budget: float | None = None, *, background: bool = False) -> T:
    """Run ``work`` to its end, giving the loop back each time a slice took ``budget``
    seconds (SLICE_S, BACKGROUND_SLICE_S in the background); its return value.
    ``background``: each slice waits for a turn of the loop that no other background
    work has had (`my_turn`)."""
    clock = time.perf_counter
    if budget is None:
        budget = BACKGROUND_SLICE_S if background else SLICE_S
    if background:
        await my_turn()
    start = clock()
    while True:
        try:
            next(work)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        if clock() - start >= budget:
            if background:
                await my_turn(again=True)
            else:
                await asyncio.sleep(0)
            start = clock()


class _Turns:
    """Background work's turns of one loop: one unit a turn, in the order asked. The
    first to ask in a free turn takes it; the others wait in line, and `free`, at the
    start of the next turn, hands the turn after it to the first in line."""

    __slots__ = ("taken", "waiting")

    def __init__(self) -> None:
        self.taken = False
        self.waiting: deque[asyncio.Future[None]] = deque()

    def take(self) -> None:
        self.taken = True
        asyncio.get_running_loop().call_soon(self.free)

    def free(self) -> None:
        self.taken = False
        while self.waiting:
            waiter = self.waiting.popleft()
            if not waiter.done():  # else cancelled while in line
                waiter.set_result(None)  # it runs next turn, before this hand-over's free
                self.take()
                return


_turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Turns] = weakref.WeakKeyDictionary()


async def my_turn(*, again: bool = False) -> None:
    """Wait for a turn of the loop that no other background unit (a slice of a keeper
    or of the prediction step, a check's result taken in) has had, and take it.

    The loop runs every callback that is ready in one turn, then looks for I/O again; a
    request that came meanwhile runs in the next turn, after what is ready there. Each
    such worker giving the loop back after a slice was not enough: they all ran their
    slice in the same turn, and ten checks' replies that come back together (as they go
    out together: health/checker.py TICK) were taken in one after another, 3-5 ms before
    a scrape's next step at 1,000 services. One unit a turn bounds that wait to one
    unit. ``again``: the caller has just had a turn, so it goes to the back of the line."""
    loop = asyncio.get_running_loop()
    turns = _turns.get(loop)
    if turns is None:
        turns = _turns[loop] = _Turns()
    if not again and not turns.taken and not turns.waiting:
        turns.take()
        return
    waiter = loop.create_future()
    turns.waiting.append(waiter)
    if not turns.taken:  # ours was the last turn: hand the next one over
        turns.take()
    await waiter


def at_once(work: Work[T]) -> T:
    """Run ``work`` to its end without a break (tests, benchmarks, a sync caller)."""
    while True:
        try:
            next(work)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
