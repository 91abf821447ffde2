"""One incident per service problem (issue 14): signals join the open incident of their
group, it pages once, a severity rise re-notifies once, it resolves when its outage
signals clear, and a burn outliving the outage goes in the closing note."""

from __future__ import annotations

import asyncio

import pytest
from support.alerting import Rig, rig

from devmentor_monitor.incidents.model import IncidentState, Severity
from devmentor_monitor.incidents.rules import Evaluator, default_rules


@pytest.fixture
def r(tmp_path):
    x = rig(tmp_path)
    yield x
    x.close()


SIX = [
    ("service_down", Severity.HIGH),
    ("latency_slo", Severity.MEDIUM),
    ("error_rate_slo", Severity.MEDIUM),
    ("burn_rate_fast", Severity.CRITICAL),
    ("anomaly", Severity.MEDIUM),
]


async def fire_all(r: Rig, service: str = "auth") -> None:
    for rule, severity in SIX:
        r.clock.advance(1)
        await r.fire(rule, service, severity=severity)
    r.clock.advance(1)
    await r.engine.open_from_event(
        "deploy_failed", Severity.HIGH, service, f"{service}: deploy", "deploy failed", r.clock.now
    )


async def test_every_signal_of_a_service_joins_one_incident(r: Rig):
    await fire_all(r)
    [inc] = r.open()
    assert inc.service == "auth"
    assert inc.group_key == "service=auth"
    kinds = sorted(s.kind for s in inc.signals)
    assert kinds == ["anomaly", "burn_rate", "down", "error_rate", "event", "latency"]
    assert [e.kind for e in inc.timeline].count("signal") == 5  # the opening one is "opened"
    assert inc.severity is Severity.CRITICAL  # the most severe signal
    # On disk too, signals and all.
    saved = r.db.load_incident(inc.id)
    assert saved is not None
    assert sorted(s.rule for s in saved.signals) == sorted(s.rule for s in inc.signals)
    assert r.recorder.kinds() == [("auth", "open")]  # paged once


async def test_group_by_service_and_kind_splits_them(tmp_path):
    x = rig(tmp_path, group_by=("service", "kind"))
    try:
        await fire_all(x)
        assert len(x.open()) == 6
        assert {i.group_key for i in x.open()} == {
            f"service=auth,kind={k}"
            for k in ("down", "latency", "error_rate", "burn_rate", "anomaly", "event")
        }
    finally:
        x.close()


async def test_other_services_get_their_own_incident(r: Rig):
    await r.fire("service_down", "auth")
    await r.fire("latency_slo", "billing", severity=Severity.MEDIUM)
    assert sorted(i.service for i in r.open()) == ["auth", "billing"]


async def test_pages_once_and_a_severity_rise_notifies_once(r: Rig):
    await r.fire("latency_slo", severity=Severity.MEDIUM)
    await r.fire("error_rate_slo", severity=Severity.MEDIUM)
    await r.tick(1)
    assert r.recorder.kinds() == [("auth", "open")]
    await r.fire("burn_rate_fast", severity=Severity.CRITICAL)
    await r.tick(1)
    assert r.recorder.kinds() == [("auth", "open"), ("auth", "escalation")]
    assert r.recorder.sent[-1].severity == "critical"
    await r.fire("burn_rate_slow", severity=Severity.CRITICAL)  # a 2nd critical: nothing
    await r.tick(1)
    await r.tick(60)
    assert r.recorder.kinds() == [("auth", "open"), ("auth", "escalation")]
    [inc] = r.open()
    assert "severity rose from medium to critical" in [e.text for e in inc.timeline]


async def test_escalation_waits_for_group_interval(r: Rig):
    r.engine.dispatcher.group_interval = 60.0
    await r.fire("latency_slo", severity=Severity.MEDIUM)
    await r.fire("burn_rate_fast", severity=Severity.CRITICAL)
    await r.tick(30)
    assert r.recorder.kinds() == [("auth", "open")]
    await r.tick(30)
    assert r.recorder.kinds() == [("auth", "open"), ("auth", "escalation")]


