"""HealthSource.own (issue 20): only the owned share is checked; a service that comes
into the share is checked an interval after its last check anywhere (at once if never),
so within one interval and not twice in one; one that leaves is checked no more. Real
HTTP endpoints on loopback (tests/support/counting.py), in the test's event loop."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest
from support.counting import CountingStub
from support.waiting import eventually

from devmentor_monitor.config.schema import ServiceConfig
from devmentor_monitor.health.checker import HealthSource
from devmentor_monitor.model import CheckResult
from devmentor_monitor.observations import EventsAccepted, Observation

pytestmark = pytest.mark.integration


class Recorder:
    def __init__(self) -> None:
        self.results: list[CheckResult] = []

    def observe(self, obs: Observation) -> None:
        if isinstance(obs, CheckResult):
            self.results.append(obs)

    async def observe_durable(self, obs: EventsAccepted) -> None:  # pragma: no cover
        pass


async def test_own_checks_the_share_only_and_takes_a_moved_one_on_its_phase() -> None:
    stub = CountingStub(6)
    services = [
        ServiceConfig(name=f"s{i}", url=stub.url(i), interval=1.0, timeout=0.8) for i in range(6)
    ]
    source = HealthSource(services, 4, owned=False)
    shared: list[CheckResult] = []
    source.share = shared.append
    recorder = Recorder()
    task = asyncio.create_task(source.run(recorder))
    try:
        await asyncio.sleep(0.3)
        assert not stub.hits  # in a fleet, nothing before the share is known
        source.own({"s0", "s1", "s2"})
        await eventually(lambda: all(stub.last(i) for i in range(3)), 1.0, "the share checked")
        await asyncio.sleep(2.0)
        assert all(not stub.hits[stub.path(i)] for i in (3, 4, 5))  # never checked here
        assert {r.service for r in shared} == {"s0", "s1", "s2"}  # each result shared
        assert len(shared) == len(recorder.results)

        # s3 was checked elsewhere just now, s4 never: s4 at once, s3 an interval on
        moved = time.monotonic()
        source.own({"s0", "s1", "s2", "s3", "s4"}, {"s3": time.time()})
        await eventually(lambda: stub.last(4) > moved, 0.4, "s4 checked at once")
        await eventually(lambda: stub.last(3) > moved, 1.4, "s3 checked within an interval")
        assert stub.last(3) - moved >= 0.8  # not twice in one interval fleet-wide
        assert not stub.hits[stub.path(5)]

        # s0-s2 leave the share: checked no more (one already under way may finish)
        source.own({"s3", "s4"})
        left = time.monotonic() + 0.1
        await asyncio.sleep(2.2)
        assert all(stub.last(i) < left for i in range(3))
        assert all(stub.last(i) > left + 1.0 for i in (3, 4))  # still going
        assert source.check_now("s0")  # known, but another instance's: not checked here
        await asyncio.sleep(0.3)
        assert stub.last(0) < left
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        stub.close()
