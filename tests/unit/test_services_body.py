"""`/api/services` at fleet size: the body is rendered once per store change, and then only
the services that changed are encoded again (server/services_body.py)."""

from __future__ import annotations

import asyncio
import json
import time

from support.clock import FakeClock
from support.loopgaps import held_gaps, within_slices
from support.waiting import eventually

from devmentor_monitor.config.schema import parse_text
from devmentor_monitor.model import CheckResult
from devmentor_monitor.runtime import Monitor
from devmentor_monitor.server import services_body
from devmentor_monitor.server.services_body import ServicesBody
from devmentor_monitor.server.shapes import service_json

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
    assert (held := within_slices(gaps, whole)) is None, held


def _thousand(clock: FakeClock) -> tuple[Monitor, list[str]]:
    names = [f"svc-{i:04d}" for i in range(1000)]
    services = "".join(f"\n  - name: {n}\n    url: http://127.0.0.1:1/{n}" for n in names)
    monitor = Monitor(parse_text(f"services:{services}\n"), serve=False, clock=clock)
    for n in names:
        monitor.intake.observe(CheckResult(n, clock.now, ok=True, latency=0.01))
    return monitor, names


async def _fail_all(monitor: Monitor, names: list[str]) -> None:
    """Every service gets a failed check, ten at a time, as replies come to the loop."""
    now = monitor.store.clock()
    for i, n in enumerate(names):
        monitor.intake.observe(CheckResult(n, now, ok=False, latency=None, error="x"))
        if i % 10 == 9:
            await asyncio.sleep(0)


def _scraped(body: ServicesBody) -> bytes:
    return b"".join(body.chunks())  # what a scrape sends, once `ready` returned


def test_changes_are_encoded_as_they_come_between_scrapes_without_holding_the_loop() -> None:
    """While scrapes keep coming, a burst of changes (every service checked at once) is
    encoded by the body's keeper, in slices, and a scrape soon after sends the new state
    with nothing left to encode."""
    clock = FakeClock()
    monitor, names = _thousand(clock)
    body = ServicesBody(monitor.store, monitor.queries)

    async def burst_then_scrape() -> bytes:
        await body.ready()  # the first scrape: built, and the keeper started
        clock.advance(10)
        await _fail_all(monitor, names)
        await eventually(lambda: body.encoded == 2000, what="every change encoded")
        encoded = body.encoded
        await body.ready()  # a scrape: the keeper did the work
        assert body.encoded == encoded
        return _scraped(body)

    try:
        sent, gaps = asyncio.run(held_gaps(burst_then_scrape()))
    finally:
        body.close()
    whole = time.thread_time()
    fresh = ServicesBody(monitor.store, monitor.queries).body()  # every service in one go
    whole = time.thread_time() - whole
    assert sent == fresh
    assert all(s["failures_total"] == 1 for s in json.loads(sent)["services"])
    assert (held := within_slices(gaps, whole)) is None, held


def test_a_scrape_after_a_quiet_spell_catches_up_without_holding_the_loop(monkeypatch) -> None:
    """No scrape for KEEP_S: the keeper has stopped, so the next scrape finds every service
    changed; it encodes them in slices before it answers, and answers the new state."""
    monkeypatch.setattr(services_body, "KEEP_S", 0.0)  # the keeper stops at once
    clock = FakeClock()
    monitor, names = _thousand(clock)
    body = ServicesBody(monitor.store, monitor.queries)

    async def scrape_after_quiet() -> bytes:
        await body.ready()
        await asyncio.sleep(0)
        clock.advance(10)
        await _fail_all(monitor, names)
        await eventually(lambda: body._keeper is not None and body._keeper.done(), what="stop")
        assert body.encoded == 1000  # nothing encoded since the first scrape
        await body.ready()
        return _scraped(body)

    try:
        sent, gaps = asyncio.run(held_gaps(scrape_after_quiet()))
    finally:
        body.close()
    assert body.encoded == 2000
    whole = time.thread_time()
    fresh = ServicesBody(monitor.store, monitor.queries).body()  # every service in one go
    whole = time.thread_time() - whole
    assert sent == fresh
    assert (held := within_slices(gaps, whole)) is None, held


