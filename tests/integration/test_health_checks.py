"""Health checks against real HTTP(S) servers on loopback, in the test's event loop."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import pytest
from msgspec.structs import replace
from support.certs import self_signed
from support.http import HealthServer
from support.waiting import eventually

from devmentor_monitor.config.schema import ServiceConfig
from devmentor_monitor.demo.fleet import free_port
from devmentor_monitor.health.checker import HealthChecker, HealthSource
from devmentor_monitor.model import CheckResult
from devmentor_monitor.observations import EventsAccepted, Observation

pytestmark = pytest.mark.integration


class Recorder:
    """An intake that keeps the check results it is given."""

    def __init__(self) -> None:
        self.results: list[CheckResult] = []

    def observe(self, obs: Observation) -> None:
        if isinstance(obs, CheckResult):
            self.results.append(obs)

    async def observe_durable(self, obs: EventsAccepted) -> None:  # pragma: no cover
        pass


def svc(url: str, **kw) -> ServiceConfig:
    base = ServiceConfig(
        name="api", url=url, interval=1.0, timeout=1.0, expect_body=(("status", "ok"),)
    )
    return replace(base, **kw)


async def test_body_conditions_and_status_are_checked():
    checker = HealthChecker(4)
    async with HealthServer() as server:
        ok = await checker.check(
            svc(server.url(), expect_body=(("status", "ok"), ("checks.db", "up")))
        )
        assert ok.ok
        assert ok.status_code == 200
        assert ok.latency > 0
        server.body = {"status": "degraded", "checks": {}}
        bad = await checker.check(
            svc(server.url(), expect_body=(("status", "ok"), ("checks.db", "up")))
        )
        assert not bad.ok
        assert "body.status is 'degraded', want 'ok'" in bad.error
        assert "body.checks.db missing" in bad.error
        server.status = 500
        err = await checker.check(svc(server.url()))
        assert err.error.startswith("HTTP 500 Internal Server Error, want 200")
    await checker.close()


async def test_timeout_and_refused_are_reasons_not_exceptions():
    checker = HealthChecker(4)
    async with HealthServer() as server:
        server.delay = 1.0
        slow = await checker.check(svc(server.url(), timeout=0.2))
        assert not slow.ok
        assert slow.error == "timeout after 0.2 s"
        assert slow.latency is None
    refused = await checker.check(svc(f"http://127.0.0.1:{free_port()}/health"))
    assert refused.error == "connection refused"
    dns = await checker.check(svc("http://no-such-host.invalid/health"))
    assert dns.error.startswith("DNS:")
    await checker.close()


async def test_requests_in_flight_are_bounded():
    async with HealthServer() as server:
        server.delay = 0.05
        services = [svc(server.url(f"/s{i}/health"), name=f"s{i}", interval=0.2) for i in range(30)]
        source = HealthSource(services, max_in_flight=3)
        sink = Recorder()
        task = asyncio.create_task(source.run(sink))
        await eventually(lambda: len(sink.results) >= 60, 10, "60 results")
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert len(sink.results) >= 60
    assert server.total_max == 3  # saturated, never above the bound


async def test_the_first_round_goes_out_at_once_and_later_rounds_are_spread():
    """Issue 19: the screen waits for the first round, so every service is asked at once
    (up to max_in_flight); after that each keeps its phase, 10 ms apart, never one burst."""
    async with HealthServer() as server:
        server.delay = 0.15  # well under the 0.4 s spread (checks go out each 0.1 s tick)
        n = 40  # spread: 10 ms apart, 0.4 s in all (longer than a request)
        services = [svc(server.url(f"/s{i}/health"), name=f"s{i}", interval=2.0) for i in range(n)]
        source = HealthSource(services, max_in_flight=n)
        sink = Recorder()
        task = asyncio.create_task(source.run(sink))
        await eventually(lambda: len(sink.results) >= n, 10, "the first round")
        first_max, server.total_max = server.total_max, 0
        await eventually(lambda: len(sink.results) >= 2 * n, 10, "the second round")
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert first_max == n  # all in flight together
    assert server.total_max < n  # the second round is spread over 0.4 s


async def test_checks_of_one_service_never_overlap():
    async with HealthServer() as server:
        server.delay = 0.5  # slower than the interval
        source = HealthSource([svc(server.url(), interval=0.1, timeout=2.0)], max_in_flight=10)
        sink = Recorder()
        task = asyncio.create_task(source.run(sink))
        await eventually(lambda: len(sink.results) >= 3, 10, "3 results")
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert len(sink.results) >= 3
    assert server.max_in_flight["/health"] == 1


async def test_check_now_jumps_the_queue():
    async with HealthServer() as server:
        source = HealthSource([svc(server.url(), interval=3600)], max_in_flight=2)
        sink = Recorder()
        task = asyncio.create_task(source.run(sink))
        await eventually(lambda: sink.results, 5, "the first result")
        assert source.check_now("api")
        assert not source.check_now("nope")
        await eventually(lambda: len(sink.results) >= 2, 5, "the second result")
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert len(sink.results) == 2


@pytest.fixture
def tls_context(tmp_path: Path) -> tuple[ssl.SSLContext, Path]:
    cert, key = self_signed(tmp_path)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx, cert


async def test_tls_certificate_days_left(tls_context):
    ctx, cert = tls_context
    checker = HealthChecker(2)
    async with HealthServer(ssl_context=ctx) as server:
        verified = await checker.check(svc(server.url(), ca_file=str(cert)))
        assert verified.ok, verified.error
        assert verified.cert_days == pytest.approx(30, abs=0.1)
        unverified = await checker.check(svc(server.url(), tls_verify=False))
        assert unverified.cert_days == pytest.approx(30, abs=0.1)
        untrusted = await checker.check(svc(server.url()))
        assert not untrusted.ok
        assert untrusted.error.startswith("TLS:")
    await checker.close()


async def test_a_check_that_breaks_does_not_stop_the_others(caplog):
    """The checks run in max_in_flight workers: one whose result cannot be taken (a bug
    downstream) is logged, and the worker goes on with the next checks."""

    class Breaks(Recorder):
        def observe(self, obs: Observation) -> None:
            if isinstance(obs, CheckResult) and not self.results:
                self.results.append(obs)
                raise RuntimeError("the first result cannot be taken")
            super().observe(obs)

    async with HealthServer() as server:
        services = [svc(server.url(f"/s{i}/health"), name=f"s{i}", interval=0.2) for i in range(3)]
        source = HealthSource(services, max_in_flight=1)  # one worker: it must go on
        sink = Breaks()
        task = asyncio.create_task(source.run(sink))
        await eventually(lambda: len(sink.results) >= 9, 10, "9 results")
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert {r.service for r in sink.results} == {"s0", "s1", "s2"}
    assert "health check failed" in caplog.text
