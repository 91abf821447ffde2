"""The live prediction engine on synthetic store data with known answers.

The store is filled through its writer methods, exactly as the runtime does; the engine's
clock is the synthetic one, so nothing sleeps.
"""

from __future__ import annotations

import random

import pytest
from support.clock import FakeClock

from devmentor_monitor.config.schema import parse_text
from devmentor_monitor.events.model import Event, EventSeverity
from devmentor_monitor.incidents.model import Incident, IncidentState, Severity
from devmentor_monitor.incidents.rules import AlertState, Evaluator, default_rules
from devmentor_monitor.model import CheckResult, DiskUsage, ProcInfo, SystemSample
from devmentor_monitor.predictions.engine import PredictionEngine
from devmentor_monitor.store import Store
from devmentor_monitor.workloads.model import DeploymentInfo

T0 = 1_700_000_000.0
GiB = 1024**3
MiB = 1024**2

CONFIG = """
services:
  - name: auth
    url: http://127.0.0.1:1/health
    slo: {uptime: 99.9, response_time: 100ms, error_rate: 0.1}
  - name: memory
    url: http://127.0.0.1:2/health
    depends_on: [auth]
    slo: {uptime: 99.5, response_time: 100ms, error_rate: 0.5}
"""


def build(extra: str = "") -> tuple[Store, PredictionEngine, FakeClock]:
    config = parse_text(extra + CONFIG)
    clock = FakeClock(T0)
    store = Store(config, clock=clock)
    return store, PredictionEngine(store, config, clock=clock), clock


def sample(
    ts: float,
    *,
    disk_used: float = 50 * GiB,
    mem_available: float = 8 * GiB,
    rss: float = 100 * MiB,
    cpu: float = 30.0,
) -> SystemSample:
    return SystemSample(
        ts=ts,
        cpu_percent=cpu,
        cpu_per_core=(cpu,),
        load=(1.0, 1.0, 1.0),
        mem_total=16 * GiB,
        mem_used=int(16 * GiB - mem_available),
        mem_available=int(mem_available),
        mem_percent=50.0,
        swap_total=0,
        swap_used=0,
        swap_percent=0.0,
        disks=(DiskUsage("/", 100 * GiB, int(disk_used), disk_used / GiB),),
        disk_read_bytes=0,
        disk_write_bytes=0,
        net_rx_bytes=0,
        net_tx_bytes=0,
        top_mem=(ProcInfo(7, "node", 1.0, int(rss)),),
        top_ts=ts,
    )


def by_kind(store: Store, kind: str) -> list:
    return [p for p in store.predictions() if p.kind == kind]


def test_a_latency_step_is_flagged_within_a_few_samples_and_explained() -> None:
    store, engine, clock = build()
    rng = random.Random(3)
    step_at = None
    for i in range(400):
        clock.now = T0 + 10 * i
        if i == 300:
            step_at = clock.now
        latency = 0.010 * (1 + 0.1 * rng.gauss(0, 1)) if i < 300 else 0.060
        store.record_check(CheckResult("auth", clock.now, True, latency, 200))
        store.record_check(
            CheckResult("memory", clock.now, True, 0.005 * (1 + 0.1 * rng.gauss(0, 1)), 200)
        )
        engine.step()
        if i == 299:  # noise alone: nothing flagged
            assert by_kind(store, "anomaly") == []
        if i == 303:
            break
    anomalies = by_kind(store, "anomaly")
    assert [a.subject for a in anomalies] == ["latency:auth"]
    a = anomalies[0]
    assert a.service == "auth"
    assert step_at <= a.started_at <= step_at + 30
    assert "auth latency is 60.0 ms, usually 10" in a.explanation
    assert "Why it matters" in a.explanation
    _, flagged, _ = store.anomaly_scores()["latency:auth"]
    assert flagged
    assert not store.anomaly_scores()["latency:memory"][1]
    assert store.prediction_value("anomaly_score", "auth") == pytest.approx(a.score)
    assert store.anomaly_marks("latency:auth")[0][:2] == (a.started_at, 0.060)
    expert = store.anomaly_marks("latency:auth")[0][2]
    assert expert == a.detail["expert"] in {"value", "shift", "new_extreme", "departure"}
    assert "Seen: " in a.explanation


def test_pure_noise_produces_few_flags() -> None:
    store, engine, clock = build()
    rng = random.Random(11)
    flagged = 0
    for i in range(3000):
        clock.now = T0 + 5 * i
        store.record_check(
            CheckResult("auth", clock.now, True, 0.02 * (1 + 0.2 * rng.gauss(0, 1)), 200)
        )
        if i % 10 == 9:
            engine.step()
            flagged += store.anomaly_scores()["latency:auth"][1]
    assert flagged <= 300 * 0.02  # at most 2 % of the ticks