def test_summaries_that_age_with_no_notice_are_sent_anew_while_scrapes_keep_coming(
    monkeypatch,
) -> None:
    """No check, no beat, nothing on the bus: time alone moves the uptime windows. While
    scrapes keep coming, the keeper encodes them again before the next scrape."""
    monkeypatch.setattr(services_body, "WAKE_S", 0.05)
    clock = FakeClock()
    monitor = _fleet(clock)
    for n in NAMES:
        monitor.intake.observe(CheckResult(n, clock.now, ok=True, latency=0.01))
    body = ServicesBody(monitor.store, monitor.queries)

    async def an_hour_later() -> bytes:
        await body.ready()
        clock.advance(3600 + monitor.store.SUMMARY_TTL)
        await eventually(lambda: body.encoded == 2 * len(NAMES), what="aged ones encoded")
        await body.ready()
        assert body.encoded == 2 * len(NAMES)  # nothing left for the scrape
        return _scraped(body)

    try:
        sent = asyncio.run(an_hour_later())
    finally:
        body.close()
    assert sent == ServicesBody(monitor.store, monitor.queries).body()
    assert json.loads(sent)["services"][0]["uptime_percent"]["1h"] is None


def test_a_scrape_right_after_a_change_shows_it() -> None:
    """The keeper encodes changes soon after they come, but a scrape does not wait for
    it: a container reported down, then a scrape at once, shows the service down."""
    clock = FakeClock()
    monitor = _fleet(clock)
    store = monitor.store
    for n in NAMES:
        monitor.intake.observe(CheckResult(n, clock.now, ok=True, latency=0.01))
    body = ServicesBody(store, monitor.queries)

    async def change_then_scrape() -> dict[str, object]:
        await body.ready()
        await asyncio.sleep(0)  # the keeper is waiting for changes
        store.set_workload_down("svc-05", "container api exited")
        await body.ready()
        return json.loads(_scraped(body))

    try:
        got = asyncio.run(change_then_scrape())
    finally:
        body.close()
    assert got["services"][5]["status"] == "down"
    assert got["counts"]["down"] == 1


def test_the_body_is_each_service_as_the_api_shows_it_secrets_masked() -> None:
    """The kept body holds each service as /api/services/<name> shows it (service_json),
    text beyond ASCII too, and a URL's password never in it, however often it is encoded."""
    services = (
        "\n  - name: cafe\n    url: http://ops:hunter2@127.0.0.1:1/x"
        "\n  - name: plain\n    url: http://127.0.0.1:1/y?token=s3cret&a=1"
    )
    clock = FakeClock()
    monitor = Monitor(parse_text(f"services:{services}\n"), serve=False, clock=clock)
    body = ServicesBody(monitor.store, monitor.queries)
    for round_ in range(3):  # encoded again on each check
        clock.advance(10)
        for name in ("cafe", "plain"):
            ok = round_ != 1
            error = None if ok else "Verbindung abgelehnt – café ☕"
            monitor.intake.observe(CheckResult(name, clock.now, ok=ok, latency=0.01, error=error))
        sent = body.body()
        q = monitor.queries
        expected = [
            service_json(monitor.store.service(n), q.flap_state(n), q.burn_rates(n))
            for n in ("cafe", "plain")
        ]
        assert json.loads(sent)["services"] == json.loads(json.dumps(expected))
        assert b"hunter2" not in sent
        assert b"s3cret" not in sent
        if round_ == 1:
            assert json.loads(sent)["services"][0]["last_check"]["error"] == (
                "Verbindung abgelehnt – café ☕"
            )
    shown = json.loads(sent)["services"]
    assert shown[0]["url"] == "http://ops:***@127.0.0.1:1/x"
    assert shown[1]["url"] == "http://127.0.0.1:1/y?token=***&a=1"
