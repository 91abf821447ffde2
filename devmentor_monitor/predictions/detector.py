"""Streaming anomaly detector: one numpy bank updates many series per call.

Why this shape:

* **Online, O(1), bounded memory.** Each series is a fixed handful of floats (exponentially
  weighted moments and decaying maxima); nothing grows with time, nothing looks ahead: the
  score of sample i is computed from the state after samples 0..i-1 plus sample i.
* **One logic live and offline.** `DetectorBank.update(values)` advances many series by
  one sample with a few dozen vectorised float operations (millions of samples/s when the
  runtime keeps one bank per group of series sampled on the same tick). `Detector` is the
  same arithmetic in plain floats for callers that get one value at a time
  (`update(ts, value)`), and is what the `detect` CLI runs; a test holds the two to
  bit-identical scores.
* **Scale free, one configuration for everything.** Each expert measures a "surprise" in
  units of the series' own typical variation, then compares it with the largest surprise
  seen recently (a slowly decaying maximum). A sample scores high only when it is *more*
  unusual than anything the series has recently done: spiky series stop alarming on their
  usual spikes, quiet series alarm on small departures, and a level shift or a burst
  scores at its start and not again for every sample after (NAB rewards the earliest
  detection of a window and charges every false positive).
* **Experts.** value vs long-run level (spikes), short-window mean vs long-run level (level
  shifts), mid-window mean vs long-run level (slow drifts hidden in noise), and the
  short-window average of one-step-difference surprise (bursts of volatility). The means
  are Huber-clipped so a lone spike does not pose as a shift.
* **Why not seasonality models:** the decaying maxima make a recurring daily peak "normal"
  after it has been seen once; a seasonal model would need per-series period detection
  and memory proportional to the period.

Outputs per series: `score` in [0, 1], `flag` with hysteresis (on at `on`, off only after
`off_samples` consecutive samples below `off`), and `rate`, the flagged fraction over about
`rate_window` samples.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
else:
    np = None  # imported by the first DetectorBank: the live path (Detector) never needs it,
    # and numpy costs the monitor ~0.2 s of start-up

_EPS = 1e-12


@dataclass(frozen=True, slots=True)
class DetectorConfig:
    """One configuration for every series (no per-series tuning); horizons are in samples.

    The defaults were chosen on the 34 NAB tuning files (standard profile 64.7, see
    bench/nab.py) and sit on a plateau: memory 2000, long 2000, mid 128, huber 6..12 or
    hold 10..50 each still score 63-65 there, so they are not a knife-edge fit.
    """

    warmup: int = 150  # samples that only learn; their scores are 0
    settle: int = 60  # samples before the decaying maxima start remembering
    long: int = 1000  # horizon of the long-run level and scale
    mid: int = 256  # horizon of the mid-window mean (slow drifts)
    short: int = 8  # horizon of the short-window mean and of the volatility average
    huber: float = 10.0  # clip, in scales, of one sample's pull on the short and mid means
    memory: int = 3000  # half-life of the decaying maxima: what "recently" means
    hold: int = 20  # half-life of the memory of recent scores (once per burst)
    damp: float = 0.2  # factor on scores that do not beat that memory
    on: float = 0.3  # flag on at score >= on (surprise 1.43x the recent maximum)
    off: float = 0.1  # flag off after off_samples consecutive samples below off
    off_samples: int = 12
    rate_window: int = 100  # samples over which the anomaly rate is averaged


# Per-series state, one float64 array each.
_STATE = (
    "n",
    "prev",
    "m_long",
    "d_long",
    "ad_long",
    "m_mid",
    "m_short",
    "vol_short",
    "max_value",
    "max_shift",
    "max_drift",
    "max_vol",
    "held",
    "below",
    "rate",
)


class DetectorBank:
    """`size` independent series advanced together; see the module docstring."""

    # The _STATE arrays, set by __init__.
    n: np.ndarray
    prev: np.ndarray
    m_long: np.ndarray
    d_long: np.ndarray
    ad_long: np.ndarray
    m_mid: np.ndarray
    m_short: np.ndarray
    vol_short: np.ndarray
    max_value: np.ndarray
    max_shift: np.ndarray
    max_drift: np.ndarray
    max_vol: np.ndarray
    held: np.ndarray
    below: np.ndarray
    rate: np.ndarray

    def __init__(self, size: int, config: DetectorConfig | None = None) -> None:
        global np
        if np is None:
            import numpy

            np = numpy
        self.size = size
        self.config = c = config or DetectorConfig()
        self._a_long = 1.0 / c.long
        self._a_mid = 1.0 / c.mid
        self._a_short = 1.0 / c.short
        self._decay = 0.5 ** (1.0 / c.memory)
        self._hold_decay = 0.5 ** (1.0 / c.hold)
        self._a_rate = 1.0 / c.rate_window
        for name in _STATE:
            setattr(self, name, np.zeros(size))
        self.flag = np.zeros(size, dtype=bool)
        self.score = np.zeros(size)

    def update(self, values: Any) -> np.ndarray:
        """Advance every series by one sample; NaN means "no sample" (state unchanged).

        Returns the scores in [0, 1]; `flag` (bool) and `rate` (0..1) are attributes
        updated by the same call. The returned array is replaced, never mutated, later.
        """
        x = np.array(values, dtype=float)  # a copy: the state keeps it as `prev`
        missing = np.isnan(x)
        if missing.any():
            return self._update_masked(x, missing)
        return self._step(x)

    def _update_masked(self, x: np.ndarray, missing: np.ndarray) -> np.ndarray:
        saved = {name: getattr(self, name).copy() for name in _STATE}
        flag = self.flag.copy()
        score = self._step(np.where(missing, 0.0, x)).copy()
        for name, old in saved.items():
            getattr(self, name)[missing] = old[missing]
        self.flag[missing] = flag[missing]
        score[missing] = 0.0
        self.score = score
        return score

    def _step(self, x: np.ndarray) -> np.ndarray:
        c = self.config
        n = self.n
        learning = n < c.settle
        prev = np.where(n == 0, x, self.prev)
        # A plain running mean at first, exponential once past the horizon.
        a_run = 1.0 / (n + 1.0)
        a_long = np.maximum(a_run, self._a_long)
        a_mid = np.maximum(a_run, self._a_mid)
        a_short = np.maximum(a_run, self._a_short)

        # Surprises, in units of the series' own typical deviation (state before x).
        m_long = self.m_long
        floor = 1e-9 + 1e-6 * np.abs(m_long)
        scale = self.d_long + floor
        dev = x - m_long
        z_value = np.abs(dev) / scale
        diff = np.abs(x - prev)
        z_diff = np.minimum(diff / (self.ad_long + floor), 50.0)
        # Huber-style means: one wild sample moves them by at most `huber` scales, so a
        # lone spike does not read as a level shift, while a sustained one still does.
        lim = np.where(learning, np.inf, c.huber * scale)
        m_short = self.m_short + a_short * np.clip(x - self.m_short, -lim, lim)
        m_mid = self.m_mid + a_mid * np.clip(x - self.m_mid, -lim, lim)
        z_shift = np.abs(m_short - m_long) / scale
        z_drift = np.abs(m_mid - m_long) / scale
        vol_short = self.vol_short + a_short * (z_diff - self.vol_short)

        # Each surprise against the largest of its kind seen recently; the best expert wins.
        r = np.maximum(
            np.maximum(z_value / (self.max_value + _EPS), z_shift / (self.max_shift + _EPS)),
            np.maximum(z_drift / (self.max_drift + _EPS), vol_short / (self.max_vol + _EPS)),
        )
        raw = np.where(n < c.warmup, 0.0, 1.0 - 1.0 / np.maximum(r, 1.0))
        # Once per burst: a score that does not beat the recent (decaying) maximum of the
        # series' scores is damped, so one event is reported at its start, not on every row.
        held = self.held
        score = np.where(raw > held, raw, raw * c.damp)
        self.held = np.maximum(held * self._hold_decay, raw)

        # The maxima start once the scale estimates have settled (the very first
        # surprises are measured against almost no history).
        decay = np.where(learning, 0.0, self._decay)
        self.max_value = np.maximum(self.max_value * decay, z_value)
        self.max_shift = np.maximum(self.max_shift * decay, z_shift)
        self.max_drift = np.maximum(self.max_drift * decay, z_drift)
        self.max_vol = np.maximum(self.max_vol * decay, vol_short)

        self.m_long = m_long + a_long * dev
        self.d_long = self.d_long + a_long * (np.abs(dev) - self.d_long)
        self.ad_long = self.ad_long + a_long * (diff - self.ad_long)
        self.m_mid = m_mid
        self.m_short = m_short
        self.vol_short = vol_short
        self.prev = x
        self.n = n + 1.0

        # Flag with hysteresis, and the flagged share over about `rate_window` samples.
        below = np.where(score < c.off, self.below + 1.0, 0.0)
        self.flag = (score >= c.on) | (self.flag & (below < c.off_samples))
        self.below = below
        self.rate = self.rate + self._a_rate * (self.flag - self.rate)
        self.score = score
        return score

    def state_bytes_per_series(self) -> int:
        """Bytes of state each series holds (fixed: it never grows with samples)."""
        arrays = [getattr(self, name) for name in _STATE] + [self.flag, self.score]
        total: int = sum(a.nbytes for a in arrays)
        return total // max(self.size, 1)


@dataclass(frozen=True, slots=True)
class DetectorResult:
    """What one sample of one series produced."""

    ts: float
    value: float
    score: float
    flag: bool
    rate: float


class Detector:
    """One series, one sample at a time, in plain floats (no numpy call per sample).

    The same arithmetic as `DetectorBank`, operation for operation, so both give
    bit-identical scores (a unit test holds them to it); this path is ~10x faster than a
    bank of size 1 for callers that get one value at a time.
    """

    __slots__ = ("_a", "_s", "config", "flag", "rate", "score")

    def __init__(self, config: DetectorConfig | None = None) -> None:
        self.config = c = config or DetectorConfig()
        self._a = (
            1.0 / c.long,
            1.0 / c.mid,
            1.0 / c.short,
            0.5 ** (1.0 / c.memory),
            0.5 ** (1.0 / c.hold),
            1.0 / c.rate_window,
        )
        self._s = [0.0] * len(_STATE)  # same order as _STATE
        self.flag = False
        self.rate = 0.0
        self.score = 0.0

    def update(self, ts: float, value: float) -> DetectorResult:
        """Score one sample; a NaN value is "no sample" (state unchanged, score 0)."""
        x = float(value)
        if x != x:  # NaN
            return DetectorResult(ts, x, 0.0, self.flag, self.rate)
        c = self.config
        a_l, a_m, a_s, mem_decay, hold_decay, a_rate = self._a
        (
            n,
            prev,
            m_long,
            d_long,
            ad_long,
            m_mid,
            m_short,
            vol_short,
            max_value,
            max_shift,
            max_drift,
            max_vol,
            held,
            below,
            _rate,
        ) = self._s
        learning = n < c.settle
        if n == 0:
            prev = x
        a_run = 1.0 / (n + 1.0)
        a_long, a_mid, a_short = max(a_run, a_l), max(a_run, a_m), max(a_run, a_s)

        floor = 1e-9 + 1e-6 * abs(m_long)
        scale = d_long + floor
        dev = x - m_long
        z_value = abs(dev) / scale
        diff = abs(x - prev)
        z_diff = min(diff / (ad_long + floor), 50.0)
        if learning:
            m_short = m_short + a_short * (x - m_short)
            m_mid = m_mid + a_mid * (x - m_mid)
        else:
            lim = c.huber * scale
            m_short = m_short + a_short * min(max(x - m_short, -lim), lim)
            m_mid = m_mid + a_mid * min(max(x - m_mid, -lim), lim)
        z_shift = abs(m_short - m_long) / scale
        z_drift = abs(m_mid - m_long) / scale
        vol_short = vol_short + a_short * (z_diff - vol_short)

        r = max(
            z_value / (max_value + _EPS),
            z_shift / (max_shift + _EPS),
            z_drift / (max_drift + _EPS),
            vol_short / (max_vol + _EPS),
        )
        raw = 0.0 if n < c.warmup else 1.0 - 1.0 / max(r, 1.0)
        score = raw if raw > held else raw * c.damp
        held = max(held * hold_decay, raw)

        decay = 0.0 if learning else mem_decay
        max_value = max(max_value * decay, z_value)
        max_shift = max(max_shift * decay, z_shift)
        max_drift = max(max_drift * decay, z_drift)
        max_vol = max(max_vol * decay, vol_short)

        m_long = m_long + a_long * dev
        d_long = d_long + a_long * (abs(dev) - d_long)
        ad_long = ad_long + a_long * (diff - ad_long)

        below = below + 1.0 if score < c.off else 0.0
        flag = score >= c.on or (self.flag and below < c.off_samples)
        rate = self.rate + a_rate * (float(flag) - self.rate)
        self._s = [
            n + 1.0,
            x,
            m_long,
            d_long,
            ad_long,
            m_mid,
            m_short,
            vol_short,
            max_value,
            max_shift,
            max_drift,
            max_vol,
            held,
            below,
            rate,
        ]
        self.flag, self.rate, self.score = flag, rate, score
        return DetectorResult(ts, x, score, flag, rate)

    @property
    def baseline(self) -> tuple[float, float, int]:
        """(long-run level, typical deviation, samples seen): what scores are measured
        against, for explanations."""
        return self._s[2], self._s[3], int(self._s[0])

    @staticmethod
    def state_bytes() -> int:
        """Bytes of numeric state (15 floats); Python object overhead comes on top."""
        return 8 * len(_STATE)
