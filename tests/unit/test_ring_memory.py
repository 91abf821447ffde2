"""Compact per-service histories (issue 19: RSS at 1,000 services): the recent checks kept
as columns (rings.CheckRing) come back as recorded, oldest first, the oldest dropped once
full, at a fraction of the memory of CheckResult objects; the window counters' 2-byte
counts widen rather than wrap."""

from __future__ import annotations

import tracemalloc

from devmentor_monitor.model import CheckResult
from devmentor_monitor.rings import CheckRing


def check(i: int) -> CheckResult:
    """Every shape a check takes: passed, failed without a response, with a certificate."""
    if i % 3 == 1:
        return CheckResult("api", 1000.0 + i, False, None, None, f"timeout #{i}")
    cert = 12.5 + i if i % 3 == 2 else None
    return CheckResult("api", 1000.0 + i, True, 0.001 * i, 200 + i % 2, None, cert)


def test_checks_come_back_as_recorded_oldest_first_and_the_oldest_go():
    ring = CheckRing(5)
    assert ring.checks("api") == []
    for i in range(3):
        ring.append(check(i))
    assert ring.checks("api") == [check(i) for i in range(3)]
    for i in range(3, 12):  # wraps: an error of a dropped check does not linger
        ring.append(check(i))
    assert len(ring) == 5
    assert ring.checks("api") == [check(i) for i in range(7, 12)]


def test_fifty_checks_take_a_quarter_of_what_the_objects_did():
    def held(make) -> int:
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        kept = [make() for _ in range(100)]  # 100 services
        used = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        assert kept
        return used

    def objects() -> list[CheckResult]:
        return [CheckResult("api", 1e9 + i, True, 0.002 + i * 1e-6, 200) for i in range(50)]

    def columns() -> CheckRing:
        ring = CheckRing(50)
        for i in range(50):
            ring.append(CheckResult("api", 1e9 + i, True, 0.002 + i * 1e-6, 200))
        return ring

    # 1.6 KiB a service against 7.2 KiB (measured): 5.5 MiB less at 1,000 services.
    assert held(columns) * 4 < held(objects)


def test_check_counts_past_two_bytes_widen_and_stay_exact():
    """The window counters count in 2 bytes a bucket until one passes 65,535 (a check
    every 55 ms or less into one hour), then in 4: nothing is lost or wrapped."""
    from devmentor_monitor.rings import WindowCounter

    counter = WindowCounter()
    t0 = 1_800_000_000.0  # a whole hour
    for i in range(70_000):
        counter.add(t0 + i * 0.05, up=i % 1000 != 0, failed=i % 1000 == 0)
    assert counter.totals(t0 + 3599, 3600) == (70_000, 69_930, 70)
    counter.restore([], [(t0 - 3600, 65_000, 65_000, 0), (t0, 1_000, 1_000, 0)])
    assert counter.totals(t0 + 3599, 2 * 86400) == (136_000, 135_930, 70)
