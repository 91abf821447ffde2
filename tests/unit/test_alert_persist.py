"""Alert state survives a restart (issue 14): pending and firing alerts, the page that was
due or sent, groups and signals, flap state and silences. The engine and the evaluator
are built again on the same SQLite file, as a restarted monitor does."""

from __future__ import annotations

import sqlite3

from support.alerting import Rig, rig
from support.clock import FakeClock

from devmentor_monitor.incidents.alert_state import AlertStateKeeper, adopt
from devmentor_monitor.incidents.flapping import FlapDetector
from devmentor_monitor.incidents.model import IncidentState, Severity
from devmentor_monitor.incidents.rules import AlertState, Evaluator, Rule, default_rules
from devmentor_monitor.incidents.silences import Matcher, Silence
from devmentor_monitor.model import CheckResult
from devmentor_monitor.storage.db import SCHEMA_VERSION, Database


def down_rules(r: Rig) -> list[Rule]:
    return [x for x in default_rules(r.store.config) if x.name == "service_down"]


async def step(r: Rig, ev: Evaluator, keeper: AlertStateKeeper, service: str) -> None:
    for t in ev.evaluate(r.clock.now, {service}):
        await r.engine.on_transition(t)
    await r.engine.dispatcher.tick(r.clock.now)
    await keeper.sync()


async def restart(r: Rig, tmp_path, **kw) -> tuple[Rig, Evaluator, AlertStateKeeper]:
    r.close()
    again = rig(tmp_path, clock=r.clock, **kw)
    await again.engine.load()
    ev = Evaluator(down_rules(again), again.store)
    keeper = AlertStateKeeper(ev, again.db)
    await keeper.restore()
    return again, ev, keeper


async def test_a_restart_during_an_outage_neither_pages_again_nor_forgets(tmp_path):
    r = rig(tmp_path)
    ev = Evaluator(down_rules(r), r.store)
    keeper = AlertStateKeeper(ev, r.db)
    r.check("billing", ok=False)
    await step(r, ev, keeper, "billing")
    [inc] = r.open()
    assert r.recorder.kinds() == [("billing", "open")]

    r2, ev2, keeper2 = await restart(r, tmp_path)
    try:
        assert ev2.alerts[("service_down", "billing")].state is AlertState.FIRING
        [back] = r2.open()
        assert back.id == inc.id
        assert back.paged_at == inc.paged_at
        assert [s.rule for s in back.signals] == ["service_down"]
        r2.clock.advance(2)
        r2.check("billing", ok=False)  # still down after the restart
        await step(r2, ev2, keeper2, "billing")
        await r2.tick(60)
        assert r2.recorder.sent == []  # no second page
        r2.clock.advance(2)
        r2.check("billing", ok=True)  # recovers: the restored alert resolves it
        await step(r2, ev2, keeper2, "billing")
        assert r2.open() == []
        assert r2.recorder.kinds() == [("billing", "resolved")]
        assert r2.db.load_alert_states() == []
    finally:
        r2.close()


async def test_a_page_due_before_the_restart_is_sent_once_after_it(tmp_path):
    r = rig(tmp_path, group_wait=5.0)
    await r.fire("service_down", "billing")
    await r.tick(2)
    assert r.recorder.sent == []
    r.close()
    r2 = rig(tmp_path, group_wait=5.0, clock=r.clock)
    try:
        await r2.engine.load()
        await r2.tick(2)
        assert r2.recorder.sent == []
        await r2.tick(1)  # page_at, as persisted
        await r2.tick(1)
        assert r2.recorder.kinds() == [("billing", "open")]
        # The group is back: a new signal joins it.
        await r2.fire("latency_slo", "billing", severity=Severity.MEDIUM)
        assert len(r2.open()) == 1
    finally:
        r2.close()


async def test_a_pending_for_timer_carries_on(tmp_path):
    r = rig(tmp_path)
    slow = Rule("latency_slo", "latency", True, -1.0, None, 30.0, Severity.MEDIUM)
    ev = Evaluator([slow], r.store)
    keeper = AlertStateKeeper(ev, r.db)
    r.store.record_check(CheckResult("auth", r.clock.now, ok=True, latency=0.5))  # SLO 200 ms
    assert ev.evaluate(r.clock.now, {"auth"}) == []
    await keeper.sync()
    r.close()

    r.clock.advance(20)
    r2 = rig(tmp_path, clock=r.clock)
    try:
        ev2 = Evaluator([slow], r2.store)
        r2.store.record_check(CheckResult("auth", r2.clock.now, ok=True, latency=0.5))
        assert await AlertStateKeeper(ev2, r2.db).restore() == 1
        r2.clock.advance(10)  # 30 s after it became pending, not after the restart
        [t] = ev2.evaluate(r2.clock.now, set())
        assert t.state is AlertState.FIRING
    finally:
        r2.close()


