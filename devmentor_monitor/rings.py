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

    def _ordered(self, seq: array[float]) -> array[float]:
        return seq[self._start :] + seq[: self._start] if self._start else seq

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
        return self.totals_many(now, (window,))[0]

    def totals_many(self, now: float, windows: tuple[float, ...]) -> list[tuple[int, int, int]]:
        """Several windows in one pass per bucket size (the alert rules ask for four).

        Minute buckets up to 3 h (5 m, 30 m, 1 h exact to the minute); hour buckets
        beyond (6 h, 24 h, 7 d), so no pass reads more than 180 slots.
        """
        short = [w for w in windows if w <= 3 * 3600]
        long = [w for w in windows if w > 3 * 3600]
        found = dict(zip(short, self._minute.totals_nested(now, short), strict=True))
        found.update(zip(long, self._hour.totals_nested(now, long), strict=True))
        return [found[w] for w in windows]


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

    def totals_nested(self, now: float, windows: list[float]) -> list[tuple[int, int, int]]:
        """Sums over the last buckets of each window, newest first, in a single pass:
        the shorter windows are the first stretch of the longest one."""
        if not windows:
            return []
        newest = int(now // self.width)
        lengths = {w: min(self.size, max(1, round(w / self.width))) for w in windows}
        marks = sorted(set(lengths.values()))
        sums: dict[int, tuple[int, int, int]] = {}
        ids, tot, ups, fails, size = self._ids, self._total, self._up, self._failed, self.size
        total = up = failed = 0
        step = 0
        for mark in marks:
            while step < mark:
                bucket = newest - step
                i = bucket % size
                if ids[i] == bucket:
                    total += tot[i]
                    up += ups[i]
                    failed += fails[i]
                step += 1
            sums[mark] = (total, up, failed)
        return [sums[lengths[w]] for w in windows]