def test_disk_filling_linearly_is_forecast_within_10_percent_and_feeds_the_rule() -> None:
    store, engine, clock = build()
    rate = 10 * GiB / 3600  # 10 GiB an hour: from 70 GiB used, full in 3 h at the start
    for i in range(121):  # every 15 s for 30 minutes
        clock.now = T0 + 15 * i
        store.record_system(sample(clock.now, disk_used=70 * GiB + rate * 15 * i))
        engine.step()
    forecast = next(p for p in by_kind(store, "exhaustion") if p.subject == "disk:/")
    truth = (100 * GiB - (70 * GiB + rate * 1800)) / rate  # 2.5 h left
    assert forecast.value == pytest.approx(truth, rel=0.10)
    assert forecast.title.startswith("disk / full in 2 h")
    assert "Why it matters" in forecast.explanation
    assert forecast.severity is Severity.MEDIUM
    assert store.prediction_value("disk_exhaustion_s", "disk:/") == forecast.value
    rule = next(r for r in default_rules(store.config) if r.name == "disk_full_soon")
    evaluator = Evaluator([rule], store)
    assert evaluator.evaluate(clock.now) == []  # 2.5 h: not yet under 2 h
    for i in range(121, 280):  # keep filling: under 2 h left (1 h 50 m)
        clock.now = T0 + 15 * i
        store.record_system(sample(clock.now, disk_used=70 * GiB + rate * 15 * i))
        engine.step()
    [fired] = evaluator.evaluate(clock.now)
    assert fired.state is AlertState.FIRING
    assert fired.alert.subject == "disk:/"
    assert fired.alert.service == "host"
    assert fired.alert.value < 7200
    assert (
        next(p for p in by_kind(store, "exhaustion") if p.subject == "disk:/").severity
        is Severity.HIGH
    )  # critical: < 2 h


def test_steady_disk_and_memory_get_no_forecast() -> None:
    store, engine, clock = build()
    rng = random.Random(5)
    for i in range(121):
        clock.now = T0 + 15 * i
        store.record_system(
            sample(
                clock.now,
                disk_used=60 * GiB + rng.random() * MiB,
                mem_available=8 * GiB - rng.random() * 64 * MiB,
            )
        )
        engine.step()
    assert by_kind(store, "exhaustion") == []
    assert by_kind(store, "leak") == []
    assert store.prediction_subjects("disk_exhaustion_s") == {}


def test_growing_process_rss_is_a_leak_suspect() -> None:
    store, engine, clock = build()
    for i in range(121):
        clock.now = T0 + 15 * i
        store.record_system(sample(clock.now, rss=200 * MiB + i * 2 * MiB))
        engine.step()
    [leak] = by_kind(store, "leak")
    assert leak.subject == "node (pid 7)"
    assert leak.score > 0.9
    assert "possible memory leak" in leak.explanation


def test_failing_checks_forecast_the_error_budget() -> None:
    store, engine, clock = build()
    for i in range(120):
        clock.now = T0 + 30 * i
        ok = i % 4 != 0  # a quarter fail: far above auth's 0.1 % budget
        store.record_check(
            CheckResult("auth", clock.now, ok, 0.01 if ok else None, 200 if ok else 500)
        )
    engine.step()
    [budget] = by_kind(store, "error_budget")
    assert budget.subject == "auth"
    assert budget.severity is Severity.HIGH
    assert "error budget" in budget.explanation
    assert "burn rate" in budget.explanation
    assert store.prediction_value("budget_exhaustion_s", "auth") == budget.value


def _slow_auth(store: Store, engine: PredictionEngine, clock: FakeClock) -> None:
    for i in range(60):
        clock.now = T0 + 5 * i
        store.record_check(CheckResult("auth", clock.now, True, 0.25, 200))
        store.record_check(CheckResult("memory", clock.now, True, 0.01, 200))
    engine.step()


def test_capacity_advice_without_kubernetes_says_the_replica_count_is_unknown() -> None:
    store, engine, clock = build("scaling: {enabled: true, min_replicas: 1, max_replicas: 4}\n")
    _slow_auth(store, engine, clock)
    [advice] = by_kind(store, "capacity")
    assert advice.subject == "auth"
    assert advice.value == 3
    assert "current replica count unknown" in advice.explanation
    assert "p95 latency 250 ms (5 min) against a 100 ms SLO" in advice.explanation


