"""FlapDetector: Nagios percent state change, hysteresis, persistence; alerting.flapping."""

from __future__ import annotations

import textwrap

import pytest

from devmentor_monitor.config.schema import ConfigError, FlappingSettings, parse_text
from devmentor_monitor.incidents.flapping import (
    FlapChange,
    FlapDetector,
    FlapSnapshot,
    percent_state_change,
)


def feed(det: FlapDetector, service: str, results: str) -> list[FlapChange]:
    """'1' ok, '0' failed; the changes reported, in order."""
    return [c for ch in results if (c := det.observe(service, ch == "1")) is not None]


def test_alternating_results_are_100_percent_and_flapping():
    det = FlapDetector()
    changes = feed(det, "auth", "10" * 11)  # 22 results, the window keeps 21
    assert percent_state_change([i % 2 == 0 for i in range(21)]) == pytest.approx(1.0)
    assert det.state("auth").change == pytest.approx(1.0)
    assert det.state("auth").results == 21
    assert det.state("auth").flapping
    assert changes[0].flapping
    assert changes[0].service == "auth"
    assert len(changes) == 1  # started once, then stays flapping
    assert det.flapping() == ["auth"]


def test_not_before_min_checks():
    det = FlapDetector(min_checks=10)
    assert feed(det, "auth", "101010101") == []  # 9 results
    assert not det.state("auth").flapping
    assert feed(det, "auth", "0") == [FlapChange("auth", True, pytest.approx(1.0))]


def test_hysteresis_starts_above_high_and_stops_below_low():
    det = FlapDetector()
    assert feed(det, "auth", "10" * 10 + "1")[-1].flapping
    # Settling: the change falls, but between low and high it keeps flapping.
    stopped_at = None
    for i in range(1, 40):
        change = det.observe("auth", True)
        pct = det.state("auth").change
        if change is None:
            assert det.state("auth").flapping == (pct >= 0.10)
        else:
            assert not change.flapping
            assert change.change < 0.10
            stopped_at = i
            break
    assert stopped_at is not None
    # It was still flapping at a change below high (0.30) and above low: hysteresis.
    det2 = FlapDetector()
    feed(det2, "auth", "10" * 10 + "1")
    seen_middle = False
    for _ in range(40):
        det2.observe("auth", True)
        s = det2.state("auth")
        if 0.10 <= s.change <= 0.30:
            seen_middle = True
            assert s.flapping
    assert seen_middle
    assert not det2.state("auth").flapping
    # Starting again needs the change above high, not above low.
    det3 = FlapDetector()
    feed(det3, "x", "1" * 16 + "0101")  # 4 changes on the newest transitions ≈ 0.23
    assert 0.10 < det3.state("x").change < 0.30
    assert not det3.state("x").flapping


@pytest.mark.parametrize("length", [10, 12, 15, 21, 30])
@pytest.mark.parametrize("down", [1, 3, 5, 10])
def test_a_single_outage_is_never_flapping(length, down):
    """Up, down for a while, up again: 2 changes, never flapping, wherever it falls."""
    for start in range(length):
        det = FlapDetector()
        results = "1" * start + "0" * down + "1" * length
        assert feed(det, "auth", results) == [], results
        assert not det.state("auth").flapping


def test_hand_computed_nagios_example():
    """21 results, changes on transitions 0, 5, 10 and 19 (0 = oldest of 20).
    Weight of transition k: 0.8 + 0.4·k/19.
      k=0 → 0.8; k=5 → 0.905263; k=10 → 1.010526; k=19 → 1.2; sum 3.915789, /20 = 0.195789.
    """
    results = [True] + [False] * 5 + [True] * 5 + [False] * 9 + [True]
    assert len(results) == 21
    changed = [k for k in range(20) if results[k] != results[k + 1]]
    assert changed == [0, 5, 10, 19]
    assert percent_state_change(results) == pytest.approx(0.195789, abs=1e-6)
    det = FlapDetector()
    for ok in results:
        det.observe("auth", ok)
    assert det.state("auth").change == pytest.approx(0.195789, abs=1e-6)
    assert not det.state("auth").flapping  # 19.6 % is below the 30 % start


