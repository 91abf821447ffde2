"""Evidence before paging: multiwindow burn rates with coverage, and service_down only
after failure_threshold checks. The real Store and Evaluator on a fake clock."""

from __future__ import annotations

import textwrap

import pytest
from support.clock import T0, FakeClock

from devmentor_monitor.config.schema import (
    DEFAULT_BURN_PAIRS,
    BurnPair,
    BurnRateSettings,
    parse_text,
)
from devmentor_monitor.config.yaml_lines import ConfigError
from devmentor_monitor.incidents.model import Severity
from devmentor_monitor.incidents.rules import (
    AlertState,
    Evaluator,
    Rule,
    Transition,
    build_rules,
    burn_rate,
    default_rules,
    window_burn,
)
from devmentor_monitor.model import CheckResult, Health
from devmentor_monitor.store import Store

SLO = "{uptime: 99.9, response_time: 200ms, error_rate: 0.1}"


def config(failure_threshold: int = 3, success_threshold: int = 1, extra: str = "") -> str:
    return extra + textwrap.dedent(
        f"""\
        services:
          - name: auth
            url: http://127.0.0.1:1/health
            interval: 2s
            failure_threshold: {failure_threshold}
            success_threshold: {success_threshold}
            slo: {SLO}
        """
    )


def check(ts: float, ok: bool) -> CheckResult:
    return CheckResult(
        "auth", ts, ok=ok, latency=0.01 if ok else None, error=None if ok else "connection refused"
    )


def build(text: str | None = None) -> tuple[Store, FakeClock]:
    clock = FakeClock()
    return Store(parse_text(text or config()), clock=clock), clock


def rules(store: Store, *names: str) -> list[Rule]:
    return [r for r in default_rules(store.config) if r.name in names]


def step(store: Store, clock: FakeClock, ev: Evaluator, ok: bool, dt: float = 1.0) -> list[str]:
    """One check ``dt`` after the last, then a tick: "rule:state" per transition."""
    clock.now += dt
    store.record_check(check(clock.now, ok))
    return [label(t) for t in ev.evaluate(clock.now, {"auth"})]


def label(t: Transition) -> str:
    return f"{t.alert.rule.name}:{t.state.value}"


def two_percent_hour(store: Store, clock: FakeClock, ev: Evaluator) -> dict[str, float]:
    """An hour of checks at 1/s, 2 % failing on a 99.9 % SLO (a 20x burn): when each
    transition happened, in seconds after the first check."""
    seen: dict[str, float] = {}
    for i in range(3600):
        for t in step(store, clock, ev, ok=i % 50 != 0):
            seen.setdefault(t, clock.now - (T0 + 1))
    return seen


# --------------------------------------------------------------------------- burn windows


def test_one_failed_check_fires_nothing():
    store, clock = build()
    ev = Evaluator(default_rules(store.config), store)
    assert step(store, clock, ev, ok=False) == []
    assert store.status("auth") is Health.DOWN  # shown down at once
    assert ev.firing() == []
    # One failure in ten good checks is a 100x burn over 10 s: still no window is covered.
    for _ in range(10):
        assert step(store, clock, ev, ok=True) == []


def test_sustained_two_percent_fires_the_fast_pair_once_the_long_window_is_covered():
    store, clock = build()
    ev = Evaluator(rules(store, "burn_rate_fast", "burn_rate_slow"), store)
    seen = two_percent_hour(store, clock, ev)
    # The fast pair needs its 1 h window a quarter covered (15 min); 6 h of the slow
    # pair needs 1 h 30 min, so it stays quiet for this hour.
    assert list(seen) == ["burn_rate_fast:firing"]
    assert seen["burn_rate_fast:firing"] == pytest.approx(900, abs=1)
    alert = ev.alerts[("burn_rate_fast", "auth")]
    assert alert.state is AlertState.FIRING
    assert alert.value is not None
    assert alert.value > 14.4  # about 20x; the 5 m window's share varies with its buckets
    assert alert.rule.severity is Severity.CRITICAL


def test_the_short_window_resets_it_while_the_long_window_still_burns():
    store, clock = build()
    ev = Evaluator(rules(store, "burn_rate_fast"), store)
    assert list(two_percent_hour(store, clock, ev)) == ["burn_rate_fast:firing"]
    stopped = clock.now
    resolved_after = None
    for _ in range(600):  # the errors stop
        if step(store, clock, ev, ok=True) == ["burn_rate_fast:resolved"]:
            resolved_after = clock.now - stopped
            break
    # The 5 m window (minute buckets) is clean within 6 min ...
    assert resolved_after is not None
    assert resolved_after <= 6 * 60
    # ... while the 1 h window still burns above 14.4: it alone would hold it for ~12 min.
    assert burn_rate(store, "auth", 3600, clock.now, 99.9) > 14.4


