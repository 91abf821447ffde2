"""`/api/services` at fleet size: the body is rendered once per store change, and then only
the services that changed are encoded again (server/services_body.py)."""

from __future__ import annotations

import asyncio
import json
import time

from support.clock import FakeClock
from support.loopgaps import held_gaps

from devmentor_monitor.config.schema import parse_text
from devmentor_monitor.model import CheckResult
from devmentor_monitor.runtime import Monitor
from devmentor_monitor.server.services_body import ServicesBody

NAMES = [f"svc-{i:02d}" for i in range(40)]


def test_a_scrape_reencodes_only_the_service_that_got_a_check() -> None:
    services = "".join(f"\n  - name: {n}\n    url: http://127.0.0.1:1/{n}" for n in NAMES)
    clock = FakeClock()
    monitor = Monitor(parse_text(f"services:{services}\n"), serve=False, clock=clock)
    for n in NAMES:
        monitor.intake.observe(CheckResult(n, clock.now, ok=True, latency=0.01))
    body = ServicesBody(monitor.store, monitor.queries)
    first = body.body()
    assert body.encoded == 40
    assert body.body() is first  # nothing changed: the same bytes, nothing encoded
    clock.now += 5
    monitor.intake.observe(CheckResult("svc-03", clock.now, ok=False, latency=None, error="x"))
    second = body.body()
    assert body.encoded == 41  # only svc-03 again
    shown = {s["name"]: s for s in json.loads(second)["services"]}
    assert list(shown) == NAMES
    assert shown["svc-03"]["checks_total"] == 2
    assert shown["svc-03"]["failures_total"] == 1
    assert json.loads(second)["counts"] == json.loads(first)["counts"]  # 1 failure: still up
    assert json.loads(second)["services"][4] == json.loads(first)["services"][4]


def _fleet(clock: FakeClock) -> Monitor:
    services = "".join(f"\n  - name: {n}\n    url: http://127.0.0.1:1/{n}" for n in NAMES)
    return Monitor(parse_text(f"services:{services}\n"), serve=False, clock=clock)


def test_the_kept_body_never_goes_stale_after_a_service_changes() -> None:
    """Whatever changed (a check, a container stopping and starting, time passing with no
    check), the kept body equals one rendered afresh from the store."""
    clock = FakeClock()
    monitor = _fleet(clock)
    store = monitor.store
    for n in NAMES:
        monitor.intake.observe(CheckResult(n, clock.now, ok=True, latency=0.01))
    kept = ServicesBody(store, monitor.queries)

    def fresh() -> dict[str, object]:
        return json.loads(ServicesBody(store, monitor.queries).body())

    assert json.loads(kept.body()) == fresh()
    clock.advance(3)
    for _ in range(3):  # svc-07 goes down: 3 failures in a row
        monitor.intake.observe(CheckResult("svc-07", clock.now, ok=False, latency=None, error="x"))
    got = json.loads(kept.body())
    assert got == fresh()
    assert got["counts"]["down"] == 1
    assert got["services"][7]["status"] == "down"
    store.set_workload_down("svc-11", "container api exited")
    got = json.loads(kept.body())
    assert got == fresh()
    assert got["counts"]["down"] == 2
    assert got["services"][11]["workload_down"] == "container api exited"
    store.set_workload_down("svc-11", None)
    assert json.loads(kept.body())["counts"]["down"] == 1
    encoded = kept.encoded
    clock.advance(store.SUMMARY_TTL + 1)  # no check at all: summaries derived again
    got = json.loads(kept.body())
    assert kept.encoded == encoded + len(NAMES)  # every summary was derived again
    assert got == fresh()
    clock.advance(3600)  # an hour on: the last hour holds no check any more
    got = json.loads(kept.body())
    assert got == fresh()
    assert got["services"][0]["uptime_percent"]["1h"] is None


def test_the_first_body_at_1000_services_is_built_without_holding_the_loop() -> None:
    """The first scrape encodes every service: in slices (ready), the loop is free every
    few ms of CPU meanwhile, and the body is the one built in one go."""
    names = [f"svc-{i:04d}" for i in range(1000)]
    services = "".join(f"\n  - name: {n}\n    url: http://127.0.0.1:1/{n}" for n in names)
    clock = FakeClock()
    monitor = Monitor(parse_text(f"services:{services}\n"), serve=False, clock=clock)
    for n in names:
        monitor.intake.observe(CheckResult(n, clock.now, ok=True, latency=0.01))
    sliced = ServicesBody(monitor.store, monitor.queries)

    whole = time.thread_time()
    expected = ServicesBody(monitor.store, monitor.queries).body()
    whole = time.thread_time() - whole
    _, gaps = asyncio.run(held_gaps(sliced.ready()))
    assert sliced.body() == expected
    assert sliced.encoded == 1000  # built once, by ready; body() had nothing left to do
    assert whole > 0.02, f"the build took only {whole * 1000:.1f} ms: too small to tell"
    assert max(gaps) < 0.008, f"the loop was held {max(gaps) * 1000:.1f} ms at once"
