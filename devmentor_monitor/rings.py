"""Fixed-memory histories: a time-series ring and windowed check counters.

Both grow only up to a cap set in config, so a week of running does not grow RSS.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from math import isnan, nan

from devmentor_monitor.model import CheckResult

_NAN = nan

# What the rings in memory keep: a service's latencies and the host series over the last
# hour (store.live_points sizes them from the interval). The live figures read no further
# (p50/p95/p99 over the last hour, the trends, the detector's 15 minutes); the 24 h charts
# and longer windows of /api/services/{name} and /api/metrics read the history on disk.
# A day of checks in a ring was ~135 KiB a service after a day (132 MiB at 1,000
# services), and a day of host samples 270 KiB a series: RSS grew all day long.
LIVE_SPAN = 3600.0


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

    def extend(self, ts: Sequence[float], values: Sequence[float]) -> None:
        """Append many points at once, oldest first (a refill from history): array copies,
        not a Python call per point."""
        cap = self.capacity
        if not self._start and len(self._ts) + len(ts) <= cap:
            self._ts.extend(ts)
            self._vs.extend(values)
            return
        all_ts = self._ordered(self._ts) + array("d", ts[-cap:])
        all_vs = self._ordered(self._vs) + array("d", values[-cap:])
        self._ts, self._vs, self._start = all_ts[-cap:], all_vs[-cap:], 0

    def _ordered(self, seq: array[float]) -> array[float]:
        return seq[self._start :] + seq[: self._start] if self._start else seq

    def last(self) -> tuple[float, float] | None:
        if not self._ts:
            return None
        i = (self._start - 1) % len(self._ts)
        return self._ts[i], self._vs[i]

    def since(self, t0: float) -> tuple[list[float], list[float]]:
        """Points with timestamp >= t0, oldest first. Only those are copied: the
        prediction step asks each service's ring for its one new point, 100 times a
        second at 1,000 services, and putting the whole ring in order first (two array
        copies of ~400 slots) was most of that."""
        ts, vs, start = self._ts, self._vs, self._start
        if not start:
            i = bisect_left(ts, t0)
            return ts[i:].tolist(), vs[i:].tolist()
        if t0 <= ts[0]:  # reaches into the older stretch, ts[start:]
            i = bisect_left(ts, t0, start)
            return ts[i:].tolist() + ts[:start].tolist(), vs[i:].tolist() + vs[:start].tolist()
        i = bisect_left(ts, t0, 0, start)
        return ts[i:start].tolist(), vs[i:start].tolist()

    def count_since(self, t0: float) -> int:
        """How many points have timestamp >= t0, without copying any."""
        ts, start = self._ts, self._start
        if not start:
            return len(ts) - bisect_left(ts, t0)
        if t0 <= ts[0]:
            return len(ts) - bisect_left(ts, t0, start) + start
        return start - bisect_left(ts, t0, 0, start)

    def values_since(self, t0: float) -> list[float]:
        return self.since(t0)[1]

    def __iter__(self) -> Iterator[tuple[float, float]]:
        return zip(self._ordered(self._ts), self._ordered(self._vs), strict=True)


class WindowCounter:
    """Counts of checks, up-checks and failed checks in minute and hour buckets.

    Minute buckets cover the 3 h the short windows read (longer ones read hours), hour
    buckets 30 d: enough for uptime over 1 h, 24 h, 7 d and 30 d in at most 11 KiB per
    service (902 slots of 12 bytes; 4 while all its checks were up), whatever the check
    rate (a day of minutes, never read past 3 h, was 42 MiB at 1,000 services). At start
    the runtime refills them from the history on disk (`restore`).
    """

    __slots__ = ("_hour", "_minute")

    SHORT = 3 * 3600  # windows up to this long are read from the minute buckets
    MINUTES = SHORT // 60 + 2  # the 3 h, the minute being filled, and one to spare
    HOURS = 720

    def __init__(self) -> None:
        self._minute = _Buckets(self.MINUTES, 60)
        self._hour = _Buckets(self.HOURS, 3600)

    def add(self, ts: float, *, up: bool, failed: bool) -> None:
        self._minute.add(ts, up, failed)
        self._hour.add(ts, up, failed)

    def restore(
        self,
        minutes: Iterable[tuple[float, int, int, int]],
        hours: Iterable[tuple[float, int, int, int]],
    ) -> None:
        """Whole buckets, each (start, checks, up, failed), as the history's 1-minute and
        1-hour rollups hold them, on top of this run's checks in the same bucket; what is
        older than a bucket array spans is dropped."""
        for start, total, up, failed in minutes:
            self._minute.put(start, total, up, failed)
        for start, total, up, failed in hours:
            self._hour.put(start, total, up, failed)

    def totals(self, now: float, window: float) -> tuple[int, int, int]:
        """(checks, up, failed) in the last ``window`` seconds (to bucket precision)."""
        return self.totals_many(now, (window,))[0]

    def failed_percent(self, now: float, window: float) -> float | None:
        """Percent of the checks in the last ``window`` seconds that failed (None: no
        check). While every check held passed and the current minute has one (most
        services, most of the time), 0 at once: the prediction step asks this of every
        checked service, 100 times a second at 1,000 services."""
        if window <= self.SHORT and self._minute.all_passed(now):
            return 0.0
        total, _, failed = self.totals(now, window)
        return 100.0 * failed / total if total else None

    def totals_many(self, now: float, windows: tuple[float, ...]) -> list[tuple[int, int, int]]:
        """Several windows in one pass per bucket size (the alert rules ask for four).

        Minute buckets up to 3 h (5 m, 30 m, 1 h exact to the minute); hour buckets
        beyond (6 h, 24 h, 7 d, 30 d). The sums over the buckets before the current one
        are kept until a bucket changes, so the 720-slot pass runs about once an hour.
        """
        short = [w for w in windows if w <= self.SHORT]
        long = [w for w in windows if w > self.SHORT]
        found = dict(zip(short, self._minute.totals_nested(now, short), strict=True))
        found.update(zip(long, self._hour.totals_nested(now, long), strict=True))
        return [found[w] for w in windows]


class _Buckets:
    """``size`` buckets of ``width`` seconds: the newest written (``_head``) and the ones
    before it, slot ``bucket % size``. A slot's bucket follows from the head, so no id is
    kept per slot. While every check held was up and none failed (most services, most of
    the time), only the totals are kept: 2 bytes a slot, 6 once one was not (at 1,000
    services, 1.8 MiB rather than 5.3 MiB; 4-byte counts made it 3.5 MiB, an id per slot
    17.6 MiB). A count past 65,535 (a check every 55 ms or less into one hour) widens
    the arrays to 4 bytes a count."""

    __slots__ = (
        "_code",
        "_failed",
        "_head",
        "_memo",
        "_memo_at",
        "_total",
        "_up",
        "size",
        "width",
    )

    def __init__(self, size: int, width: int) -> None:
        self.size, self.width = size, width
        self._head = -1  # the newest bucket written; slots hold head - size + 1 .. head
        self._code = "H"  # "I" once a count passed 65,535
        self._total = self._empty()
        # None: each bucket's up count is its total and its failed count 0.
        self._up: array[int] | None = None
        self._failed: array[int] | None = None
        # Sums over the buckets older than `_memo_at` (the newest a read asked about), by
        # window length: they only change when a bucket other than that one is written.
        self._memo_at = -1
        self._memo: dict[int, tuple[int, int, int]] = {}

    def _empty(self) -> array[int]:
        return array(self._code, bytes(array(self._code).itemsize * self.size))

    def _room(self, i: int, more: int) -> None:
        """Widen the counts to 4 bytes if slot ``i``'s total cannot take ``more``."""
        if self._code == "H" and self._total[i] + more > 0xFFFF:
            self._code = "I"
            self._total = array("I", self._total)
            if self._up is not None and self._failed is not None:
                self._up, self._failed = array("I", self._up), array("I", self._failed)

    def _slot(self, bucket: int) -> int:
        """The slot of ``bucket`` once it is the newest or within the last ``size``; -1 for
        an older one (its slot holds a newer bucket: dropped)."""
        if bucket > self._head:
            self._advance(bucket)
        elif bucket <= self._head - self.size:
            return -1
        return bucket % self.size

    def _advance(self, bucket: int) -> None:
        """Make ``bucket`` the newest: the slots of the buckets skipped are emptied."""
        size = self.size
        if bucket - self._head >= size:  # nothing held is still in the span
            self._total = self._empty()
            self._up = self._failed = None
        else:
            total, up, failed = self._total, self._up, self._failed
            for b in range(self._head + 1, bucket + 1):
                i = b % size
                total[i] = 0
                if up is not None and failed is not None:
                    up[i] = failed[i] = 0
        self._head = bucket

    def _split(self) -> tuple[array[int], array[int]]:
        """The up and failed counts, kept apart from now on (a check was down or failed)."""
        if self._up is None or self._failed is None:
            self._up = array(self._code, self._total)
            self._failed = self._empty()
        return self._up, self._failed

    def add(self, ts: float, up: bool, failed: bool) -> None:
        bucket = int(ts // self.width)
        if bucket != self._memo_at:
            self._memo_at = -1
        if bucket <= self._head - self.size:
            # A live check older than everything held: the clock stepped back past the
            # span (NTP, a VM resumed). Start again from it, or every check would be
            # dropped until the clock caught up with the old head (hours).
            self._head = bucket - self.size
            self._memo_at = -1
        i = self._slot(bucket)
        if self._total[i] == 0xFFFF:
            self._room(i, 1)
        if self._up is None and up and not failed:
            self._total[i] += 1
            return
        ups, fails = self._split()
        self._total[i] += 1
        ups[i] += up
        fails[i] += failed

    def all_passed(self, now: float) -> bool:
        """Every check held was up and none failed, and the bucket of ``now`` has one."""
        if self._up is not None:
            return False
        newest = int(now // self.width)
        return self._head - self.size < newest <= self._head and self._total[newest % self.size] > 0

    def put(self, start: float, total: int, up: int, failed: int) -> None:
        """One whole bucket (restored from history): added to what its slot holds (nothing,
        or checks made since the start, which the history read did not see: the dashboard
        checks while it restores); one older than the buckets span is dropped."""
        i = self._slot(int(start // self.width))
        if i < 0:  # older than the buckets span
            return
        self._memo_at = -1
        self._room(i, total)
        if self._up is not None or up != total or failed:
            ups, fails = self._split()  # before the total grows: it copies the totals
            ups[i] += up
            fails[i] += failed
        self._total[i] += total

    def totals_nested(self, now: float, windows: list[float]) -> list[tuple[int, int, int]]:
        """Sums over the last buckets of each window, newest first: the newest bucket
        read now, the older ones from the memo or from a single pass (the shorter windows
        are the first stretch of the longest one)."""
        if not windows:
            return []
        newest = int(now // self.width)
        if newest != self._memo_at:
            self._memo_at, self._memo = newest, {}
        memo = self._memo
        lengths = {w: min(self.size, max(1, round(w / self.width))) for w in windows}
        tot, size = self._total, self.size
        ups = tot if self._up is None else self._up
        fails = _zeros(size) if self._failed is None else self._failed
        oldest = self._head - size  # buckets up to this one are no longer held
        marks = sorted({n for n in lengths.values() if n not in memo})
        total = up = failed = 0
        step = 1
        for mark in marks:
            while step < mark:
                bucket = newest - step
                if oldest < bucket <= self._head:
                    i = bucket % size
                    total += tot[i]
                    up += ups[i]
                    failed += fails[i]
                step += 1
            memo[mark] = (total, up, failed)
        i = newest % size
        head = (tot[i], ups[i], fails[i]) if oldest < newest <= self._head else (0, 0, 0)
        out = []
        for w in windows:
            t, u, f = memo[lengths[w]]
            out.append((head[0] + t, head[1] + u, head[2] + f))
        return out


_ZERO_ARRAYS: dict[int, array[int]] = {}


def _zeros(size: int) -> array[int]:
    """A shared, never written array of ``size`` zero counts (the failed counts of
    buckets that keep none)."""
    found = _ZERO_ARRAYS.get(size)
    if found is None:
        found = _ZERO_ARRAYS[size] = array("I", bytes(4 * size))
    return found


class CheckRing:
    """A service's last ``capacity`` checks (history.recent_checks), oldest overwritten
    first, as columns (21 bytes a check, 29 once one had a certificate): 50 checks take
    1.6 KiB where a deque of CheckResult objects took 7.2 KiB (their floats and the
    objects; 5.5 MiB more at 1,000 services). Read back as CheckResults, oldest first."""

    __slots__ = ("_certs", "_codes", "_errors", "_latency", "_oks", "_start", "_ts", "capacity")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._ts = array("d")
        self._latency = array("d")  # NaN: no response
        self._codes = array("i")  # -1: no status code
        self._oks = bytearray()
        self._certs: array[float] | None = None  # NaN: none; None: no check had one
        self._errors: dict[int, str] = {}  # by slot: most checks have no error
        self._start = 0

    def __len__(self) -> int:
        return len(self._ts)

    def append(self, check: CheckResult) -> None:
        latency = _NAN if check.latency is None else check.latency
        code = -1 if check.status_code is None else check.status_code
        cert = _NAN if check.cert_days is None else check.cert_days
        if check.cert_days is not None and self._certs is None:
            self._certs = array("d", [_NAN]) * len(self._ts)
        n = len(self._ts)
        if n < self.capacity:
            i = n
            self._ts.append(check.ts)
            self._latency.append(latency)
            self._codes.append(code)
            self._oks.append(check.ok)
            if self._certs is not None:
                self._certs.append(cert)
        else:
            i = self._start
            self._start = (i + 1) % self.capacity
            self._ts[i] = check.ts
            self._latency[i] = latency
            self._codes[i] = code
            self._oks[i] = check.ok
            if self._certs is not None:
                self._certs[i] = cert
        if check.error is None:
            self._errors.pop(i, None)
        else:
            self._errors[i] = check.error

    def checks(self, service: str) -> list[CheckResult]:
        """The checks held, oldest first, as the CheckResults they were."""
        n = len(self._ts)
        certs = self._certs
        out = []
        for k in range(n):
            i = (self._start + k) % n
            latency, code = self._latency[i], self._codes[i]
            cert = _NAN if certs is None else certs[i]
            out.append(
                CheckResult(
                    service,
                    self._ts[i],
                    bool(self._oks[i]),
                    None if isnan(latency) else latency,
                    None if code < 0 else code,
                    self._errors.get(i),
                    None if isnan(cert) else cert,
                )
            )
        return out
