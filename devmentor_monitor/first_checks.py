"""The dashboard's first health checks, out before the rest of the runtime is imported.

`ultra` starts its runtime after the first frame, and the screen waits for the first
round of checks. Importing and building the rest of the runtime first (incidents,
history, notify, predictions, workloads...: ~0.1 s of CPU on the one loop) held them
back; they need only the health source and the store's intake. What consumes their
results later catches up when runtime.Monitor adopts these (``first=``): the alert loop
reads the store through the subscription made here before any result, the intake holds
history writes and accepted events until the Monitor attaches its own, and the check
results are kept for flap detection.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from devmentor_monitor.config.schema import Config, is_self
from devmentor_monitor.health.checker import HealthSource
from devmentor_monitor.intake import StoreIntake
from devmentor_monitor.model import CheckResult
from devmentor_monitor.store import Store

# The rest of the start waits this long for the first round at most (a slow service
# must not hold up the incidents, the history, the host's first read or the exporter).
FIRST_ROUND_WAIT = 0.25


class FirstChecks:
    """The health source and the intake, running before the Monitor that adopts them."""

    def __init__(
        self, config: Config, store: Store, *, clock: Callable[[], float] = time.time
    ) -> None:
        store.follow(config)  # the URLs probed (--demo's fleet), before any result
        probed = [s for s in config.services if s.url is not None]
        self.health = HealthSource(probed, config.health.max_in_flight)
        # The monitor's own /health: checked once its exporter listens (runtime.py).
        self.health.later = {s.name for s in probed if s.url and is_self(s.url, config)}
        self.intake = StoreIntake(store, clock=clock)
        self.intake.hold_history()
        self.intake.hold_events()
        self.checks: list[CheckResult] = []  # for flap detection, once its state is read
        self.intake.check_hook = self.checks.append
        self.sub = store.bus.subscribe()  # the alert loop's: it sees the first changes
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self.health.run(self.intake), name="source:health")

    async def first_round(self) -> None:
        """Until the first round's results are all in (FIRST_ROUND_WAIT at most)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(FIRST_ROUND_WAIT):
                await self.health.first_round.wait()

    async def stop(self) -> None:
        """Not adopted (the runtime failed to build): the checks stop here."""
        self.sub.close()
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
