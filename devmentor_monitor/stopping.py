"""Cancelling tasks at a stop or a hand-over, waiting for them only so long.

A task that swallows its cancel (Python 3.11's wait_for can, in a race; a client library
may) must not keep the monitor from stopping nor a leader from standing down.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

STOP_GRACE = 5.0  # seconds a cancelled task has to end before the stop goes on without it


async def cancel_within(
    tasks: Iterable[asyncio.Task[Any]], grace: float = STOP_GRACE
) -> set[asyncio.Task[Any]]:
    """Cancel ``tasks`` and wait for them at most ``grace`` seconds; those still running
    (the caller names them in its log)."""
    running = list(tasks)
    for task in running:
        task.cancel()
    if not running:
        return set()
    _, pending = await asyncio.wait(running, timeout=grace)
    return pending
