"""Once the monitor is warm, what survives the next full collection is frozen
(gc_settings.freeze_once_warm): full collections then walk only what came later."""

from __future__ import annotations

import asyncio
import gc
import weakref

from support.waiting import eventually

from devmentor_monitor.gc_settings import freeze_once_warm, sweep_every


class _State:
    """Stands for the per-service state built after start-up (a cycle, so tracked)."""

    def __init__(self) -> None:
        self.me = self


async def test_the_survivors_of_the_first_full_collection_once_warm_are_frozen() -> None:
    callbacks = list(gc.callbacks)
    gc.unfreeze()
    try:
        freeze_once_warm(0.0)
        await eventually(lambda: len(gc.callbacks) > len(callbacks), what="armed")
        kept = [_State() for _ in range(1000)]
        gc.collect(1)  # a young collection: nothing is frozen
        assert gc.get_freeze_count() == 0
        gc.collect()  # the next full one: what lives now is frozen
        frozen = gc.get_freeze_count()
        assert frozen >= len(kept)
        walked = {id(o) for o in gc.get_objects(2)}
        assert not any(id(s) in walked for s in kept)  # no full collection walks them now
        await eventually(lambda: gc.callbacks == callbacks, what="the callback removed")
        gc.collect()  # once only: nothing more is frozen (some frozen objects died since)
        assert gc.get_freeze_count() <= frozen
    finally:
        gc.unfreeze()
        gc.callbacks[:] = callbacks


async def test_nothing_is_frozen_before_the_delay() -> None:
    callbacks = list(gc.callbacks)
    gc.unfreeze()
    handle = freeze_once_warm(3600.0)
    try:
        await asyncio.sleep(0)
        gc.collect()
        assert gc.get_freeze_count() == 0
        assert gc.callbacks == callbacks
    finally:
        handle.cancel()
        gc.unfreeze()


async def test_ultras_sweep_frees_a_cycle_that_reached_the_oldest_generation() -> None:
    # a Strip in its own cache: alive through two young collections, then dropped
    held = _State()
    gone = weakref.ref(held)
    gc.collect(0)
    gc.collect(1)
    assert any(o is held for o in gc.get_objects(2))  # where only a full collection looks
    del held
    gc.collect(1)
    assert gone() is not None  # young collections do not free it
    sweep = sweep_every(0.05)
    try:
        await eventually(lambda: gone() is None, within=5, what="the cycle freed by a sweep")
    finally:
        sweep.cancel()