def test_no_burn_rate_before_the_windows_are_covered():
    store, clock = build()
    ev = Evaluator(rules(store, "burn_rate_fast", "burn_rate_slow"), store)
    for _ in range(120):  # a service failing every check for 2 minutes: 1000x
        assert step(store, clock, ev, ok=False) == []
    assert ("burn_rate_fast", "auth") not in ev.alerts  # nothing evaluated, nothing tracked
    fired = None
    for _ in range(16 * 60 - 120):
        if step(store, clock, ev, ok=False) == ["burn_rate_fast:firing"]:
            fired = clock.now - (T0 + 1)
    assert fired == pytest.approx(900, abs=1)  # a quarter of 1 h
    assert ("burn_rate_slow", "auth") not in ev.alerts  # 6 h: not before 1 h 30 min


def test_a_firing_burn_alert_holds_while_a_window_has_too_few_checks():
    store, clock = build()
    ev = Evaluator(rules(store, "burn_rate_fast"), store)
    assert "burn_rate_fast:firing" in two_percent_hour(store, clock, ev)
    # Checks thin out to one a minute: the 5 m window soon holds fewer than 10 checks, so
    # it says nothing; that is no evidence that the burn stopped.
    for _ in range(20):
        assert step(store, clock, ev, ok=False, dt=60) == []
    assert ev.alerts[("burn_rate_fast", "auth")].state is AlertState.FIRING


def test_window_burn_coverage_and_minimum_checks():
    s = BurnRateSettings()
    hour = 3600.0
    assert window_burn((100, 98, 2), hour, 899, 99.9, s) is None  # under 25 % of the hour
    assert window_burn((100, 98, 2), hour, 900, 99.9, s) == pytest.approx(20.0)
    assert window_burn((9, 0, 9), hour, hour, 99.9, s) is None  # under min_checks
    assert window_burn((10, 0, 10), hour, hour, 99.9, s) == pytest.approx(1000.0)
    off = BurnRateSettings(min_coverage=0, min_checks=1)
    assert window_burn((1, 0, 1), hour, 0, 99.9, off) == pytest.approx(1000.0)
    assert window_burn((0, 0, 0), hour, hour, 99.9, off) is None  # no checks, no rate


# --------------------------------------------------------------------------- service_down


def test_cold_start_shows_down_at_once_but_pages_only_at_failure_threshold():
    store, clock = build(config(failure_threshold=3))
    ev = Evaluator(default_rules(store.config), store)
    assert step(store, clock, ev, ok=False, dt=2) == []
    assert store.status("auth") is Health.DOWN
    assert store.service("auth").status is Health.DOWN
    assert not store.down_confirmed("auth")
    assert step(store, clock, ev, ok=False, dt=2) == []
    assert step(store, clock, ev, ok=False, dt=2) == ["service_down:firing"]
    assert store.down_confirmed("auth")


def test_a_firing_down_alert_holds_until_success_threshold():
    store, clock = build(config(failure_threshold=2, success_threshold=2))
    ev = Evaluator(rules(store, "service_down"), store)
    for _ in range(3):  # up first
        assert step(store, clock, ev, ok=True) == []
    assert step(store, clock, ev, ok=False) == []
    assert step(store, clock, ev, ok=False) == ["service_down:firing"]
    # One good check is not yet recovery, and a failure after it not yet a new outage.
    assert step(store, clock, ev, ok=True) == []
    assert step(store, clock, ev, ok=False) == []
    assert step(store, clock, ev, ok=True) == []
    assert ev.alerts[("service_down", "auth")].state is AlertState.FIRING
    assert step(store, clock, ev, ok=True) == ["service_down:resolved"]
    assert store.status("auth") is Health.UP


def test_a_cold_start_failure_that_recovers_never_pages():
    store, clock = build(config(failure_threshold=3))
    ev = Evaluator(rules(store, "service_down"), store)
    assert step(store, clock, ev, ok=False) == []
    assert step(store, clock, ev, ok=True) == []
    assert store.status("auth") is Health.UP
    assert ev.alerts == {}


def test_a_stopped_workload_is_confirmed_down_at_once():
    store, clock = build(config(failure_threshold=3))
    ev = Evaluator(rules(store, "service_down"), store)
    store.set_workload_down("auth", "container exited (137)")
    assert store.down_confirmed("auth")
    assert [label(t) for t in ev.evaluate(clock.now, {"auth"})] == ["service_down:firing"]


# --------------------------------------------------------------------------- config


def test_default_pairs_make_the_documented_rules():
    store, _ = build()
    assert store.config.alerting.burn_rate == BurnRateSettings()
    assert BurnRateSettings().pairs == DEFAULT_BURN_PAIRS
    assert (BurnRateSettings().min_coverage, BurnRateSettings().min_checks) == (0.25, 10)
    burn = {r.name: r for r in default_rules(store.config) if r.name.startswith("burn_rate_")}
    assert list(burn) == ["burn_rate_fast", "burn_rate_slow"]
    fast, slow = burn["burn_rate_fast"], burn["burn_rate_slow"]
    assert (fast.metric, fast.threshold, fast.severity) == ("burn_fast", 14.4, Severity.CRITICAL)
    assert (slow.metric, slow.threshold, slow.severity) == ("burn_slow", 6.0, Severity.HIGH)
    assert fast.description == "error budget burning 14.4x over both 1h and 5m"


