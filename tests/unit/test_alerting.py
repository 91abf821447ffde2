"""Alert rules and the incident engine on synthetic histories, with a real SQLite file."""

from __future__ import annotations

from dataclasses import replace

import pytest
from support.clock import FakeClock

from devmentor_monitor.config.schema import parse_text
from devmentor_monitor.incidents.engine import ENGINE, Actor, IncidentEngine
from devmentor_monitor.incidents.model import Incident, IncidentState, Severity
from devmentor_monitor.incidents.rules import (
    AlertState,
    Evaluator,
    Rule,
    burn_rate,
    default_rules,
)
from devmentor_monitor.model import CheckResult, SystemSample
from devmentor_monitor.storage.db import Database
from devmentor_monitor.store import Store

CONFIG = """
services:
  - name: auth
    url: http://127.0.0.1:1/health
    failure_threshold: 1
    slo: {uptime: 99.9, response_time: 200ms, error_rate: 0.1}
  - name: memory
    url: http://127.0.0.1:2/health
    failure_threshold: 1
    depends_on: [auth]
"""


def host(ts: float, cpu: float) -> SystemSample:
    return SystemSample(
        ts=ts,
        cpu_percent=cpu,
        cpu_per_core=(cpu,),
        load=(0.1, 0.1, 0.1),
        mem_total=100,
        mem_used=10,
        mem_available=90,
        mem_percent=10.0,
        swap_total=0,
        swap_used=0,
        swap_percent=0.0,
        disks=(),
        disk_read_bytes=0,
        disk_write_bytes=0,
        net_rx_bytes=0,
        net_tx_bytes=0,
    )


def check(service: str, ts: float, ok: bool) -> CheckResult:
    return CheckResult(
        service, ts, ok=ok, latency=0.01 if ok else None, error=None if ok else "connection refused"
    )


def test_flapping_around_the_threshold_fires_once():
    clock = FakeClock()
    store = Store(parse_text(CONFIG), clock=clock)
    cpu = Rule("cpu_high", "cpu", True, 80.0, 75.0, 0.0, Severity.HIGH)
    ev = Evaluator([cpu], store)
    fired = resolved = 0
    # 82 → 79 → 82 → 79 ...: fires at the first 82, and 79 never reaches the clear level 75.
    for i in range(120):
        clock.now += 1
        store.record_system(host(clock.now, 82.0 if i % 2 == 0 else 79.0))
        for t in ev.evaluate(clock.now, set()):
            fired += t.state is AlertState.FIRING
            resolved += t.state is AlertState.RESOLVED
    assert (fired, resolved) == (1, 0)
    clock.now += 1
    store.record_system(host(clock.now, 70.0))  # past the clear level: resolves
    assert [t.state for t in ev.evaluate(clock.now, set())] == [AlertState.RESOLVED]


def test_for_duration_and_pending_reset():
    clock = FakeClock()
    store = Store(parse_text(CONFIG), clock=clock)
    ev = Evaluator([Rule("cpu_high", "cpu", True, 80.0, None, 30.0, Severity.HIGH)], store)
    store.record_system(host(clock.now, 90.0))
    assert ev.evaluate(clock.now, set()) == []
    assert ev.alerts[("cpu_high", "host")].state is AlertState.PENDING
    clock.now += 20
    store.record_system(host(clock.now, 50.0))  # dips before `for` elapsed: back to inactive
    ev.evaluate(clock.now, set())
    assert ev.alerts[("cpu_high", "host")].state is AlertState.INACTIVE
    store.record_system(host(clock.now, 90.0))
    ev.evaluate(clock.now, set())
    clock.now += 29
    assert ev.evaluate(clock.now, set()) == []
    clock.now += 1
    assert [t.state for t in ev.evaluate(clock.now, set())] == [AlertState.FIRING]


def test_burn_rate_maths_on_synthetic_history():
    clock = FakeClock()
    store = Store(parse_text(CONFIG), clock=clock)
    # 99.9 % SLO: the budget is 0.1 % of checks. One check a second for an hour, 2 % failing.
    for i in range(3600):
        clock.now += 1
        store.record_check(check("auth", clock.now, ok=i % 50 != 0))
    rate = burn_rate(store, "auth", 3600, clock.now, 99.9)
    assert rate == pytest.approx(20.0, rel=0.05)  # 2 % / 0.1 % = 20x
    fast = next(r for r in default_rules(store.config) if r.name == "burn_rate_fast")
    ev = Evaluator([fast], store)
    assert [t.alert.rule.name for t in ev.evaluate(clock.now, {"auth"})] == ["burn_rate_fast"]


