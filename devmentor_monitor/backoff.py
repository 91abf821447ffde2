"""Exponential backoff with jitter, for every loop that reconnects or restarts.

Written once here rather than in each source: the Docker, Kubernetes and Redis sources
and the runtime's supervisor all wait first·2ⁿ (capped, ±20 % so a fleet does not retry
in step) and start over after a success. The outbox keeps its own durable backoff: its
attempt count lives in SQLite, not in a loop. Too small for tenacity or stamina, which
wrap a call; these loops also show the next retry time as source state.
"""

from __future__ import annotations

import random
import time

JITTER = 0.2


class Backoff:
    """The next delay of a retry loop; ``reset`` after success, or by itself when the
    attempt that failed had run longer than ``healthy_after`` seconds."""

    def __init__(self, first: float, cap: float, *, healthy_after: float | None = None) -> None:
        self.first, self.cap, self.healthy_after = first, cap, healthy_after
        self._delay = first
        self._started = time.monotonic()

    def started(self) -> None:
        """An attempt begins (for ``healthy_after``)."""
        self._started = time.monotonic()

    def reset(self) -> None:
        self._delay = self.first

    def next(self) -> float:
        """The jittered delay before the next attempt; the one after doubles, up to cap."""
        if self.healthy_after is not None and time.monotonic() - self._started > self.healthy_after:
            self.reset()
        delay = self._delay * random.uniform(1 - JITTER, 1 + JITTER)
        self._delay = min(self._delay * 2, self.cap)
        return delay
