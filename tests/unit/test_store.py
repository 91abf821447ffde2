"""The store's derived figures: thresholds, uptime windows, percentiles, SLO budget, bounds."""

from __future__ import annotations

import random

import pytest
from support.clock import T0, FakeClock

from devmentor_monitor.config.schema import SLO, parse_text
from devmentor_monitor.health.percentiles import percentile
from devmentor_monitor.model import CheckResult, Health
from devmentor_monitor.rings import Ring, WindowCounter
from devmentor_monitor.store import Store


def make_store(extra: str = "", **svc: str) -> tuple[Store, FakeClock]:
    fields = "".join(f"\n    {k}: {v}" for k, v in svc.items())
    cfg = parse_text(f"""
{extra}
services:
  - name: api
    url: http://127.0.0.1:1/health{fields}
""")
    clock = FakeClock()
    return Store(cfg, clock=clock), clock


def check(clock: FakeClock, ok: bool, latency: float = 0.01, step: float = 10.0) -> CheckResult:
    clock.now += step
    return CheckResult(
        "api",
        clock.now,
        ok=ok,
        latency=latency if ok else None,
        error=None if ok else "connection refused",
    )


def test_down_only_after_failure_threshold_and_up_after_success_threshold():
    store, clock = make_store(failure_threshold="3", success_threshold="2")
    assert store.record_check(check(clock, True)) is Health.UP  # first result decides
    assert store.record_check(check(clock, False)) is None
    assert store.record_check(check(clock, False)) is None
    assert store.service("api").status is Health.UP
    assert store.record_check(check(clock, False)) is Health.DOWN
    assert store.record_check(check(clock, True)) is None  # 1 of 2 successes
    assert store.service("api").status is Health.DOWN
    assert store.record_check(check(clock, True)) is Health.UP


def test_down_confirmed_needs_failure_threshold_or_a_stopped_workload():
    store, clock = make_store(failure_threshold="3")
    assert store.first_check_at("api") is None
    assert store.record_check(check(clock, False)) is Health.DOWN  # cold start: shown at once
    first = clock.now
    assert store.service("api").status is Health.DOWN
    assert not store.down_confirmed("api")
    store.record_check(check(clock, False))
    assert not store.down_confirmed("api")
    store.record_check(check(clock, False))
    assert store.down_confirmed("api")
    assert store.first_check_at("api") == first
    store.record_check(check(clock, True))
    assert store.status("api") is Health.UP
    assert not store.down_confirmed("api")
    store.set_workload_down("api", "container exited")
    assert store.down_confirmed("api")


def test_a_success_resets_the_failure_count():
    store, clock = make_store(failure_threshold="2")
    store.record_check(check(clock, True))
    for _ in range(5):  # fail, ok, fail, ok: flapping never reaches two in a row
        store.record_check(check(clock, False))
        store.record_check(check(clock, True))
    assert store.service("api").status is Health.UP


def test_slow_answer_is_degraded_against_slo_response_time():
    store, clock = make_store(slo="{uptime: 99, response_time: 100ms, error_rate: 1}")
    store.record_check(check(clock, True, latency=0.050))
    assert store.service("api").status is Health.UP
    store.record_check(check(clock, True, latency=0.250))
    assert store.service("api").status is Health.DEGRADED


def test_uptime_windows_and_error_rate():
    store, clock = make_store(failure_threshold="1")
    # 23 h ago: an hour down (360 checks at 10 s), then 22 h up.
    clock.now = T0
    for _ in range(360):
        store.record_check(check(clock, False))
    for _ in range(22 * 360):
        store.record_check(check(clock, True))
    s = store.service("api")
    assert s.uptime_1h == 100.0
    assert s.error_rate_1h == 0.0
    assert s.uptime_24h == pytest.approx(100 * 22 / 23, abs=0.2)
    assert s.uptime_7d == pytest.approx(100 * 22 / 23, abs=0.2)
    assert s.checks_total == 23 * 360
    assert s.failures_total == 360