async def test_resolves_when_the_outage_clears_and_notes_the_burn(r: Rig):
    await r.fire("service_down")
    await r.fire("burn_rate_fast", severity=Severity.CRITICAL, value=40.0, threshold=14.4)
    await r.fire("latency_slo", severity=Severity.MEDIUM)
    [inc] = r.open()
    r.clock.advance(30)
    await r.clear("latency_slo")
    assert r.open()  # down still firing
    await r.clear("service_down", value=0.0)
    assert r.open() == []  # the burn does not hold it open
    saved = r.db.load_incident(inc.id)
    assert saved is not None
    assert saved.state is IncidentState.RESOLVED
    assert "burn_rate_fast at 40" in saved.closing_note
    assert "see the service auth" in saved.closing_note
    assert r.recorder.kinds() == [("auth", "open"), ("auth", "resolved")]
    assert "burn_rate_fast" in r.recorder.sent[-1].description  # the note goes out too
    # The burn clearing later changes nothing, and sends nothing.
    await r.clear("burn_rate_fast", severity=Severity.CRITICAL)
    assert r.recorder.kinds() == [("auth", "open"), ("auth", "resolved")]


async def test_a_burn_only_incident_resolves_when_its_burn_clears(r: Rig):
    await r.fire("burn_rate_fast", severity=Severity.CRITICAL, value=20.0, threshold=14.4)
    [inc] = r.open()
    assert inc.rule == "burn_rate_fast"
    r.clock.advance(300)
    await r.clear("burn_rate_fast", severity=Severity.CRITICAL, value=3.0)
    assert r.open() == []
    assert r.recorder.kinds() == [("auth", "open"), ("auth", "resolved")]


async def test_a_down_joining_a_burn_incident_holds_it(r: Rig):
    await r.fire("burn_rate_fast", severity=Severity.CRITICAL)
    await r.fire("service_down")
    await r.clear("burn_rate_fast", severity=Severity.CRITICAL)
    assert len(r.open()) == 1  # down holds it now
    await r.clear("service_down")
    assert r.open() == []


async def test_an_event_alone_stays_open_until_resolved_by_hand(r: Rig):
    inc = await r.engine.open_from_event(
        "oom", Severity.HIGH, "billing", "billing: oom", "container killed", r.clock.now
    )
    again = await r.engine.open_from_event(
        "oom", Severity.HIGH, "billing", "billing: oom", "killed again", r.clock.now + 1
    )
    assert again.id == inc.id
    assert "killed again" in [e.text for e in again.timeline]
    assert inc.title == "billing: oom"
    assert len(r.open()) == 1


async def test_a_problem_that_clears_within_group_wait_sends_nothing(tmp_path):
    x = rig(tmp_path, group_wait=5.0)
    try:
        await x.fire("service_down")
        await x.tick(2)
        assert x.recorder.sent == []
        await x.clear("service_down")
        await x.tick(10)
        assert x.open() == []
        assert x.recorder.sent == []  # never paged: no resolved either
    finally:
        x.close()


async def test_rule_transitions_through_the_evaluator(r: Rig):
    """The real path: checks → Evaluator → on_transition. Down and burn on one service
    make one incident and one page; recovery resolves it with one resolved."""
    rules = [x for x in default_rules(r.store.config) if x.name in ("service_down",)]
    ev = Evaluator(rules, r.store)
    for _ in range(3):
        r.clock.advance(2)
        r.check("billing", ok=False)
        for t in ev.evaluate(r.clock.now, {"billing"}):
            await r.engine.on_transition(t)
    [inc] = r.open()
    assert [s.rule for s in inc.signals] == ["service_down"]
    r.clock.advance(2)
    r.check("billing", ok=True)
    for t in ev.evaluate(r.clock.now, {"billing"}):
        await r.engine.on_transition(t)
    assert r.open() == []
    assert r.recorder.kinds() == [("billing", "open"), ("billing", "resolved")]


async def test_the_alert_loop_and_an_event_at_once_open_one_incident(tmp_path):
    """Both look the group up before either's open is on disk: still one incident, one page."""
    x = rig(tmp_path, group_wait=5.0)
    try:
        await asyncio.gather(
            x.fire("service_down", "billing"),  # the alert loop
            x.engine.open_from_event(  # the event processor
                "deploy_failed",
                Severity.HIGH,
                "billing",
                "billing: deploy failed",
                "failed",
                x.clock.now,
            ),
        )
        await x.tick(5)
        await x.tick(1)
        assert len(x.open()) == 1
        assert x.recorder.kinds() == [("billing", "open")]
    finally:
        x.close()


async def test_a_problem_older_than_a_blip_of_down_keeps_its_incident(tmp_path):
    r = rig(tmp_path, group_wait=0.0)
    try:
        await r.fire("latency_slo", "billing")
        await r.tick(0)
        await r.fire("service_down", "billing")
        await r.clear("service_down", "billing")
        await r.tick(1)
        [inc] = r.open()
        assert inc.service == "billing"
        assert any(s.rule == "latency_slo" and s.firing for s in inc.signals)
        await r.clear("latency_slo", "billing")
        assert r.open() == []
    finally:
        r.close()
