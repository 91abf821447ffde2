"""The streaming detector on synthetic series with known answers (no sleeps, no I/O)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from devmentor_monitor.predictions.detector import Detector, DetectorBank, DetectorConfig


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
    rng = np.random.default_rng(11)
    data = rng.normal(0, 1, (800, 3)) + np.array([0.0, 100.0, -5.0])
    data[600:, 1] += 30
    bank = DetectorBank(3)
    singles = [Detector() for _ in range(3)]
    for t, row in enumerate(data):
        scores = bank.update(row)
        for j, det in enumerate(singles):
            result = det.update(float(t), float(row[j]))
            assert result.score == scores[j]
            assert result.flag == bool(bank.flag[j])


def test_memory_per_series_is_fixed() -> None:
    bank = DetectorBank(10)
    before = bank.state_bytes_per_series()
    arrays_before = {k: v.nbytes for k, v in vars(bank).items() if isinstance(v, np.ndarray)}
    rng = np.random.default_rng(0)
    for row in rng.normal(0, 1, (5000, 10)):
        bank.update(row)
    arrays_after = {k: v.nbytes for k, v in vars(bank).items() if isinstance(v, np.ndarray)}
    assert bank.state_bytes_per_series() == before < 256
    assert arrays_after == arrays_before


def test_missing_sample_leaves_that_series_unchanged() -> None:
    bank = DetectorBank(2)
    for v in range(300):
        bank.update([float(v % 5), float(v % 7)])
    snapshot = {k: v.copy() for k, v in vars(bank).items() if isinstance(v, np.ndarray)}
    scores = bank.update([math.nan, 3.0])
    assert scores[0] == 0.0
    for name, old in snapshot.items():
        if name == "score":  # an output, not state
            continue
        new = getattr(bank, name)
        assert new[0] == old[0], name


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