def test_newest_changes_weigh_more():
    old = [True, False] + [False] * 19
    new = [True] * 20 + [False]
    assert percent_state_change(old) == pytest.approx(0.8 / 20)
    assert percent_state_change(new) == pytest.approx(1.2 / 20)


def test_fewer_results_than_the_window():
    assert percent_state_change([]) == 0.0
    assert percent_state_change([True]) == 0.0
    assert percent_state_change([True, False]) == pytest.approx(0.8)
    assert percent_state_change([True, False, True]) == pytest.approx((0.8 + 1.2) / 2)


def test_services_are_independent_and_unknown_is_quiet():
    det = FlapDetector()
    feed(det, "auth", "10" * 11)
    feed(det, "memory", "1" * 21)
    assert det.state("auth").flapping
    assert not det.state("memory").flapping
    s = det.state("nobody")
    assert (s.flapping, s.change, s.results) == (False, 0.0, 0)
    det.forget("auth")
    assert det.flapping() == []


def test_snapshot_and_restore_carry_the_state():
    det = FlapDetector()
    feed(det, "auth", "10" * 11)
    feed(det, "memory", "1110")
    snap = det.snapshot()
    assert snap["auth"] == FlapSnapshot("0" + "10" * 10, True)
    assert snap["memory"] == FlapSnapshot("1110", False)
    again = FlapDetector()
    again.restore(snap)
    assert again.state("auth") == det.state("auth")
    assert again.state("memory") == det.state("memory")
    assert again.observe("auth", True) is None  # still flapping: no second start
    with pytest.raises(ValueError, match="'0's and '1's"):
        again.restore({"x": FlapSnapshot("1x0", False)})
    small = FlapDetector(window=5, min_checks=3)
    small.restore({"a": FlapSnapshot("1111100", False)})
    assert small.state("a").results == 5


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"window": 2}, "window"),
        ({"high": 0.1, "low": 0.1}, "low < high"),
        ({"high": 1.5}, "low < high"),
        ({"min_checks": 22}, "min_checks"),
        ({"min_checks": 1}, "min_checks"),
    ],
)
def test_bad_parameters(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        FlapDetector(**kwargs)


# --------------------------------------------------------------------------- config


def test_config_defaults_and_values():
    assert parse_text("server: {}\n").alerting.flapping == FlappingSettings(21, 0.3, 0.1, 10)
    cfg = parse_text(
        textwrap.dedent(
            """\
            alerting:
              flapping:
                window: 11
                high: 0.5
                low: 0.2
                min_checks: 5
                severity: high
            """
        )
    )
    s = cfg.alerting.flapping
    assert (s.window, s.high, s.low, s.min_checks, s.severity) == (11, 0.5, 0.2, 5, "high")
    det = FlapDetector.from_settings(s)
    assert (det.window, det.high, det.low, det.min_checks) == (11, 0.5, 0.2, 5)


@pytest.mark.parametrize(
    ("text", "line", "key", "fragment"),
    [
        (
            "alerting:\n  flapping:\n    high: 0.1\n    low: 0.2\n",
            2,
            "alerting.flapping",
            "low (0.2) must be below high (0.1)",
        ),
        (
            "alerting:\n  flapping:\n    window: 5\n",
            2,
            "alerting.flapping",
            "min_checks (10) must not exceed window (5)",
        ),
        ("alerting:\n  flapping:\n    high: 2\n", 3, "alerting.flapping.high", "between 0 and 1"),
        ("alerting:\n  flapping:\n    window: x\n", 3, "alerting.flapping.window", "integer"),
        ("alerting:\n  flapping:\n    colour: 1\n", 3, "alerting.flapping.colour", "unknown key"),
        ("alerting:\n  bogus: 1\n", 2, "alerting.bogus", "unknown key"),
        ("alerting:\n  flapping: 3\n", 2, "alerting.flapping", "must be a mapping"),
    ],
)
def test_config_errors_name_line_and_key(text, line, key, fragment):
    with pytest.raises(ConfigError) as info:
        parse_text(text, "services.yaml")
    err = info.value
    assert (err.source, err.line, err.key) == ("services.yaml", line, key)
    assert fragment in err.message
    assert str(err).startswith(f"services.yaml:{line}: {key}: ")
