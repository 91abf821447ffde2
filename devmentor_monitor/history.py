"""Fixed-memory histories: a time-series ring and windowed check counters.

Both grow only up to a cap set in config, so a week of running does not grow RSS.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterator


class Ring:
    """(timestamp, value) pairs, oldest overwritten first. Timestamps must not go backwards."""

    __slots__ = ("_start", "_ts", "_vs", "capacity")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._ts = array("d")
        self._vs = array("d")
        self._start = 0  # index of the oldest element once full

    def __len__(self) -> int:
        return len(self._ts)

    def append(self, ts: float, value: float) -> None:
        if len(self._ts) < self.capacity:
            self._ts.append(ts)
            self._vs.append(value)
            return
        self._ts[self._start] = ts
        self._vs[self._start] = value
        self._start = (self._start + 1) % self.capacity

    def _ordered(self, seq: array) -> array:
        return seq[self._start:] + seq[: self._start] if self._start else seq

    def last(self) -> tuple[float, float] | None:
        if not self._ts:
            return None
        i = (self._start - 1) % len(self._ts)
        return self._ts[i], self._vs[i]

    def since(self, t0: float) -> tuple[list[float], list[float]]:
        """Points with timestamp >= t0, oldest first."""
        ts = self._ordered(self._ts)
        vs = self._ordered(self._vs)
        i = bisect_left(ts, t0)
        return ts[i:].tolist(), vs[i:].tolist()

    def values_since(self, t0: float) -> list[float]:
        return self.since(t0)[1]

    def __iter__(self) -> Iterator[tuple[float, float]]:
        return zip(self._ordered(self._ts), self._ordered(self._vs), strict=True)


class WindowCounter:
    """Counts of checks, up-checks and failed checks in minute and hour buckets.

    Minute buckets cover 24 h, hour buckets 7 d: enough for uptime over 1 h, 24 h
    and 7 d at a fixed 13 KiB per service, whatever the check rate.
    """

    __slots__ = ("_hour", "_minute")

    MINUTES = 1440
    HOURS = 168

    def __init__(self) -> None:
        self._minute = _Buckets(self.MINUTES, 60)
        self._hour = _Buckets(self.HOURS, 3600)

    def add(self, ts: float, *, up: bool, failed: bool) -> None:
        self._minute.add(ts, up, failed)
        self._hour.add(ts, up, failed)

    def totals(self, now: float, window: float) -> tuple[int, int, int]:
        """(checks, up, failed) in the last ``window`` seconds (to bucket precision)."""
        # Minute buckets up to 3 h (5 m, 30 m, 1 h windows exact to the minute); hour
        # buckets beyond (6 h, 24 h, 7 d), so no window reads more than 180 slots.
        buckets = self._minute if window <= 3 * 3600 else self._hour
        return buckets.totals(now, window)


class _Buckets:
    __slots__ = ("_failed", "_ids", "_total", "_up", "size", "width")

    def __init__(self, size: int, width: int) -> None:
        self.size, self.width = size, width
        self._ids = array("q", [-1]) * size
        self._total = array("I", [0]) * size
        self._up = array("I", [0]) * size
        self._failed = array("I", [0]) * size

    def add(self, ts: float, up: bool, failed: bool) -> None:
        bucket = int(ts // self.width)
        i = bucket % self.size
        if self._ids[i] != bucket:
            self._ids[i] = bucket
            self._total[i] = self._up[i] = self._failed[i] = 0
        self._total[i] += 1
        self._up[i] += up
        self._failed[i] += failed

    def totals(self, now: float, window: float) -> tuple[int, int, int]:
        """Sums over the buckets of the window only: a 5-minute window reads 5 slots."""
        newest = int(now // self.width)
        count = min(self.size, max(1, round(window / self.width)))
        total = up = failed = 0
        ids, size = self._ids, self.size
        for bucket in range(newest - count + 1, newest + 1):
            i = bucket % size
            if ids[i] == bucket:
                total += self._total[i]
                up += self._up[i]
                failed += self._failed[i]
        return total, up, failed
