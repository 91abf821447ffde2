"""The health domain's pure maths: state transitions, SLO figures, percentiles."""

from __future__ import annotations

import pytest

from devmentor_monitor.config.schema import SLO
from devmentor_monitor.health.percentiles import latency_percentiles, percentile
from devmentor_monitor.health.slo import (
    error_budget_remaining,
    ratio,
    slo_compliant,
    slo_figures,
)
from devmentor_monitor.health.state_machine import (
    HealthRules,
    HealthState,
    confirmed_down,
    transition,
)
from devmentor_monitor.model import Health

RULES = HealthRules(failure_threshold=3, success_threshold=2, latency_limit=0.1)


def run(checks: list[tuple[bool, float | None]], rules: HealthRules = RULES) -> list[Health]:
    state = HealthState()
    out = []
    for ok, latency in checks:
        state = transition(state, ok, latency, rules)
        out.append(state.status)
    return out


def test_first_result_decides():
    assert run([(True, 0.01)]) == [Health.UP]
    assert run([(False, None)]) == [Health.DOWN]


def test_a_first_failure_shows_down_but_is_confirmed_only_at_failure_threshold():
    state = HealthState()
    confirmed = []
    for _ in range(3):
        state = transition(state, False, None, RULES)
        confirmed.append((state.status, confirmed_down(state, RULES)))
    assert confirmed == [(Health.DOWN, False), (Health.DOWN, False), (Health.DOWN, True)]
    state = transition(state, True, 0.01, RULES)  # 1 of 2 successes: down, not confirmed
    assert (state.status, confirmed_down(state, RULES)) == (Health.DOWN, False)


def test_down_after_failure_threshold_up_after_success_threshold():
    statuses = run(
        [(True, 0.01), (False, None), (False, None), (False, None), (True, 0.01), (True, 0.01)]
    )
    assert statuses == [
        Health.UP,
        Health.UP,
        Health.UP,
        Health.DOWN,
        Health.DOWN,  # 1 of 2 successes
        Health.UP,
    ]


def test_counts_in_a_row_reset_on_the_other_outcome():
    state = HealthState()
    for ok in (True, False, False, True, False):
        state = transition(state, ok, 0.01 if ok else None, RULES)
    assert state == HealthState(Health.UP, fails_in_row=1, oks_in_row=0)


def test_slow_success_is_degraded_and_recovers():
    assert run([(True, 0.2), (True, 0.05)]) == [Health.DEGRADED, Health.UP]
    assert run([(True, None)]) == [Health.UP]  # no latency: nothing to judge


def test_ratio_and_budget():
    assert ratio(1, 0) is None
    assert ratio(99, 100) == 99.0
    assert error_budget_remaining(99.0, 99.5) == pytest.approx(0.5)
    assert error_budget_remaining(99.0, 98.0) == pytest.approx(-1.0)
    assert error_budget_remaining(100.0, 100.0) == 1.0
    assert error_budget_remaining(100.0, 99.9) == -1.0


def test_compliance_needs_uptime_latency_and_error_rate():
    slo = SLO(uptime=99.0, response_time=0.1, error_rate=1.0)
    assert slo_compliant(slo, 99.5, 0.05, 0.5)
    assert slo_compliant(slo, 99.5, None, None)
    assert not slo_compliant(slo, 98.0, 0.05, 0.5)
    assert not slo_compliant(slo, 99.5, 0.2, 0.5)
    assert not slo_compliant(slo, 99.5, 0.05, 2.0)


def test_slo_figures_from_counts():
    slo = SLO(uptime=99.0, response_time=0.1, error_rate=50.0)
    f = slo_figures((4, 3, 1), (10, 9, 1), (100, 99, 1), 0.05, slo)
    assert (f.uptime_1h, f.uptime_24h, f.uptime_7d, f.error_rate_1h) == (75.0, 90.0, 99.0, 25.0)
    assert f.compliant is True
    assert f.budget == pytest.approx(0.0)
    none = slo_figures((0, 0, 0), (0, 0, 0), (0, 0, 0), None, slo)
    assert (none.uptime_7d, none.compliant, none.budget) == (None, None, None)
    assert slo_figures((4, 3, 1), (4, 3, 1), (4, 3, 1), None, None).compliant is None


def test_percentiles():
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.0
    assert latency_percentiles([]) == (None, None, None)
    values = [float(i) for i in range(1, 101)]
    assert latency_percentiles(values) == (50.0, 95.0, 99.0)