def test_error_budget_and_compliance():
    store, clock = make_store(
        failure_threshold="1", slo="{uptime: 99.0, response_time: 200ms, error_rate: 5}"
    )
    for i in range(1000):  # 5 of 1000 checks down: 0.5 % of a 1 % budget spent
        store.record_check(check(clock, i % 200 != 0, step=1))
    s = store.service("api")
    assert s.uptime_7d == pytest.approx(99.5)
    assert s.error_budget_remaining == pytest.approx(0.5)
    assert s.slo_compliant is True
    for _ in range(20):  # now 25 of 1020 down: 2.45 %, budget overspent
        store.record_check(check(clock, False, step=1))
    s = store.service("api")
    assert s.error_budget_remaining < 0
    assert s.slo_compliant is False


def test_latency_percentiles_over_last_hour():
    store, clock = make_store()
    for ms in range(1, 101):
        store.record_check(check(clock, True, latency=ms / 1000, step=1))
    s = store.service("api")
    assert s.latency_p50 == pytest.approx(0.050)
    assert s.latency_p95 == pytest.approx(0.095)
    assert s.latency_p99 == pytest.approx(0.099)
    clock.now += 2 * 3600  # an hour later with no checks: no percentiles to speak of
    store.SUMMARY_TTL = 0
    assert store.service("api").latency_p95 is None


def test_percentile_nearest_rank():
    assert percentile([1.0], 0.99) == 1.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.0
    with pytest.raises(ValueError, match="no values"):
        percentile([], 0.5)


def test_ring_is_bounded_and_ordered():
    ring = Ring(5)
    for i in range(12):
        ring.append(float(i), float(i * 10))
    assert len(ring) == 5
    assert list(ring) == [(float(i), float(i * 10)) for i in range(7, 12)]
    assert ring.last() == (11.0, 110.0)
    assert ring.since(9.0) == ([9.0, 10.0, 11.0], [90.0, 100.0, 110.0])


def test_service_history_memory_is_capped_by_config():
    store, clock = make_store("history: {service_points: 100, recent_checks: 7}")
    for _ in range(1000):
        store.record_check(check(clock, True, step=1))
    assert len(store.latency_history("api")) == 100
    assert len(store.recent_checks("api")) == 7


def test_window_counter_forgets_old_buckets():
    wc = WindowCounter()
    wc.add(T0, up=False, failed=True)
    assert wc.totals(T0, 3600) == (1, 0, 1)
    # Two days later the same minute slot is reused: the old count must not leak in.
    later = T0 + 2 * 86400
    wc.add(later, up=True, failed=False)
    assert wc.totals(later, 3600) == (1, 1, 0)
    assert wc.totals(later, 7 * 86400) == (2, 1, 1)


def test_window_counter_counts_checks_after_the_clock_stepped_back():
    """The clock steps back past the minute buckets' span (3 h: NTP, a VM resumed): the
    checks made after the step count at once (they were all dropped until the clock caught
    up with the old newest bucket, hiding a 1 h outage from uptime and burn rates)."""
    wc = WindowCounter()
    now = T0 + 10 * 86400
    wc.add(now, up=True, failed=False)
    back = now - 2 * WindowCounter.MINUTES * 60  # the clock now reads 6 h earlier
    for k in range(60):
        wc.add(back + k * 60, up=False, failed=True)
    at = back + 59 * 60  # the last of them
    assert wc.totals(at, 3600)[2] >= 59  # the hour's failures (to the minute bucket)
    assert wc.totals(at, 86400)[2] == 60


