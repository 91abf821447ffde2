"""The streaming detector on synthetic series with known answers (no sleeps, no I/O)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from devmentor_monitor.predictions.detector import (
    EXPERTS,
    Detector,
    DetectorBank,
    DetectorConfig,
)

STEP = 300.0  # five-minute samples, as in NAB and the scraped series
DAY_SAMPLES = 288


def _daily(days: int, seed: int = 0, noise: float = 0.5) -> np.ndarray:
    """A daily cycle (low at night, a peak in the afternoon) plus a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(days * DAY_SAMPLES)
    hour = (t % DAY_SAMPLES) * 24.0 / DAY_SAMPLES
    return 20.0 + 60.0 * np.exp(-(((hour - 15.0) / 2.5) ** 2)) + rng.normal(0, noise, t.size)


def _run_ts(values: np.ndarray, config: DetectorConfig | None = None) -> list[float]:
    det = Detector(config)
    return [det.update(i * STEP, float(v)).score for i, v in enumerate(values)]


def _run(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scores and flags of one series, sample by sample."""
    bank = DetectorBank(1)
    scores, flags = np.zeros(len(values)), np.zeros(len(values), dtype=bool)
    for i, v in enumerate(values):
        scores[i] = bank.update([v])[0]
        flags[i] = bank.flag[0]
    return scores, flags


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("jump", [6.0, -6.0])
def test_step_change_is_flagged_within_a_few_samples(seed: int, jump: float) -> None:
    rng = np.random.default_rng(seed)
    values = rng.normal(50.0, 1.0, 1600)
    values[1000:] += jump
    _, flags = _run(values)
    after = np.flatnonzero(flags[1000:])
    assert after.size, "the step was never flagged"
    assert after[0] <= 5, f"flagged {after[0]} samples after the step"


def test_pure_gaussian_noise_produces_few_flags() -> None:
    rng = np.random.default_rng(42)
    series, steps = 40, 6000
    bank = DetectorBank(series)
    flagged = 0
    for t, row in enumerate(rng.normal(100.0, 5.0, (steps, series))):
        bank.update(row)
        if t >= bank.config.warmup:
            flagged += int(bank.flag.sum())
    rate = flagged / ((steps - bank.config.warmup) * series)
    assert rate < 0.01, f"{rate:.2%} of pure-noise samples flagged"
    assert np.all(bank.rate < 0.2)


def test_scores_stay_in_unit_interval_on_hostile_input() -> None:
    rng = np.random.default_rng(5)
    parts = [
        np.zeros(300),
        np.full(200, 1e12),
        rng.standard_cauchy(1000) * 1e6,
        np.linspace(-1e9, 1e9, 500),
        rng.normal(0, 1e-12, 300),
        np.full(300, -7.0),
    ]
    scores, _ = _run(np.concatenate(parts))
    assert np.all(np.isfinite(scores))
    assert scores.min() >= 0.0
    assert scores.max() <= 1.0
    assert scores.max() > 0.5  # the jumps between parts do register


def test_no_look_ahead_prefix_scores_equal_full_run_scores() -> None:
    rng = np.random.default_rng(9)
    values = rng.normal(0, 1, 2000)
    values[1500:1510] += 20
    full, _ = _run(values)
    prefix, _ = _run(values[:1505])
    assert np.array_equal(prefix, full[:1505])


def test_bank_matches_one_series_at_a_time() -> None:
    """Bit-identical, every expert included: three days of a daily cycle with a missing
    peak, a level shift and a new extreme, plus a series with no daily cycle."""
    rng = np.random.default_rng(11)
    days = 4
    data = rng.normal(0, 1, (days * DAY_SAMPLES, 4)) + np.array([0.0, 100.0, -5.0, 0.0])
    data[:, 3] += _daily(days, seed=1)
    data[3 * DAY_SAMPLES + 170 : 3 * DAY_SAMPLES + 200, 3] = 25.0  # the peak does not come
    data[600:, 1] += 30
    data[900, 2] = 40.0
    bank = DetectorBank(4)
    singles = [Detector() for _ in range(4)]
    experts: set[str] = set()
    for t, row in enumerate(data):
        scores = bank.update(row, t * STEP)
        for j, det in enumerate(singles):
            result = det.update(t * STEP, float(row[j]))
            assert result.score == scores[j], (t, j)
            assert result.flag == bool(bank.flag[j])
            if result.flag:
                assert EXPERTS[int(bank.expert[j])] == det.explain().expert
                experts.add(det.explain().expert)
    assert {"time_of_day", "new_extreme"} <= experts


def test_memory_per_series_is_fixed() -> None:
    """Twenty days of samples later the state is as big as at the start: 20 floats and a
    24-bin time-of-day profile (4 floats a bin), under 1 KiB a series."""
    bank = DetectorBank(10)
    before = bank.state_bytes_per_series()
    arrays_before = {k: v.nbytes for k, v in vars(bank).items() if isinstance(v, np.ndarray)}
    rng = np.random.default_rng(0)
    for t, row in enumerate(rng.normal(0, 1, (20 * DAY_SAMPLES, 10))):
        bank.update(row, t * STEP)
    arrays_after = {k: v.nbytes for k, v in vars(bank).items() if isinstance(v, np.ndarray)}
    assert bank.state_bytes_per_series() == before < 1024
    assert arrays_after == arrays_before
    det = Detector()
    for t, v in enumerate(rng.normal(0, 1, 20 * DAY_SAMPLES)):
        det.update(t * STEP, float(v))
    assert det.state_bytes() == Detector().state_bytes() < 1024


def test_missing_sample_leaves_that_series_unchanged() -> None:
    bank = DetectorBank(2)
    for v in range(700):
        bank.update([float(v % 5), float(v % 7)], v * STEP)
    snapshot = {k: v.copy() for k, v in vars(bank).items() if isinstance(v, np.ndarray)}
    scores = bank.update([math.nan, 3.0], 700 * STEP)
    assert scores[0] == 0.0
    changed = set()
    for name, old in snapshot.items():
        if name == "score":  # an output, not state
            continue
        new = getattr(bank, name)
        assert np.array_equal(new[0], old[0]), name
        if not np.array_equal(new[1], old[1]):
            changed.add(name)
    assert {"n", "tod_cnt", "tod_mu"} <= changed  # the other series did move on


def test_flag_has_hysteresis() -> None:
    cfg = DetectorConfig()
    rng = np.random.default_rng(3)
    values = rng.normal(0, 1, 1200)
    values[1000] = 40.0  # one spike
    scores, flags = _run(values)
    assert scores[1000] >= cfg.on
    assert flags[1000]
    # stays on while the following scores are low, for off_samples samples, then clears
    assert flags[1000 : 1000 + cfg.off_samples].all()
    assert not flags[1000 + cfg.off_samples + 5 :].any()


def test_warmup_scores_are_zero() -> None:
    values = np.concatenate([np.zeros(50), np.full(50, 1000.0)])
    scores, _ = _run(values)
    assert np.all(scores == 0.0)


def test_prefix_scores_do_not_change_when_more_data_is_appended() -> None:
    """Never reads ahead: for every cut point, the scores of the prefix equal the first
    scores of the whole run, with every expert (time of day, new extremes) active."""
    values = _daily(6, seed=4)
    values[4 * DAY_SAMPLES + 150 : 4 * DAY_SAMPLES + 210] -= 40.0  # a lower peak
    values[5 * DAY_SAMPLES + 10] = 300.0  # a new extreme
    full = _run_ts(values)
    assert max(full) == 1.0
    for cut in (200, DAY_SAMPLES + 7, 4 * DAY_SAMPLES + 160, 5 * DAY_SAMPLES + 11):
        assert _run_ts(values[:cut]) == full[:cut], cut


def test_a_daily_peak_that_does_not_come_is_flagged_by_time_of_day() -> None:
    """Values inside the usual range but wrong for the hour: only the time-of-day
    profile can tell (a value expert sees 20, a level it holds every night)."""
    values = _daily(6, seed=2)
    start = 5 * DAY_SAMPLES + 160  # about 13:20 on day 6, as the peak rises
    values[start : start + 60] = values[start - 100 : start - 40]  # the night's level
    det = Detector()
    flagged_at, experts = [], []
    for i, v in enumerate(values):
        det.update(i * STEP, float(v))
        if det.flag and i >= 2 * DAY_SAMPLES:
            flagged_at.append(i)
            experts.append(det.explain())
    assert flagged_at, "the missing peak was never flagged"
    assert start <= flagged_at[0] <= start + 12, flagged_at[:5]
    why = experts[0]
    assert why.expert == "time_of_day"
    assert why.level > values[start] + 20  # what this hour usually holds
    assert why.surprise > 1.0
    # Normal days after the second raise nothing.
    assert all(i >= start for i in flagged_at)


def test_a_value_beyond_everything_seen_scores_one() -> None:
    rng = np.random.default_rng(8)
    values = rng.normal(50.0, 10.0, 2000)
    values[1500] = values[:1500].max() + 0.2 * np.ptp(values[:1500])
    det = Detector()
    scores = [det.update(i * STEP, float(v)).score for i, v in enumerate(values[:1501])]
    assert scores[1500] == 1.0
    why = det.explain()
    assert why.expert == "new_extreme"
    assert why.level == pytest.approx(values[:1500].max())


def test_bank_matches_one_series_with_gaps_and_odd_timestamps() -> None:
    """Missing values (NaN), unknown times (NaN) and times before 1970: still identical."""
    rng = np.random.default_rng(21)
    steps = 3 * DAY_SAMPLES
    data = rng.normal(0, 1, (steps, 3)) + _daily(3, seed=5)[:, None]
    data[rng.random((steps, 3)) < 0.05] = math.nan
    times = -2 * 86400.0 + np.arange(steps) * STEP
    times[rng.random(steps) < 0.1] = math.nan
    bank = DetectorBank(3)
    singles = [Detector() for _ in range(3)]
    for t, row in enumerate(data):
        scores = bank.update(row, float(times[t]))
        for j, det in enumerate(singles):
            result = det.update(float(times[t]), float(row[j]))
            assert result.score == scores[j], (t, j)
            assert det.score == bank.score[j]
