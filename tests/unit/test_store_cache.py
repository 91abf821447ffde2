"""Store.services() at fleet size: a service's figures are derived again only when it got a
check (or a minute passed), so a 1 s redraw of 1,000 services does not redo 1,000 windows."""

from __future__ import annotations

from support.clock import FakeClock

from devmentor_monitor.config.schema import parse_text
from devmentor_monitor.model import CheckResult
from devmentor_monitor.store import Store

NAMES = [f"svc-{i:02d}" for i in range(40)]


def fleet() -> tuple[Store, FakeClock]:
    services = "".join(f"\n  - name: {n}\n    url: http://127.0.0.1:1/{n}" for n in NAMES)
    clock = FakeClock()
    return Store(parse_text(f"services:{services}\n"), clock=clock), clock


def test_untouched_services_keep_their_summary_and_a_checked_one_is_derived_again() -> None:
    store, clock = fleet()
    for n in NAMES:
        store.record_check(CheckResult(n, clock.now, ok=True, latency=0.01))
    first = store.services()
    clock.now += 5.0  # ticks pass with no checks: nothing is derived again
    assert all(a is b for a, b in zip(first, store.services(), strict=True))
    store.record_check(CheckResult("svc-07", clock.now, ok=False, latency=None, error="refused"))
    clock.now += 1.0
    second = store.services()
    changed = [s.name for a, s in zip(first, second, strict=True) if a is not s]
    assert changed == ["svc-07"]
    assert second[7].failures_total == 1
    assert second[7].checks_total == 2


def test_an_untouched_summary_is_derived_again_after_a_minute() -> None:
    """Its windows slide with the clock: an hour without checks empties the 1 h figures."""
    store, clock = fleet()
    store.record_check(CheckResult("svc-00", clock.now, ok=True, latency=0.01))
    before = store.service("svc-00")
    assert before.uptime_1h == 100.0
    clock.now += 30.0
    assert store.service("svc-00") is before
    clock.now += 2 * 3600
    after = store.service("svc-00")
    assert after is not before
    assert after.uptime_1h is None
