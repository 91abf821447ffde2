"""A clock the test moves by hand, for code that takes ``clock=`` (Store, the engines)."""

from __future__ import annotations

T0 = 1_800_000_000.0  # a fixed wall-clock start, far from the epoch's edge cases


class FakeClock:
    """Called like ``time.time``; reads and sets ``now``."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now
