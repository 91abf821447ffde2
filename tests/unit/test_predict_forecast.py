"""Forecasts on synthetic series with known answers."""

from __future__ import annotations

import math
import random
import tracemalloc

import pytest

from devmentor_monitor.predictions.forecast import (
    HOUR,
    ExhaustionAlarm,
    TrendWindow,
    error_budget_exhaustion,
    human_duration,
    leak_suspicion,
    theil_sen,
    time_to_exhaustion,
)

GIB = 2**30


def _fill(
    rate_per_h: float,
    minutes: int = 30,
    step_s: float = 10.0,
    start: float = 50 * GIB,
    noise: float = 0.0,
    seed: int = 1,
) -> tuple[list[float], list[float]]:
    rng = random.Random(seed)
    ts = [1_700_000_000 + i * step_s for i in range(int(minutes * 60 / step_s))]
    used = [start + rate_per_h * (t - ts[0]) / HOUR + rng.gauss(0, noise) for t in ts]
    return ts, used


@pytest.mark.parametrize("noise", [0.0, 0.05 * GIB])
def test_linear_fill_predicts_time_to_full_within_10_percent(noise: float) -> None:
    ts, used = _fill(2.0 * GIB, noise=noise)
    capacity = 100 * GIB
    truth = (capacity - (50 * GIB + 2.0 * GIB * (ts[-1] - ts[0]) / HOUR)) / (2.0 * GIB) * HOUR
    fc = time_to_exhaustion("disk /", ts, used, capacity)
    assert fc is not None
    assert abs(fc.seconds_to_exhaustion - truth) <= 0.10 * truth
    assert fc.confidence > 0.9
    assert fc.explanation.startswith("disk / full in ")
    assert "GiB/h" in fc.explanation
    assert "fit over 29 m" in fc.explanation


def test_outliers_do_not_bend_the_fit() -> None:
    ts, used = _fill(1.0 * GIB)
    for i in range(0, len(used), 17):  # a few wild readings
        used[i] += 20 * GIB
    fit = theil_sen(ts, used)
    assert fit is not None
    assert fit.slope * HOUR == pytest.approx(1.0 * GIB, rel=0.05)


def test_pure_noise_gives_no_forecast() -> None:
    rng = random.Random(3)
    ts = [i * 10.0 for i in range(180)]
    used = [50 * GIB + rng.gauss(0, GIB) for _ in ts]
    assert time_to_exhaustion("disk /", ts, used, 100 * GIB) is None


def test_flat_and_decreasing_give_no_forecast() -> None:
    ts = [i * 10.0 for i in range(180)]
    assert time_to_exhaustion("memory", ts, [4 * GIB] * len(ts), 8 * GIB) is None
    falling = [6 * GIB - i * 2**20 for i in range(len(ts))]
    assert time_to_exhaustion("memory", ts, falling, 8 * GIB) is None


def test_too_few_points_or_too_short_a_span_gives_no_forecast() -> None:
    assert time_to_exhaustion("memory", [0.0, 10.0, 20.0], [1.0, 2.0, 3.0], 10.0) is None
    ts = [i * 1.0 for i in range(60)]  # one minute only
    assert time_to_exhaustion("memory", ts, [float(i) for i in range(60)], 1000.0) is None


def test_alarm_hysteresis_warn_critical_and_clear_only_well_above() -> None:
    alarm = ExhaustionAlarm()  # warn < 8 h, critical < 2 h, clear > 1.5x
    assert alarm.update(10 * HOUR) == "ok"
    assert alarm.update(7 * HOUR) == "warning"
    assert alarm.update(1.5 * HOUR) == "critical"
    assert alarm.update(2.5 * HOUR) == "critical"  # above 2 h but not above 3 h
    assert alarm.update(3.5 * HOUR) == "critical"  # needs several calm updates
    assert alarm.update(3.5 * HOUR) == "critical"
    assert alarm.update(3.5 * HOUR) == "warning"
    assert alarm.update(9 * HOUR) == "warning"  # above 8 h but not above 12 h
    for _ in range(2):
        assert alarm.update(None) == "warning"
    assert alarm.update(None) == "ok"


def test_trend_window_is_bounded() -> None:
    window = TrendWindow(window_s=600, max_samples=50)
    for i in range(10_000):
        window.add(float(i), float(i))
    ts, _ = window.series()
    assert len(window) == 50
    assert ts[-1] == 9999.0


def test_trend_window_keeps_its_span_in_order_across_the_wrap() -> None:
    window = TrendWindow(window_s=100, max_samples=8)
    for i in range(13):
        window.add(i * 10.0, float(i))
    window.add(130.0, math.nan)  # not a point
    ts, vs = window.series()
    assert ts == [i * 10.0 for i in range(5, 13)]  # 8 slots, wrapped; the oldest gone
    assert vs == [float(i) for i in range(5, 13)]
    window.add(300.0, 1.0)  # everything older than 200 s drops out
    assert window.series() == ([300.0], [1.0])
    window.add(50.0, 2.0)  # the clock went back: start over
    assert window.series() == ([50.0], [2.0])


def test_trend_window_memory_is_allocated_once() -> None:
    """An hour of points every 5 s costs nothing past the window's creation (a deque of
    tuples grew ~100 bytes a point, RSS rising for the whole window in a soak)."""
    tracemalloc.start()
    try:
        window = TrendWindow(window_s=1800, max_samples=720)
        before = tracemalloc.get_traced_memory()[0]
        for i in range(720):
            window.add(i * 5.0, 1e9 + i)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(window) == 361
    assert grown < 2048, grown


def test_leak_suspicion_needs_steady_growth() -> None:
    ts = [i * 15.0 for i in range(240)]  # one hour
    rng = random.Random(4)
    leaking = [300 * 2**20 + i * 2**20 + rng.gauss(0, 2**19) for i in range(240)]
    sus = leak_suspicion("worker (pid 42)", ts, leaking)
    assert sus is not None
    assert sus.confidence > 0.8
    assert "possible memory leak" in sus.explanation
    sawtooth = [300 * 2**20 + (i % 20) * 2**22 for i in range(240)]  # GC cycles, no trend
    assert leak_suspicion("worker (pid 42)", ts, sawtooth) is None


def test_error_budget_exhaustion() -> None:
    fc = error_budget_exhaustion("auth", 0.5, 2.0, slo_window_s=30 * 24 * HOUR, errors=100)
    assert fc is not None
    assert fc.seconds_to_exhaustion == pytest.approx(7.5 * 24 * HOUR)
    assert 0.85 < fc.confidence < 0.95
    assert "auth" in fc.explanation
    assert "7 d 12 h" in fc.explanation
    assert error_budget_exhaustion("auth", 0.5, 0.0) is None
    assert error_budget_exhaustion("auth", 0.5, 3.0, errors=1) is None
    assert error_budget_exhaustion("auth", 0.0, 3.0).seconds_to_exhaustion == 0


def test_human_duration() -> None:
    assert human_duration(6000) == "1 h 40 m"
    assert human_duration(45) == "45 s"
    assert human_duration(3 * 86400 + 7200) == "3 d 2 h"
