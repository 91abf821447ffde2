"""What the monitor itself costs: its CPU and memory, and how long each source's polls
take (mean and worst over the last minute), so an operator can see when the watcher is
the problem, and when a source cannot keep to its interval.

Held by the store (`Store.cost`); poll times arrive as `Polled` observations through the
intake; the TUI's self panel, GET /api/self and /metrics read the same figures.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable

import msgspec

WINDOW = 60.0  # seconds of poll times kept per source
KEPT = 2000  # at most this many per source (1,000 health checks a 10 s interval: 6,000/min)
CPU_WINDOW = 1.0  # CPU is a rate: measured over at least this many seconds between reads


class PollStat(msgspec.Struct, frozen=True):
    """One source's polls over the last minute; ``interval``: what it should keep to."""

    source: str
    count: int
    mean: float
    max: float
    interval: float
    slow: bool  # some poll took longer than its interval


class Usage(msgspec.Struct, frozen=True):
    cpu_ratio: float | None  # share of one core since the previous read; None: too early
    rss_bytes: int | None


class PollTimes:
    """Per source, the (when, seconds, interval) of its polls in the last minute."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._polls: dict[str, deque[tuple[float, float, float]]] = {}
        # The polls that overran their interval, kept apart: the header asks `slow` every
        # second, and scanning the minute of polls (2,000 at 1,000 services) for the rare
        # overrun was most of its tick there (py-spy, `ultra`, 1,000 services).
        self._over: dict[str, deque[tuple[float, float, float]]] = {}

    def record(self, source: str, seconds: float, interval: float) -> None:
        """Older than the minute drops here, not only when read: with no scrape and the
        self panel closed, the times would pile up to KEPT per source (hours of RSS growth)."""
        ring = self._polls.get(source)
        if ring is None:
            ring = self._polls[source] = deque(maxlen=KEPT)
        now = self.clock()
        since = now - WINDOW
        while ring and ring[0][0] < since:
            ring.popleft()
        ring.append((now, seconds, interval))
        if seconds > interval:
            over = self._over.get(source)
            if over is None:
                over = self._over[source] = deque(maxlen=KEPT)
            while over and over[0][0] < since:
                over.popleft()
            over.append((now, seconds, interval))

    def stats(self) -> list[PollStat]:
        """Every source that polled in the last minute, by name."""
        since = self.clock() - WINDOW
        out = []
        for source in sorted(self._polls):
            ring = self._polls[source]
            while ring and ring[0][0] < since:
                ring.popleft()
            if not ring:
                continue
            took = [s for _, s, _ in ring]
            worst = max(ring, key=lambda p: p[1] - p[2])  # the furthest over its interval
            out.append(
                PollStat(
                    source,
                    len(took),
                    sum(took) / len(took),
                    max(took),
                    ring[-1][2],
                    worst[1] > worst[2],
                )
            )
        return out

    def slow(self) -> list[tuple[str, float, float]]:
        """(source, seconds, interval) of each source whose worst poll overran."""
        out = []
        since = self.clock() - WINDOW
        for source in sorted(self._over):
            ring = self._over[source]
            while ring and ring[0][0] < since:
                ring.popleft()
            over = [(s, i) for _, s, i in ring]
            if over:
                took, interval = max(over, key=lambda p: p[0] - p[1])
                out.append((source, took, interval))
        return out


def _rss() -> int | None:
    """Resident memory now: /proc (Linux), else the peak getrusage reports."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        try:
            import resource

            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        except (ImportError, OSError):
            return None


class SelfCost:
    """The monitor's own usage and its sources' poll times."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.polls = PollTimes(clock)
        self._at = clock()
        self._cpu = time.process_time()
        self._ratio: float | None = None

    def usage(self) -> Usage:
        """CPU as a share of one core since the last read at least a second ago (several
        readers, the screen and a scrape, do not shorten each other's window)."""
        now, cpu = self.clock(), time.process_time()
        if now - self._at >= CPU_WINDOW:
            self._ratio = max(0.0, (cpu - self._cpu) / (now - self._at))
            self._at, self._cpu = now, cpu
        elif self._ratio is None and now > self._at:  # the first second: what there is
            return Usage(max(0.0, (cpu - self._cpu) / (now - self._at)), _rss())
        return Usage(self._ratio, _rss())


def slow_lines(cost: SelfCost) -> list[str]:
    """What the TUI header and /api/self say of sources that cannot keep to their
    interval: "health checks slow: 12.3 s > 10 s"."""
    names = {"health": "health checks", "system": "host samples", "docker": "docker polls"}
    return [
        f"{names.get(source, source)} slow: {took:.1f} s > {interval:g} s"
        for source, took, interval in cost.polls.slow()
    ]
