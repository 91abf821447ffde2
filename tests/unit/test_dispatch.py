"""The notification dispatcher (issue 14): group_wait, group_interval, repeat_interval,
routed channels, silences and maintenance, flapping; and the outbox queueing only the
routed channels (a real SQLite outbox)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from support.alerting import Rig, rig

from devmentor_monitor.incidents.engine import Actor
from devmentor_monitor.incidents.flapping import FlapDetector
from devmentor_monitor.incidents.model import IncidentState, Severity
from devmentor_monitor.incidents.silences import Maintenance, Matcher, Silence, Silences
from devmentor_monitor.notify.outbox import Outbox
from devmentor_monitor.notify.routes import Route
from devmentor_monitor.notify.settings import ChannelSettings, NotifySettings


@pytest.fixture
def r(tmp_path):
    x = rig(tmp_path, group_wait=5.0)
    yield x
    x.close()


def silence(r: Rig, *matchers: Matcher, minutes: float = 60, comment: str = "deploy") -> Silence:
    return Silence.create(
        matchers,
        ends_at=r.clock.now + minutes * 60,
        created_by="ana",
        comment=comment,
        now=r.clock.now,
    )


async def test_group_wait_then_one_page(r: Rig):
    await r.fire("service_down", "billing")
    [inc] = r.open()
    assert inc.page_at == r.clock.now + 5
    await r.tick(4.9)
    assert r.recorder.sent == []
    await r.tick(0.1)
    await r.tick(1)
    assert r.recorder.kinds() == [("billing", "open")]
    [inc] = r.open()
    assert inc.paged_at is not None
    assert inc.notified_rank == Severity.HIGH.rank


async def test_routes_pick_the_channels_and_resolved_follows_the_page(r: Rig):
    r.engine.dispatcher.route = Route(
        channels=("webhook",),
        group_wait=0.0,
        routes=(Route(match={"severity": "critical"}, channels=("pager", "slack")),),
    )
    await r.fire("service_down", "auth", severity=Severity.CRITICAL)
    await r.fire("latency_slo", "billing", severity=Severity.MEDIUM)
    await r.tick(0)
    sent = {(s.service, s.kind): s.channels for s in r.recorder.sent}
    assert sent == {("auth", "open"): ("pager", "slack"), ("billing", "open"): ("webhook",)}
    await r.clear("service_down", "auth")
    assert r.recorder.sent[-1].kind == "resolved"
    assert r.recorder.sent[-1].channels == ("pager", "slack")


async def test_repeat_interval_reminds_an_open_incident(r: Rig):
    r.engine.dispatcher.repeat_interval = 3600.0
    await r.fire("service_down", "billing")
    await r.tick(5)
    await r.tick(3599)
    assert r.recorder.kinds() == [("billing", "open")]
    await r.tick(1)
    assert r.recorder.kinds() == [("billing", "open"), ("billing", "escalation")]


async def test_a_silenced_incident_is_recorded_and_sends_nothing(r: Rig):
    silences = Silences([silence(r, Matcher("service", "billing"))])
    r.engine.dispatcher.silences = silences
    await r.fire("service_down", "billing")
    await r.tick(10)
    [inc] = r.open()
    assert inc.silenced_by == silences.all()[0].id
    assert "silenced by ana: deploy" in [e.text for e in inc.timeline]
    assert r.recorder.sent == []
    await r.clear("service_down", "billing")
    assert r.recorder.sent == []  # it never paged: no resolved


async def test_a_silence_ending_lets_the_open_incident_page(r: Rig):
    s = silence(r, Matcher("severity", "high|critical", is_regex=True), minutes=1)
    r.engine.dispatcher.silences = Silences([s])
    await r.fire("service_down", "billing")
    await r.tick(10)
    assert r.recorder.sent == []
    await r.tick(60)  # the silence is over
    assert r.recorder.kinds() == [("billing", "open")]
    [inc] = r.open()
    assert inc.silenced_by is None


async def test_silenced_after_the_page_still_sends_resolved(r: Rig):
    await r.fire("service_down", "billing")
    await r.tick(5)
    assert r.recorder.kinds() == [("billing", "open")]
    r.engine.dispatcher.silences = Silences([silence(r, Matcher("rule", "service_down"))])
    await r.tick(1)
    [inc] = r.open()
    assert inc.silenced_by is not None
    await r.clear("service_down", "billing")
    assert r.recorder.kinds() == [("billing", "open"), ("billing", "resolved")]


async def test_a_maintenance_window_silences(r: Rig):
    window = Maintenance(
        "db-upgrade",
        (Matcher("service", "billing"),),
        start=r.clock.now - 60,
        end=r.clock.now + 3600,
    )
    r.engine.dispatcher.silences = Silences(maintenance=[window])
    await r.fire("service_down", "billing")
    await r.tick(10)
    [inc] = r.open()
    assert inc.silenced_by is not None
    assert inc.silenced_by.startswith("maintenance:db-upgrade")
    assert r.recorder.sent == []


async def test_a_flapping_service_pages_at_most_once(r: Rig):
    flaps = FlapDetector(window=21, high=0.3, low=0.1, min_checks=10)
    r.engine.dispatcher.flaps = flaps
    flapping_from = None
    for i in range(40):  # up, down, up, down ... every 2 s
        r.clock.advance(2)
        ok = i % 2 == 0
        change = flaps.observe("billing", ok)
        if change is not None and change.flapping:
            flapping_from = i
            await r.engine.on_signal(
                r.signal("flapping", "billing", Severity.MEDIUM, value=change.change)
            )
        if ok:
            await r.clear("service_down", "billing")
        else:
            await r.fire("service_down", "billing")
        await r.tick(0)
    assert flapping_from is not None
    opens = [s for s in r.recorder.sent if s.kind == "open"]
    assert len(opens) == 1
    [inc] = r.open()  # held open by the flapping signal: no resolve/reopen cycles
    assert inc.flapping
    assert any(s.kind == "flapping" and s.firing for s in inc.signals)
    # Each flip is not a timeline entry while it flaps.
    assert len([e for e in inc.timeline if e.kind in ("signal", "cleared")]) <= 2


async def test_outbox_queues_only_the_routed_channels(tmp_path):
    x = rig(tmp_path)
    try:
        channels = [
            ChannelSettings(name=n, type="webhook", url=f"http://127.0.0.1:9/{n}")
            for n in ("a", "b", "c")
        ]
        outbox = Outbox(x.db, channels, NotifySettings(), clock=x.clock)
        x.engine.dispatcher.notifier = outbox
        x.engine.dispatcher.route = Route(channels=("a", "c"), group_wait=0.0)
        await x.fire("service_down", "billing")
        rows = x.db.conn.execute(
            "SELECT channel, kind FROM notifications ORDER BY channel"
        ).fetchall()
        assert rows == [("a", "open"), ("c", "open")]
        await x.clear("service_down", "billing")
        rows = x.db.conn.execute(
            "SELECT channel FROM notifications WHERE kind = 'resolved' ORDER BY channel"
        ).fetchall()
        assert rows == [("a",), ("c",)]
        await outbox.close()
    finally:
        x.close()


async def test_a_resolve_during_the_page_still_sends_resolved(r: Rig):
    """The page's queueing awaits; a resolve by hand meanwhile must not find it unpaged."""
    sent = r.recorder.notify

    async def slow(*args: Any, **kw: Any) -> int:
        await asyncio.sleep(0.05)  # the outbox's database write
        return await sent(*args, **kw)

    r.recorder.notify = slow  # type: ignore[method-assign]
    await r.fire("service_down", "billing")
    [inc] = r.open()
    r.clock.advance(5)
    paging = asyncio.create_task(r.engine.dispatcher.tick(r.clock.now))
    await asyncio.sleep(0.01)
    await r.engine.resolve(inc.id, Actor("ana", "api"))
    await paging
    assert r.recorder.kinds() == [("billing", "open"), ("billing", "resolved")]
    row = r.db.load_incident(inc.id)
    assert row is not None
    assert row.state is IncidentState.RESOLVED
    assert row.paged_at is not None