def test_configured_pairs_and_a_rule_on_their_metric():
    cfg = parse_text(
        textwrap.dedent(
            """\
            alerting:
              burn_rate:
                min_coverage: 0.5
                min_checks: 3
                pairs:
                  - {name: page, factor: 10, long: 30m, short: 2m, severity: critical}
                  - {name: ticket, factor: 2, long: 1d, short: 2h}
            alerts:
              rules:
                - {name: page_me, metric: burn_page, above: 20}
            """
        )
    )
    s = cfg.alerting.burn_rate
    assert (s.min_coverage, s.min_checks) == (0.5, 3)
    assert s.pairs == (
        BurnPair("page", 10.0, 1800.0, 120.0, "critical"),
        BurnPair("ticket", 2.0, 86400.0, 7200.0, "high"),
    )
    assert [r.name for r in default_rules(cfg) if r.metric.startswith("burn_")] == [
        "burn_rate_page",
        "burn_rate_ticket",
    ]
    [rule] = build_rules(cfg)
    assert (rule.metric, rule.threshold) == ("burn_page", 20.0)
    off = parse_text("alerting:\n  burn_rate:\n    pairs: []\n")
    assert not [r for r in default_rules(off) if r.name.startswith("burn_rate_")]


def test_a_configured_pair_fires_on_its_own_windows():
    text = config(
        extra="alerting:\n  burn_rate:\n    min_checks: 3\n    pairs:\n"
        "      - {name: quick, factor: 10, long: 10m, short: 1m}\n"
    )
    store, clock = build(text)
    ev = Evaluator(build_rules(store.config), store)
    got: list[str] = []
    for _ in range(30):  # every check failing, every 10 s; service_down at the third
        got += step(store, clock, ev, ok=False, dt=10)
    assert got[0] == "service_down:firing"
    assert "burn_rate_quick:firing" in got  # 10 m a quarter covered after 150 s


@pytest.mark.parametrize(
    ("text", "line", "key", "fragment"),
    [
        (
            "pairs:\n      - {name: fast, factor: 14.4, long: 5m, short: 1h}\n",
            5,
            "alerting.burn_rate.pairs.fast.short",
            "must be shorter than long (5m), got 1h",
        ),
        (
            "pairs:\n      - {name: slow, factor: 6, long: 30d, short: 30m}\n",
            5,
            "alerting.burn_rate.pairs.slow.long",
            "must be between 1m and 7d",
        ),
        (
            "pairs:\n      - {name: fast, factor: 14.4, long: 1h, short: 10s}\n",
            5,
            "alerting.burn_rate.pairs.fast.short",
            "must be between 1m and 7d",
        ),
        (
            "pairs:\n      - {name: fast, long: 1h, short: 5m}\n",
            5,
            "alerting.burn_rate.pairs.fast",
            "missing required key 'factor'",
        ),
        (
            "pairs:\n      - {name: fast, factor: 0, long: 1h, short: 5m}\n",
            5,
            "alerting.burn_rate.pairs.fast.factor",
            "must be positive",
        ),
        (
            "pairs:\n      - {name: fast, factor: 2, long: 1h, short: 5m, severity: page}\n",
            5,
            "alerting.burn_rate.pairs.fast.severity",
            "must be one of",
        ),
        (
            "pairs:\n      - {name: a, factor: 2, long: 1h, short: 5m}\n"
            "      - {name: a, factor: 3, long: 2h, short: 5m}\n",
            6,
            "alerting.burn_rate.pairs.a",
            "duplicate burn-rate pair",
        ),
        ("pairs: fast\n", 4, "alerting.burn_rate.pairs", "must be a list"),
        ("min_coverage: 2\n", 4, "alerting.burn_rate.min_coverage", "between 0 and 1"),
        ("min_checks: 0\n", 4, "alerting.burn_rate.min_checks", "between 1 and 100000"),
        ("colour: red\n", 4, "alerting.burn_rate.colour", "unknown key"),
    ],
)
def test_config_errors_name_line_and_key(text, line, key, fragment):
    source = "services: []\nalerting:\n  burn_rate:\n    " + text
    with pytest.raises(ConfigError) as info:
        parse_text(source, "services.yaml")
    err = info.value
    assert (err.source, err.line, err.key) == ("services.yaml", line, key)
    assert fragment in err.message
    assert str(err).startswith(f"services.yaml:{line}: {key}: ")


def test_a_rule_on_a_pair_that_is_not_configured_is_an_error():
    text = (
        "alerting:\n  burn_rate:\n    pairs: [{name: page, factor: 10, long: 1h, short: 5m}]\n"
        "alerts:\n  rules:\n    - {name: r, metric: burn_fast, above: 1}\n"
    )
    with pytest.raises(ConfigError) as info:
        parse_text(text, "services.yaml")
    assert (info.value.line, info.value.key) == (6, "alerts.rules.r.metric")
    assert "unknown metric 'burn_fast'" in info.value.message
    assert "burn_page" in info.value.message
