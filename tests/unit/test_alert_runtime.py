"""The runtime's alert wiring (issue 14): check results feed flap detection, the alert
loop's step pages through the durable outbox once per outage, and a monitor built again
on the same data directory (a restart mid-outage) neither pages again nor forgets.

A real `Monitor` (no sources, no exporter started) on a real SQLite file; the test plays
the alert loop's step (`evaluate` then `_dispatch`) with a fake clock."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from support.clock import FakeClock

from devmentor_monitor.config.schema import parse_text
from devmentor_monitor.model import CheckResult
from devmentor_monitor.runtime import Monitor

CONFIG = """
storage: {{data_dir: "{dir}"}}
alerting: {{route: {{group_wait: 5s}}}}
notifications:
  channels:
    - {{name: ops, type: webhook, url: "http://127.0.0.1:9/hook"}}
services:
  - name: auth
    url: http://127.0.0.1:1/health
    failure_threshold: {threshold}
  - name: memory
    url: http://127.0.0.1:2/health
    failure_threshold: {threshold}
    depends_on: [auth]
"""


class Rig:
    def __init__(self, tmp: Path, clock: FakeClock, threshold: int = 3) -> None:
        config = parse_text(CONFIG.format(dir=tmp, threshold=threshold))
        self.clock = clock
        self.monitor = Monitor(config, serve=False, clock=clock)

    async def open(self) -> None:
        m = self.monitor
        await asyncio.to_thread(m.db.open)
        await m.engine.load()
        await m._load_alerting()

    async def close(self) -> None:
        await self.monitor._save_flaps()
        await self.monitor.outbox.close()
        await asyncio.to_thread(self.monitor.db.close)

    async def checks(self, **ok: bool) -> None:
        """One round of checks (service=ok), then the alert loop's step."""
        self.clock.advance(2)
        for service, up in ok.items():
            self.monitor.intake.observe(
                CheckResult(
                    service,
                    self.clock.now,
                    ok=up,
                    latency=0.01 if up else None,
                    error=None if up else "connection refused",
                )
            )
        await self.monitor.evaluate(set(ok))
        await self.monitor._dispatch()

    def rows(self, kind: str | None = None) -> list[tuple[str, str]]:
        rows = self.monitor.db.conn.execute(
            "SELECT incident_id, kind FROM notifications ORDER BY id"
        ).fetchall()
        return [(i, k) for i, k in rows if kind is None or k == kind]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


async def test_cascade_pages_once_naming_dependents(tmp_path, clock):
    r = Rig(tmp_path, clock)
    await r.open()
    try:
        await r.checks(auth=True, memory=True)
        for _ in range(6):
            await r.checks(auth=False, memory=False)
        opens = r.rows("open")
        assert len(opens) == 1
        [inc] = r.monitor.store.open_incidents()
        assert inc.service == "auth"
        assert "memory" in inc.dependents
        payload = r.monitor.db.conn.execute(
            "SELECT payload FROM notifications WHERE kind = 'open'"
        ).fetchone()[0]
        assert "memory" in payload
        for _ in range(2):
            await r.checks(auth=True, memory=True)
        assert r.monitor.store.open_incidents() == []
        assert [k for _, k in r.rows()] == ["open", "resolved"]
    finally:
        await r.close()


async def test_a_restart_mid_outage_does_not_page_again(tmp_path, clock):
    r = Rig(tmp_path, clock)
    await r.open()
    await r.checks(auth=True)
    for _ in range(6):
        await r.checks(auth=False)
    [(incident_id, _)] = r.rows("open")
    await r.close()

    again = Rig(tmp_path, clock)
    await again.open()
    try:
        [inc] = again.monitor.store.open_incidents()
        assert inc.id == incident_id
        for _ in range(5):
            await again.checks(auth=False)
        assert again.rows("open") == [(incident_id, "open")]  # no second page
        await again.checks(auth=True)
        assert again.monitor.store.open_incidents() == []
        assert again.rows("resolved") == [(incident_id, "resolved")]
    finally:
        await again.close()


async def test_a_flapping_service_pages_at_most_once(tmp_path, clock):
    r = Rig(tmp_path, clock, threshold=1)
    await r.open()
    try:
        for i in range(40):
            await r.checks(auth=i % 2 == 0)
        assert r.monitor.flaps.state("auth").flapping
        assert len(r.rows("open")) <= 1
        [inc] = r.monitor.store.open_incidents()
        assert any(s.kind == "flapping" for s in inc.signals)
    finally:
        await r.close()
    again = Rig(tmp_path, clock, threshold=1)
    await again.open()
    try:
        assert again.monitor.flaps.state("auth").flapping  # the snapshot came back
    finally:
        await again.close()


def test_the_route_roots_grouping_and_timings_reach_the_engine_and_dispatcher(tmp_path):
    base = (
        f'storage: {{data_dir: "{tmp_path}"}}\n'
        "notifications: {channels: [{name: ops, type: webhook, url: 'http://127.0.0.1:9/'}]}\n"
        "services: [{name: auth, url: 'http://127.0.0.1:1/health'}]\n"
    )
    plain = Monitor(parse_text(base), serve=False)
    assert plain.engine.group_by == ("service",)
    timing = plain.engine.dispatcher.timing({"service": "auth"})
    assert (timing.channels, timing.group_wait, timing.group_interval) == (("ops",), 5.0, 60.0)
    assert timing.repeat_interval == 0.0

    tuned = Monitor(
        parse_text(
            base + "alerting:\n  route: {group_by: [service, kind], group_wait: 3s,"
            " repeat_interval: 4h}\n"
        ),
        serve=False,
    )
    assert tuned.engine.group_by == ("service", "kind")
    timing = tuned.engine.dispatcher.timing({"service": "auth"})
    assert timing.group_wait == 3.0
    assert timing.repeat_interval == 4 * 3600.0


def test_unknown_alerting_keys_are_reported():
    with pytest.raises(Exception, match="group_wiat"):
        parse_text(
            "alerting: {group_wiat: 1s}\nservices: [{name: a, url: 'http://127.0.0.1:1/'}]\n"
        )
