"""`/api/services` at fleet size: the body is rendered once per store change, and then only
the services that changed are encoded again (server/services_body.py)."""

from __future__ import annotations

import json

from support.clock import FakeClock

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