def test_capacity_advice_for_a_deployment_stays_within_max_replicas() -> None:
    store, engine, clock = build("scaling: {enabled: true, min_replicas: 2, max_replicas: 6}\n")
    store.kube.replace(
        "deployments",
        {
            "auth": DeploymentInfo(
                "auth", "devmentor", desired=4, ready=4, updated=4, available=4, service="auth"
            )
        },
    )
    _slow_auth(store, engine, clock)
    [advice] = by_kind(store, "capacity")
    assert advice.subject == "auth"
    assert advice.detail["current"] == 4
    assert advice.value == 6
    assert "kept within 2..6 replicas" in advice.explanation


def test_no_capacity_advice_when_scaling_is_off() -> None:
    store, engine, clock = build()
    _slow_auth(store, engine, clock)
    assert by_kind(store, "capacity") == []


def test_an_incident_gets_ranked_causes_from_dependencies_deploys_and_anomalies() -> None:
    store, engine, clock = build()
    for i in range(200):
        clock.now = T0 + 10 * i
        store.record_check(CheckResult("auth", clock.now, True, 0.010 + 0.0005 * (i % 3), 200))
        engine.step()
    deploy_at = clock.now - 120
    store.record_events(
        [Event(deploy_at, "deploy.finished", "auth", EventSeverity.INFO, "auth v2.3.1 rolled out")]
    )
    for i in range(200, 206):  # auth slows down, then fails
        clock.now = T0 + 10 * i
        store.record_check(CheckResult("auth", clock.now, True, 0.300, 200))
        engine.step()
    for _ in range(3):
        clock.now += 10
        store.record_check(CheckResult("auth", clock.now, False, None, error="refused"))
    incident = Incident(
        "inc-1",
        "memory",
        "service_down",
        Severity.HIGH,
        "memory down",
        "",
        IncidentState.OPEN,
        clock.now,
        clock.now,
    )
    store.put_incident(incident)
    engine.step()
    causes = store.root_causes("inc-1")
    assert causes[0].subject == "auth"
    assert {"dependency", "deploy.finished", "anomaly"} <= set(causes[0].kinds)
    assert any("auth v2.3.1" in e for e in causes[0].evidence)


def test_event_rates_are_watched_series() -> None:
    store, engine, clock = build()
    for i in range(30):
        clock.now = T0 + 10 * i
        store.record_events([Event(clock.now, "user.login", "auth", EventSeverity.INFO, "login")])
        engine.step()
    scores = store.anomaly_scores()
    assert "events:type:user.login" in scores
    assert "events:service:auth" in scores


def test_the_number_of_series_is_capped() -> None:
    store, engine, _ = build("predictions: {max_series: 3}\n")
    store.record_system(sample(T0))
    store.record_check(CheckResult("auth", T0, True, 0.01, 200))
    engine.step(T0)
    assert len(store.anomaly_scores()) == 3
    assert store.prediction_status["series_dropped"] > 0


def test_kept_scores_marks_and_warmup_count_match_every_series_each_step() -> None:
    """The engine keeps its scores and marks from step to step and feeds only the services
    with a new check; what it publishes must still be every series as it stands, and a
    check between two steps must be fed (a latency step gets flagged and marked)."""
    store, engine, clock = build("predictions: {warmup: 30}\n")
    rng = random.Random(7)
    flagged = False
    for i in range(120):
        clock.now = T0 + 10 * i
        for name in ("auth", "memory"):
            if name == "memory" and i % 3:  # memory is checked on every third step only
                continue
            slow = name == "auth" and i >= 100
            latency = (0.5 if slow else 0.02) + rng.uniform(0, 0.002)
            store.record_check(CheckResult(name, clock.now, True, latency, 200))
        store.record_system(sample(clock.now, cpu=30 + rng.uniform(0, 1)))
        engine.step()
        series = engine._series
        assert store.anomaly_scores() == {
            k: (round(s.detector.score, 4), s.detector.flag, round(s.detector.rate, 4))
            for k, s in series.items()
        }
        assert {k: v for k, v in store._anomaly_marks.items() if v} == {
            k: tuple(s.marks) for k, s in series.items() if s.marks
        }
        assert store.prediction_status["warming_up"] == sum(
            1 for s in series.values() if s.detector.baseline[2] < 30
        )
        flagged |= store.anomaly_scores()["latency:auth"][1]
    assert flagged
    assert store.anomaly_marks("latency:auth")
    assert store.prediction_status["warming_up"] < len(engine._series)
