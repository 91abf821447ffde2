"""The cycle collector in a monitor that runs for weeks: what it walks, and when.

A collection holds the event loop for as long as it walks, and at 1,000 services nearly
everything it walks is alive: in `--serve` the automatic collections found no cyclic
garbage at all over minutes (gc.callbacks "collected", bench/loop_probe.py). Start-up's
objects are frozen once the runtime is up (cli.freeze_startup). The per-service state
made by the first round of checks and predictions (targets, series, detectors, their
arrays) comes later, lives as long, and was then walked by every full collection:
~22,000 objects, a full pass 15-50 ms on the loop. So, once warm, the survivors of the
next full collection are frozen too (`freeze_once_warm`): it has just collected every
cycle that was garbage, and objects frozen later freed by their count as ever. What a
frozen object can no longer be is collected as part of a cycle: a one-time amount (what
was alive then and ends in a cycle later), not a growth.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from typing import Any

# After the first round of checks (every service checked at once at the start, in about a
# second at 1,000) and a minute of the prediction step, which builds its series as samples
# come. Measured at 1,000 services, `--serve`, bench/services_ab.py: the objects a full pass
# walks ~22,700 -> ~5,300, and that pass 4.8 -> 1.4 ms (thread CPU, warm caches; the
# automatic ones, cold, took 15-50 ms before).
WARM_S = 60.0
# The thresholds stay CPython's (700, 10, 10). (350, 10, 10) halved each young
# collection (gen 0 0.42 -> 0.20 ms, gen 1 1.5-1.8 -> 0.8-1.0 ms median) but moved
# neither the loop's holds over 2 ms (1.35 / 1.14 % of the time vs 1.37 / 1.19 %) nor the
# scrape p99, two rounds with the sides swapped (bench/services_ab.py, SCHED_FIFO), and
# brought full collections forward (more objects promoted). A 10x gen-0 threshold was
# worse (cli.freeze_startup).


def freeze_once_warm(delay: float = WARM_S) -> asyncio.TimerHandle:
    """After ``delay`` seconds, freeze what survives the next full collection (one
    that comes by itself: no collection is forced, so none holds the loop for this).
    Called on the running loop; nothing happens if the loop ends first."""
    loop = asyncio.get_running_loop()

    def arm() -> None:
        fired = False

        def after_full(phase: str, info: dict[str, Any]) -> None:
            nonlocal fired
            if fired or phase != "stop" or info["generation"] != 2:
                return
            fired = True
            gc.freeze()
            # not from inside the callbacks' walk (the next one would be skipped), and
            # a collection may run on another thread
            with contextlib.suppress(RuntimeError):  # the loop has closed: it stays, idle
                loop.call_soon_threadsafe(gc.callbacks.remove, after_full)

        gc.callbacks.append(after_full)

    return loop.call_later(delay, arm)


# `ultra` only. Textual's Strips keep themselves in their own caches (a cycle each): at
# 160x50 with the demo ~21,000 objects of cycles a minute (Segments, FIFOCaches, Strips),
# of which each full collection found 8,000-10,000 that had reached the oldest generation;
# those came by themselves every 1-2 minutes: RSS held the garbage, arenas partly used.
# Side by side (two `ultra --demo`, 2026-11-29): at 60 / 90 / 150 s 47.7 / 48.6 / 49.2
# MiB without, 47.1 / 47.5 / 48.1 with a full collection each 10 s; each ~3 ms of CPU
# (start-up's objects frozen, so it walks what came later; not measured at 1,000 services,
# where gc_settings' figures above give a full pass after the freeze as ~1.4 ms).
SWEEP_S = 10.0


def sweep_every(interval: float = SWEEP_S) -> asyncio.Task[None]:
    """A full collection each ``interval`` seconds on the running loop, until cancelled."""

    async def sweep() -> None:
        while True:
            await asyncio.sleep(interval)
            gc.collect()

    return asyncio.get_running_loop().create_task(sweep(), name="gc-sweep")
