"""The prediction step at 1,000 services gives the event loop back while it runs
(slices.py): whatever else waits on the loop (a scrape, a check's reply, the screen)
waits for one slice, not for the whole step; and the step derives the same as in one go.

Gaps are taken in the loop thread's CPU time, so a busy machine does not move them.
"""

from __future__ import annotations

import asyncio
import random
import time

from support.clock import T0, FakeClock
from support.loopgaps import held_gaps, within_slices

from devmentor_monitor.config.schema import parse_text
from devmentor_monitor.events.model import Event, EventSeverity
from devmentor_monitor.model import CheckResult
from devmentor_monitor.predictions.engine import EVENT_SLOT, PredictionEngine
from devmentor_monitor.slices import in_slices
from devmentor_monitor.store import Store

SERVICES = 1000
CHECKS = 30  # per service, 10 s apart
WARM_SLOTS = 20  # event slots fed before the one measured: the detectors have learnt


def fleet() -> tuple[Store, PredictionEngine]:
    lines = ["services:"]
    for i in range(SERVICES):
        lines += [f"  - name: svc-{i:04d}", f"    url: http://127.0.0.1:1/svc/{i}/health"]
    config = parse_text("\n".join(lines) + "\n")
    clock = FakeClock(T0)
    store = Store(config, clock=clock)
    rng = random.Random(5)
    for k in range(CHECKS):
        clock.now = T0 + 10 * k
        for i in range(SERVICES):
            latency = 0.01 * (1 + 0.1 * rng.gauss(0, 1))
            store.record_check(CheckResult(f"svc-{i:04d}", clock.now, True, latency, 200))
    return store, PredictionEngine(store, config, clock=clock)


def test_a_step_at_1000_services_leaves_the_loop_free_every_few_ms() -> None:
    store, engine = fleet()
    twin_store, twin = fleet()
    whole = time.thread_time()
    twin.step()
    whole = time.thread_time() - whole
    _, gaps = asyncio.run(held_gaps(in_slices(engine.stepping())))
    # In one go the step holds the loop for all of its time; in slices, for ~1 ms each.
    assert whole > 0.02, f"the step took only {whole * 1000:.1f} ms: too small to tell"
    assert len(gaps) > 10
    assert (held := within_slices(gaps, whole)) is None, held
    assert store.anomaly_scores() == twin_store.anomaly_scores()
    assert store.prediction_status["series"] == twin_store.prediction_status["series"] == 2000


def _with_events(store: Store, rng: random.Random) -> None:
    """Events of a type of its own from each service, 0-4 in the slot: the event log
    counts the first 200 types and services (EventLog.max_keys), a series each, fed every
    EVENT_SLOT."""
    now = store.clock()
    store.record_events(
        [
            Event(now - 5, f"job.kind{i:04d}", f"svc-{i:04d}", EventSeverity.INFO, "ran")
            for i in range(SERVICES)
            for _ in range(rng.randrange(5))
        ]
    )


def test_the_event_rates_are_fed_a_series_at_a_time() -> None:
    """Every EVENT_SLOT the step feeds the event log's rates, ~400 series at 1,000
    services: that was one unit of the step, with the event series looked for among all
    2,400 series twice (3-4.7 ms every 10 s, more than the rest of the step's units
    together). Each unit is small now: the step run with a yield after every unit."""
    store, engine = fleet()
    twin_store, twin = fleet()
    for n in range(WARM_SLOTS + 1):
        for s, e in ((store, engine), (twin_store, twin)):
            s.clock.now += EVENT_SLOT  # type: ignore[attr-defined]
            _with_events(s, random.Random(n))
            if n < WARM_SLOTS:
                e.step()
    whole = time.thread_time()
    twin.step()  # the events' slot again, and little else
    whole = time.thread_time() - whole
    _, gaps = asyncio.run(held_gaps(in_slices(engine.stepping(), budget=0)))
    assert max(gaps) < whole / 3, f"a unit took {max(gaps) * 1000:.2f} of {whole * 1000:.2f} ms"
    events = [k for k in store.anomaly_scores() if k.startswith("events:")]
    assert len(events) > 400
    assert store.anomaly_scores() == twin_store.anomaly_scores()