def test_burn_rate_needs_both_windows():
    clock = FakeClock()
    store = Store(parse_text(CONFIG), clock=clock)
    # A clean hour, then 5 minutes of heavy failure: the 5 m window burns, the 1 h one not
    # enough (14.4x of a 0.1 % budget is 1.44 % of the hour's checks).
    for _ in range(3300):
        clock.now += 1
        store.record_check(check("auth", clock.now, ok=True))
    for i in range(300):
        clock.now += 1
        store.record_check(check("auth", clock.now, ok=i % 10 != 0))  # 10 % failing
    assert burn_rate(store, "auth", 300, clock.now, 99.9) > 14.4
    assert burn_rate(store, "auth", 3600, clock.now, 99.9) < 14.4
    fast = next(r for r in default_rules(store.config) if r.name == "burn_rate_fast")
    assert Evaluator([fast], store).evaluate(clock.now, {"auth"}) == []


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, bool]] = []

    async def notify(self, incident: Incident, kind: str, *, suppressed: bool = False) -> int:
        self.sent.append((incident.service, kind, suppressed))
        return 1


@pytest.fixture
def engine(tmp_path):
    clock = FakeClock()
    store = Store(parse_text(CONFIG), clock=clock)
    db = Database(tmp_path / "monitor.db")
    db.open()
    recorder = Recorder()
    eng = IncidentEngine(store, db, recorder, clock=clock)
    yield eng, store, clock, recorder, db
    db.close()


async def test_dependency_down_joins_the_dependency_incident(engine):
    """Issue 14: a dependent's down joins its dependency's incident (listed among its
    dependents) instead of opening one of its own; one page, one resolved."""
    eng, store, clock, recorder, db = engine
    ev = Evaluator([r for r in default_rules(store.config) if r.name == "service_down"], store)
    store.record_check(check("auth", clock.now, ok=False))
    store.record_check(check("memory", clock.now, ok=False))
    for t in eng.order(ev.evaluate(clock.now, {"auth", "memory"})):
        await eng.on_transition(t)
    [auth] = store.open_incidents()
    assert auth.service == "auth"
    assert auth.severity is Severity.CRITICAL  # memory depends on auth
    assert auth.dependents == ("memory",)
    assert {(s.service, s.rule) for s in auth.signals} == {
        ("auth", "service_down"),
        ("memory", "service_down"),
    }
    assert recorder.sent == [("auth", "open", False)]  # memory is not notified on its own
    clock.now += 60
    store.record_check(check("memory", clock.now, ok=True))
    store.record_check(check("auth", clock.now, ok=True))
    for t in eng.order(ev.evaluate(clock.now, {"auth", "memory"})):
        await eng.on_transition(t)
    assert store.open_incidents() == []
    assert recorder.sent == [("auth", "open", False), ("auth", "resolved", False)]
    saved = db.load_incident(auth.id)
    assert saved.state is IncidentState.RESOLVED
    assert saved.time_to_recover == 60
    assert [e.kind for e in saved.timeline] == [
        "opened",
        "check",
        "notified",
        "signal",
        "linked",
        "cleared",
        "cleared",
        "resolved",
    ]


async def test_lifecycle_and_dedup(engine):
    eng, store, clock, _recorder, db = engine
    ops = Actor("ops", "127.0.0.1")
    inc = await eng.open_manual("auth", "login errors", Severity.MEDIUM, ops)
    clock.now += 5
    await eng.acknowledge(inc.id, ops, "on it")
    with pytest.raises(Exception, match="already acknowledged"):
        await eng.acknowledge(inc.id, ops)
    clock.now += 5
    await eng.resolve(inc.id, ops, "rolled back")
    saved = db.load_incident(inc.id)
    assert saved.state is IncidentState.RESOLVED
    assert (saved.acknowledged_by, saved.resolved_by) == ("ops", "ops")
    # issue 14: the dispatcher says when and where it paged
    assert [e.kind for e in saved.timeline] == ["opened", "notified", "acknowledged", "resolved"]
    assert [a.action for a in db.load_audit()] == [
        "incident.resolve",
        "incident.acknowledge",
        "incident.open",
    ]
    # The same alert firing twice updates one incident instead of opening another.
    ev = Evaluator([r for r in default_rules(store.config) if r.name == "service_down"], store)
    store.record_check(check("auth", clock.now, ok=False))
    [t] = ev.evaluate(clock.now, {"auth"})
    first = await eng.on_transition(t)
    again = await eng.on_transition(replace(t, at=clock.now + 1))
    assert first.id == again.id
    assert len(store.open_incidents()) == 1
    assert ENGINE.name == "monitor"


