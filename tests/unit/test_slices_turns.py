"""Background work takes the event loop's turns one unit at a time (slices.my_turn): ten
checks' replies that come back together, a keeper's slice and a prediction step's no
longer run in one turn while a request waits for the next; each still runs, in order."""

from __future__ import annotations

import asyncio
import time

from support.loopgaps import held_gaps

from devmentor_monitor.slices import Work, in_slices, my_turn

UNIT_S = 0.002  # of CPU, spun: what taking in a reply or a slice costs, made visible
REPLIES = 10


def _spin(seconds: float) -> None:
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


async def _reply(done: list[object], n: object, gate: asyncio.Event) -> None:
    await gate.wait()  # every reply ready in the same turn, as ten that come back at once
    await my_turn()
    _spin(UNIT_S)
    done.append(n)


def test_replies_ready_together_are_taken_in_one_a_turn() -> None:
    """A request ready beside ten replies waits for one reply's work between its own
    steps, not for all ten; the replies are all taken in, in the order they came."""
    done: list[object] = []

    async def main() -> None:
        gate = asyncio.Event()
        replies = [asyncio.create_task(_reply(done, n, gate)) for n in range(REPLIES)]
        await asyncio.sleep(0)
        gate.set()
        await asyncio.gather(*replies)

    _, gaps = asyncio.run(held_gaps(main()))
    assert done == list(range(REPLIES))
    # all in one turn, the request would wait ~10 units once; one a turn, ~1 unit each
    assert max(gaps) < 3 * UNIT_S, f"the loop was held {max(gaps) * 1000:.1f} ms at once"
    assert sum(g > UNIT_S / 2 for g in gaps) >= REPLIES - 1


def _units(log: list[object], name: str, n: int) -> Work[None]:
    for _ in range(n):
        _spin(UNIT_S)
        log.append(name)
        yield


def test_background_slices_take_turns_in_line() -> None:
    """Two sliced background jobs (a keeper, a prediction step) and a reply: one slice a
    turn, in turn with each other, each to its end with what it returns."""
    log: list[object] = []

    async def main() -> None:
        a = in_slices(_units(log, "a", 4), budget=UNIT_S / 2, background=True)
        b = in_slices(_units(log, "b", 4), budget=UNIT_S / 2, background=True)
        gate = asyncio.Event()
        reply = _reply(log, "reply", gate)
        gate.set()
        await asyncio.gather(a, b, reply)

    _, gaps = asyncio.run(held_gaps(main()))
    assert sorted(map(str, log)) == ["a"] * 4 + ["b"] * 4 + ["reply"]
    # in line: neither job runs to its end before the other (nor the reply) gets a turn
    assert set(log[:4]) == {"a", "b", "reply"}, log
    assert max(gaps) < 3 * UNIT_S, f"the loop was held {max(gaps) * 1000:.1f} ms at once"


def test_one_leaving_the_line_does_not_stop_it() -> None:
    """A reply's worker cancelled while it waits for its turn (the monitor stopping a
    source): the others still get theirs."""
    done: list[object] = []

    async def main() -> None:
        gate = asyncio.Event()
        replies = [asyncio.create_task(_reply(done, n, gate)) for n in range(4)]
        await asyncio.sleep(0)
        gate.set()
        await asyncio.sleep(0)
        await asyncio.sleep(0)  # the first has had its turn; the rest wait in line
        replies[2].cancel()
        await asyncio.gather(*replies, return_exceptions=True)

    asyncio.run(asyncio.wait_for(main(), 5))
    assert done == [0, 1, 3]


def _runs_between_turns(background: bool) -> list[int]:
    """Units of 0.1 ms run between two turns of a task beside the job."""
    runs: list[int] = []
    count = 0
    done = False

    def job() -> Work[None]:
        nonlocal count
        for _ in range(200):
            _spin(0.0001)
            count += 1
            yield

    async def beside() -> None:
        nonlocal count
        while not done:
            await asyncio.sleep(0)
            if count:
                runs.append(count)
            count = 0

    async def main() -> None:
        nonlocal done
        other = asyncio.create_task(beside())
        await in_slices(job(), background=background)
        done = True
        await other

    asyncio.run(main())
    return sorted(runs)


def test_background_slices_are_shorter() -> None:
    """A background job (a keeper, the prediction step) gives the loop back after half
    the CPU a foreground one (a scrape catching up) does (BACKGROUND_SLICE_S)."""
    fore, back = _runs_between_turns(False), _runs_between_turns(True)
    assert sum(fore) == sum(back) == 200
    assert back[len(back) // 2] < fore[len(fore) // 2], (back, fore)
    assert back[len(back) // 2] <= 6, back
