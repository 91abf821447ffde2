"""Inhibition by dependency (issue 14): while a dependency has an open incident with a
firing outage signal, its dependents' signals (every kind) join that incident and do not
page; the page names them; resolved goes out for anything that paged."""

from __future__ import annotations

import pytest
from support.alerting import Rig, rig

from devmentor_monitor.incidents.model import IncidentState, Severity


@pytest.fixture
def r(tmp_path):
    x = rig(tmp_path)
    yield x
    x.close()


@pytest.fixture
def waiting(tmp_path):
    x = rig(tmp_path, group_wait=5.0)
    yield x
    x.close()


async def test_dependents_signals_of_every_kind_attach_to_the_root(r: Rig):
    await r.fire("service_down", "auth", severity=Severity.CRITICAL)
    await r.fire("service_down", "memory")
    await r.fire("burn_rate_fast", "project", severity=Severity.CRITICAL)
    await r.fire("latency_slo", "project", severity=Severity.MEDIUM)
    await r.fire("anomaly", "ai-gateway", severity=Severity.MEDIUM)  # via memory → auth
    [inc] = r.open()
    assert inc.service == "auth"
    assert inc.dependents == ("memory", "project", "ai-gateway")
    assert {(s.service, s.rule) for s in inc.signals} == {
        ("auth", "service_down"),
        ("memory", "service_down"),
        ("project", "burn_rate_fast"),
        ("project", "latency_slo"),
        ("ai-gateway", "anomaly"),
    }
    assert inc.severity is Severity.CRITICAL
    assert [e.kind for e in inc.timeline].count("linked") == 3
    assert r.recorder.kinds() == [("auth", "open")]  # the root alone pages


async def test_a_dependency_without_an_outage_does_not_inhibit(r: Rig):
    await r.fire("latency_slo", "auth", severity=Severity.MEDIUM)
    await r.fire("service_down", "memory")
    assert sorted(i.service for i in r.open()) == ["auth", "memory"]


async def test_the_page_names_dependents_failing_by_then(waiting: Rig):
    r = waiting
    r.check("auth", ok=False)
    await r.fire("service_down", "auth", severity=Severity.CRITICAL)
    await r.tick(2)
    r.check("project", ok=False)  # failing, but not confirmed: no signal yet
    await r.fire("latency_slo", "memory", severity=Severity.MEDIUM)
    await r.tick(3)  # group_wait is over: the page
    assert r.recorder.kinds() == [("auth", "open")]
    page = r.recorder.sent[0]
    assert "memory" in page.description
    assert "project" in page.description
    [inc] = r.open()
    assert set(inc.dependents) == {"memory", "project"}
    assert inc.paged_at == r.clock.now
    assert "dependents affected: memory, project" in inc.timeline[-1].text


async def test_a_dependent_opened_first_is_merged_into_its_root(waiting: Rig):
    r = waiting
    await r.fire("burn_rate_fast", "memory", severity=Severity.CRITICAL)  # memory's own
    [early] = r.open()
    await r.tick(2)  # within group_wait: not paged
    await r.fire("service_down", "auth", severity=Severity.CRITICAL)
    [root] = r.open()
    assert root.service == "auth"
    assert root.dependents == ("memory",)
    assert ("memory", "burn_rate_fast") in {(s.service, s.rule) for s in root.signals}
    merged = r.db.load_incident(early.id)
    assert merged is not None
    assert merged.state is IncidentState.RESOLVED
    assert f"merged into auth's incident {root.id}" in merged.timeline[-1].text
    await r.tick(10)
    assert r.recorder.kinds() == [("auth", "open")]  # nothing about the merged one


async def test_when_the_root_clears_a_dependent_still_down_opens_its_own(r: Rig):
    await r.fire("service_down", "auth", severity=Severity.CRITICAL)
    await r.fire("service_down", "memory")
    await r.fire("latency_slo", "project", severity=Severity.MEDIUM)
    await r.clear("latency_slo", "project")
    r.clock.advance(60)
    await r.clear("service_down", "auth")
    assert r.open() == []  # held: a dependent may recover a check after its root
    await r.tick(3600)  # past the grace: still down
    [inc] = r.open()
    assert inc.service == "memory"  # a real new problem
    assert [s.rule for s in inc.signals] == ["service_down"]
    assert r.recorder.kinds() == [("auth", "open"), ("auth", "resolved"), ("memory", "open")]
    await r.clear("service_down", "memory")
    assert r.open() == []
    assert r.recorder.kinds()[-1] == ("memory", "resolved")


async def test_an_already_paged_dependent_keeps_its_incident(r: Rig):
    await r.fire("service_down", "memory")
    await r.fire("service_down", "auth", severity=Severity.CRITICAL)
    assert sorted(i.service for i in r.open()) == ["auth", "memory"]
    await r.clear("service_down", "memory")
    await r.clear("service_down", "auth")
    assert r.recorder.kinds().count(("memory", "resolved")) == 1  # it paged: resolved goes out


async def test_events_about_a_dependent_join_the_root_timeline(r: Rig):
    await r.fire("service_down", "auth", severity=Severity.CRITICAL)
    await r.fire("service_down", "memory")
    root = r.engine.open_incident_of("memory")
    assert root is not None
    assert root.service == "auth"
    assert "memory" in r.engine.open_services()


async def test_an_event_opened_incident_does_not_inhibit_dependents(r: Rig):
    """A high platform event never clears: its incident must not stay a root forever."""
    await r.engine.open_from_event(
        "deploy_failed", Severity.HIGH, "auth", "auth: deploy failed", "deploy failed", r.clock.now
    )
    await r.tick(0)
    r.clock.advance(86400)
    await r.fire("service_down", "memory", severity=Severity.CRITICAL)
    for _ in range(3):
        await r.tick(600)
    memory = [i for i in r.open() if i.service == "memory"]
    assert len(memory) == 1
    assert memory[0].rule == "service_down"
    assert all("memory" not in i.dependents for i in r.open())


async def test_dependents_recovering_after_the_root_do_not_page(r: Rig):
    await r.fire("service_down", "auth", severity=Severity.CRITICAL)
    await r.tick(5)
    await r.fire("service_down", "memory")
    await r.fire("service_down", "project")
    await r.clear("service_down", "auth", severity=Severity.CRITICAL)
    await r.tick(5)
    await r.tick(1)
    await r.clear("service_down", "memory")
    await r.clear("service_down", "project")
    await r.tick(3600)
    assert r.open() == []
    assert r.recorder.kinds() == [("auth", "open"), ("auth", "resolved")]


async def test_a_dependents_burn_outliving_the_outage_does_not_page(r: Rig):
    r.engine.dispatcher.group_wait = 5.0
    await r.fire("service_down", "auth", severity=Severity.CRITICAL)
    await r.tick(5)
    await r.fire("service_down", "memory")
    await r.fire("burn_rate_fast", "memory")
    await r.clear("service_down", "memory")
    await r.clear("service_down", "auth", severity=Severity.CRITICAL)
    await r.tick(5)
    await r.tick(3600)
    assert r.open() == []
    assert r.recorder.kinds() == [("auth", "open"), ("auth", "resolved")]