async def test_a_tick_from_a_stale_snapshot_does_not_page_twice(r: Rig):
    """The tick lists the open incidents, then awaits one's page; another, paged by its
    opening meanwhile, must not page again from the tick's old copy."""
    sent = r.recorder.notify

    async def slow(*args: Any, **kw: Any) -> int:
        await asyncio.sleep(0.2)
        return await sent(*args, **kw)

    r.recorder.notify = slow  # type: ignore[method-assign]
    d = r.engine.dispatcher
    await r.fire("service_down", "billing", severity=Severity.CRITICAL)  # due in 5 s
    r.clock.advance(5)
    d.group_wait = 0.0
    opening = asyncio.create_task(
        r.engine.open_from_event(
            "deploy_failed", Severity.HIGH, "auth", "auth: deploy failed", "failed", r.clock.now
        )
    )
    await asyncio.sleep(0.1)  # auth's incident in the store, its page under way
    await d.tick(r.clock.now)
    await opening
    assert sorted(r.recorder.kinds()) == [("auth", "open"), ("billing", "open")]


async def test_a_route_with_no_channels_pages_nothing_and_sends_no_resolved(r: Rig):
    """channels: [] (or none left by ALERT_CHANNELS) is nowhere, not every channel."""
    r.engine.dispatcher.route = Route(
        channels=("webhook", "pager"),
        group_wait=0.0,
        routes=(Route(match={"severity": "low"}, channels=()),),
    )
    await r.fire("latency_slo", "billing", severity=Severity.LOW)
    await r.tick(0)
    [inc] = r.open()
    assert inc.paged_at is None
    await r.clear("latency_slo", "billing", severity=Severity.LOW)
    assert r.recorder.sent == []


async def test_a_severity_rise_notifies_even_when_acknowledged(r: Rig):
    """Acknowledged as minor slowness, then hard down: the rise is notified, once."""
    r.engine.dispatcher.group_wait = 0.0
    await r.fire("latency_slo", "billing", severity=Severity.MEDIUM)
    await r.tick(0)
    [inc] = r.open()
    await r.engine.acknowledge(inc.id, Actor("ana", "api"), "known slowness")
    r.clock.advance(3600)
    await r.fire("service_down", "billing", severity=Severity.CRITICAL)
    for _ in range(5):
        await r.tick(600)
    assert r.recorder.kinds() == [
        ("billing", "open"),
        ("billing", "acknowledged"),
        ("billing", "escalation"),
    ]