async def test_flap_state_and_silences_survive(tmp_path):
    clock = FakeClock()
    db = Database(tmp_path / "monitor.db")
    db.open()
    flaps = FlapDetector()
    for i in range(12):
        flaps.observe("billing", i % 2 == 0)
    assert flaps.state("billing").flapping
    db.save_flap_states(flaps.snapshot())
    s = Silence.create(
        (Matcher("service", "billing"),),
        ends_at=clock.now + 600,
        created_by="ana",
        comment="deploy",
        now=clock.now,
    )
    db.save_silence(s)
    db.close()

    db = Database(tmp_path / "monitor.db")
    db.open()
    try:
        again = FlapDetector()
        again.restore(db.load_flap_states())
        assert again.state("billing") == flaps.state("billing")
        assert [x.id for x in db.load_silences()] == [s.id]
    finally:
        db.close()


def test_a_version_1_file_is_migrated(tmp_path):
    path = tmp_path / "monitor.db"
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        CREATE TABLE incidents (
            id TEXT PRIMARY KEY, service TEXT NOT NULL, rule TEXT NOT NULL,
            severity TEXT NOT NULL, title TEXT NOT NULL, description TEXT NOT NULL,
            state TEXT NOT NULL, opened_at REAL NOT NULL, updated_at REAL NOT NULL,
            acknowledged_at REAL, acknowledged_by TEXT, resolved_at REAL, resolved_by TEXT,
            parent_id TEXT
        );
        INSERT INTO incidents VALUES ('inc-1', 'auth', 'service_down', 'high', 't', 'd',
            'open', 1.0, 1.0, NULL, NULL, NULL, NULL, NULL);
        PRAGMA user_version = 1;
        """
    )
    conn.close()
    db = Database(path)
    db.open()
    try:
        inc = db.load_incident("inc-1")
        assert inc is not None
        assert inc.state is IncidentState.OPEN
        assert (inc.group_key, inc.dependents, inc.paged_at, inc.signals) == ("", (), None, ())
        assert db.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    finally:
        db.close()


async def restarted_with_a_version_1_incident(tmp_path) -> Rig:
    """A rig restarted on a database holding an incident as version 1 wrote it (rule
    service_down on auth, no group, no page recorded, no signals), loaded."""
    r = rig(tmp_path)
    await r.engine.open_manual("auth", "login errors", Severity.HIGH, _ops())
    r.db.conn.execute("UPDATE incidents SET rule = 'service_down', group_key = '', paged_at = NULL")
    r.close()
    again = rig(tmp_path, clock=r.clock)
    await again.engine.load()
    return again


async def test_an_incident_from_before_grouping_is_not_paged_again(tmp_path):
    """A version 1 incident notified at once when it opened: loaded, it counts as paged."""
    r2 = await restarted_with_a_version_1_incident(tmp_path)
    try:
        [inc] = r2.open()
        assert inc.group_key == "service=auth"
        await r2.tick(10)
        assert r2.recorder.sent == []
        # Its rule fires again (the restarted evaluator), then clears: it resolves.
        await r2.fire("service_down", "auth")
        assert r2.recorder.sent == []
        await r2.clear("service_down", "auth")
        assert r2.open() == []
        assert r2.recorder.kinds() == [("auth", "resolved")]
    finally:
        r2.close()


def _ops():
    from devmentor_monitor.incidents.engine import Actor

    return Actor("ops", "test")


async def test_a_migrated_incident_whose_outage_is_over_resolves_at_the_first_check(tmp_path):
    """A version 1 incident has no alert state: its signal is adopted as a firing alert, so
    the first good check clears it and resolves the incident (it used to stay open)."""
    r2 = await restarted_with_a_version_1_incident(tmp_path)
    try:
        ev = Evaluator(down_rules(r2), r2.store)
        keeper = AlertStateKeeper(ev, r2.db)
        assert await keeper.restore() == 0  # nothing kept: it is from before alert state
        signals = [s for inc in r2.open() for s in inc.signals]
        assert adopt(ev, signals) == 1
        assert adopt(ev, signals) == 0  # once
        r2.clock.advance(2)
        r2.check("auth", ok=True)
        await step(r2, ev, keeper, "auth")
        assert r2.open() == []
        assert r2.recorder.kinds() == [("auth", "resolved")]
    finally:
        r2.close()


async def test_a_migrated_incident_still_down_is_not_paged_again(tmp_path):
    r2 = await restarted_with_a_version_1_incident(tmp_path)
    try:
        ev = Evaluator(down_rules(r2), r2.store)
        keeper = AlertStateKeeper(ev, r2.db)
        adopt(ev, [s for inc in r2.open() for s in inc.signals])
        for _ in range(4):
            r2.clock.advance(2)
            r2.check("auth", ok=False)
            await step(r2, ev, keeper, "auth")
        await r2.tick(60)
        assert len(r2.open()) == 1
        assert r2.recorder.sent == []
    finally:
        r2.close()