def test_window_counter_sums_match_a_plain_count_of_every_check():
    """Every window's sums equal a plain count of the checks in its buckets, through 40
    days of checks: all up at first (totals only kept), then downs and failures (the up
    and failed counts kept apart from then on), gaps longer than a bucket span included."""
    rng = random.Random(7)
    wc = WindowCounter()
    checks: list[tuple[float, bool, bool]] = []
    ts = T0
    windows = (300.0, 3600.0, 3 * 3600.0, 6 * 3600.0, 86400.0, 7 * 86400.0, 30 * 86400.0)
    for n in range(4000):
        ts += rng.choice((7.0, 61.0, 900.0, 3700.0)) if n != 2500 else 4 * 3600.0
        up = n < 1500 or rng.random() > 0.2
        failed = not up or (n >= 1500 and rng.random() < 0.1)
        wc.add(ts, up=up, failed=failed)
        checks.append((ts, up, failed))
        if n % 97 == 0 or n == 1499:
            for window in windows:
                width = 60 if window <= WindowCounter.SHORT else 3600
                newest = int(ts // width)
                span = round(window / width)
                held = [c for c in checks if newest - span < int(c[0] // width) <= newest]
                expected = (len(held), sum(c[1] for c in held), sum(c[2] for c in held))
                assert wc.totals(ts, window) == expected, (n, window)


async def test_subscribers_get_coalesced_topics():
    store, clock = make_store()
    sub = store.bus.subscribe()
    for _ in range(50):
        store.record_check(check(clock, True))
    assert await sub.wait() == {"service:api"}
    assert sub.take() == set()
    sub.close()
    store.record_check(check(clock, True))
    assert sub.take() == set()


def test_slo_dataclass_values_from_shipped_config():
    from devmentor_monitor.config.schema import load_config

    cfg = load_config(env={})
    assert cfg.service("auth").slo == SLO(99.9, 0.2, 0.1)


def test_ring_extend_keeps_the_newest_and_the_order():
    ring = Ring(5)
    ring.extend([1.0, 2.0], [10.0, 20.0])
    ring.append(3.0, 30.0)
    ring.extend([4.0, 5.0, 6.0, 7.0], [40.0, 50.0, 60.0, 70.0])
    assert list(ring) == [(float(i), i * 10.0) for i in range(3, 8)]
    ring.append(8.0, 80.0)  # and appends go on after a wrap
    assert ring.last() == (8.0, 80.0)
    assert len(ring) == 5


def test_window_counter_sums_follow_every_write():
    """The sums of older buckets are kept between reads: a write to an older bucket (a
    late check, a refill from history) must show in the next read."""
    wc = WindowCounter()
    now = T0 + 10 * 86400
    wc.add(now, up=True, failed=False)
    assert wc.totals(now, 30 * 86400) == (1, 1, 0)
    wc.add(now - 5 * 86400, up=False, failed=True)  # late, into a bucket days back
    assert wc.totals(now, 30 * 86400) == (2, 1, 1)
    wc.restore([], [(now - 20 * 86400, 10, 4, 6)])
    assert wc.totals(now, 30 * 86400) == (12, 5, 7)
    assert wc.totals(now, 7 * 86400) == (2, 1, 1)
    assert wc.totals(now + 3600, 30 * 86400) == (12, 5, 7)  # an hour on: still all there


def test_a_thousand_healthy_services_fit_in_a_few_kib_each():
    """Issue 19 (RSS under 75 MiB with 1,000 services): what the store holds per service
    after its first checks, all up: 20 KiB before, when the check counters alone took
    18 KiB (an id and three counts per bucket slot); 3.6 KiB now while every check was up."""
    import gc
    import tracemalloc

    lines = ["services:"]
    for i in range(1000):
        lines += [f"  - name: svc-{i:04d}", f"    url: http://127.0.0.1:9/svc/{i}/health"]
    cfg = parse_text("\n".join(lines) + "\n")
    clock = FakeClock()
    gc.collect()
    tracemalloc.start()
    try:
        store = Store(cfg, clock=clock)
        for n in range(3):
            clock.now += 10.0
            for svc in cfg.services:
                store.record_check(CheckResult(svc.name, clock.now + n, ok=True, latency=0.002))
        gc.collect()
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert store.service("svc-0999").uptime_1h == 100.0
    assert held / 1000 < 8 * 1024, f"{held / 1000 / 1024:.1f} KiB a service (20 before)"