def test_pending_service_alert_fires_on_the_clock_without_new_checks():
    clock = FakeClock()
    store = Store(parse_text(CONFIG), clock=clock)
    slow = Rule("latency_slo", "latency", True, -1.0, None, 30.0, Severity.MEDIUM)
    ev = Evaluator([slow], store)
    store.record_check(CheckResult("auth", clock.now, ok=True, latency=0.5))  # SLO 200 ms
    assert ev.evaluate(clock.now, {"auth"}) == []
    clock.now += 29
    assert ev.evaluate(clock.now, set()) == []
    clock.now += 1
    [t] = ev.evaluate(clock.now, set())  # no new check: the `for` timer alone fires it
    assert (t.alert.subject, t.state, t.alert.threshold) == ("auth", AlertState.FIRING, 0.2)


async def test_recovery_dry_run_by_default_then_runs_and_is_rate_limited(tmp_path):
    marker = tmp_path / "restarted"
    config = parse_text(f"""
services:
  - name: auth
    url: http://127.0.0.1:1/health
    recovery: {{command: "touch {marker}"}}
  - name: memory
    url: http://127.0.0.1:2/health
    recovery: {{command: "touch {marker}", dry_run: false, max_per_hour: 1}}
""")
    clock = FakeClock()
    store = Store(config, clock=clock)
    db = Database(tmp_path / "monitor.db")
    db.open()
    try:
        eng = IncidentEngine(store, db, None, clock=clock)
        ops = Actor("ops", "test")
        dry = await eng.open_manual("auth", "down", Severity.HIGH, ops)
        assert not marker.exists()
        assert f"dry run: would run touch {marker}" in dry.timeline[-1].text
        real = await eng.open_manual("memory", "down", Severity.HIGH, ops)
        assert marker.exists()
        assert real.timeline[-1].text.startswith("ok: touch")
        again = await eng.open_manual("memory", "down again", Severity.HIGH, ops)
        assert again.timeline[-1].text.startswith("skipped: 1 runs in the last hour")
        outcomes = [a.outcome for a in db.load_audit() if a.action == "recovery.run"]
        assert len(outcomes) == 3
    finally:
        db.close()


async def test_retention_purges_old_resolved_incidents_only(engine):
    eng, _, clock, _, db = engine
    ops = Actor("ops", "test")
    old = await eng.open_manual("auth", "old", Severity.LOW, ops)
    await eng.resolve(old.id, ops)
    still_open = await eng.open_manual("memory", "open for ages", Severity.LOW, ops)
    clock.now += 100 * 86400
    recent = await eng.open_manual("auth", "recent", Severity.LOW, ops)
    await eng.resolve(recent.id, ops)
    assert db.purge(clock.now - 90 * 86400) == 1
    assert db.load_incident(old.id) is None
    assert db.load_incident(recent.id) is not None
    assert db.load_incident(still_open.id) is not None  # open incidents are never purged
    assert all(a.target != old.id for a in db.load_audit())


async def test_recovery_webhook_posts_the_incident(tmp_path):
    from aiohttp import web

    from devmentor_monitor.demo.fleet import free_port

    got: list[dict] = []

    async def hook(request: web.Request) -> web.Response:
        got.append(await request.json())
        return web.Response(status=202)

    app = web.Application()
    app.router.add_post("/restart/s3cret", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    config = parse_text(f"""
services:
  - name: auth
    url: http://127.0.0.1:1/health
    recovery: {{webhook: "http://127.0.0.1:{port}/restart/s3cret", dry_run: false}}
""")
    clock = FakeClock()
    db = Database(tmp_path / "monitor.db")
    db.open()
    try:
        eng = IncidentEngine(Store(config, clock=clock), db, None, clock=clock)
        inc = await eng.open_manual("auth", "down", Severity.HIGH, Actor("ops", "test"))
        assert got == [
            {"incident": inc.id, "service": "auth", "severity": "high", "title": inc.title}
        ]
        outcome = inc.timeline[-1].text
        assert outcome == f"ok: POST 127.0.0.1:{port} → HTTP 202"
        assert "s3cret" not in outcome  # the path (often a token) is never recorded
    finally:
        db.close()
        await runner.cleanup()
