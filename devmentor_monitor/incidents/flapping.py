"""Flap detection by percent state change, as Nagios does it.

Each service keeps its last `window` check results (ok / failed). The `window - 1`
transitions between them are weighted linearly from 0.8 (the oldest) to 1.2 (the newest);
the weights of the transitions that changed state, divided by `window - 1`, give the
percent state change (0.0 … 1.0). Alternating results give 1.0; one outage (down, then
up again: 2 changes) gives at most (1.2 + 1.18) / 20 ≈ 0.12.

A service starts flapping when the change rises above `high`, and stops only when it falls
below `low` (hysteresis), once at least `min_checks` results are known. With fewer results
than `window` the same weights are spread over the transitions there are.

Self-contained: it is fed raw check results and says when a service starts or stops
flapping; it knows nothing of incidents. `snapshot` / `restore` carry the state over a
restart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from devmentor_monitor.config.schema import FlappingSettings

LOW_WEIGHT = 0.8  # the oldest transition's weight (Nagios' low curve value)
HIGH_WEIGHT = 1.2  # the newest transition's weight


@dataclass(frozen=True, slots=True)
class FlapState:
    """Where a service stands: flapping or not, its percent state change (0.0 … 1.0)
    and how many results it is computed from."""

    flapping: bool
    change: float
    results: int


@dataclass(frozen=True, slots=True)
class FlapChange:
    """A service started (flapping=True) or stopped (False) flapping at ``change``."""

    service: str
    flapping: bool
    change: float


@dataclass(frozen=True, slots=True)
class FlapSnapshot:
    """What is persisted per service: the results, oldest first, as "1" (ok) and "0"
    (failed), and whether it was flapping."""

    history: str
    flapping: bool


def percent_state_change(results: list[bool] | tuple[bool, ...]) -> float:
    """The weighted share of transitions that changed state, 0.0 … 1.0 (0.0 below two
    results). Transition k of n (0 = oldest) weighs 0.8 + 0.4·k/(n-1)."""
    n = len(results) - 1
    if n < 1:
        return 0.0
    step = (HIGH_WEIGHT - LOW_WEIGHT) / (n - 1) if n > 1 else 0.0
    weighted = sum(LOW_WEIGHT + k * step for k in range(n) if results[k] != results[k + 1])
    return weighted / n


class _Service:
    __slots__ = ("flapping", "history")

    def __init__(self) -> None:
        # The last `window` results, oldest first: a list (~230 bytes at 21), not a
        # deque(maxlen=window) (624 bytes; 0.4 MiB more at 1,000 services).
        self.history: list[bool] = []
        self.flapping = False


class FlapDetector:
    """Per-service flap detection with hysteresis. Not thread-safe (one event loop)."""

    def __init__(
        self, *, window: int = 21, high: float = 0.30, low: float = 0.10, min_checks: int = 10
    ) -> None:
        if window < 3:
            raise ValueError(f"window must be at least 3 results, not {window}")
        if not 0.0 <= low < high <= 1.0:
            raise ValueError(f"need 0 <= low < high <= 1, not low={low:g}, high={high:g}")
        if not 2 <= min_checks <= window:
            raise ValueError(
                f"min_checks must be between 2 and window ({window}), not {min_checks}"
            )
        self.window, self.high, self.low, self.min_checks = window, high, low, min_checks
        self._services: dict[str, _Service] = {}

    @classmethod
    def from_settings(cls, settings: FlappingSettings) -> FlapDetector:
        """From `alerting.flapping` (config.schema.FlappingSettings)."""
        return cls(
            window=settings.window,
            high=settings.high,
            low=settings.low,
            min_checks=settings.min_checks,
        )

    def observe(self, service: str, ok: bool) -> FlapChange | None:
        """Record one check result; the change if the service started or stopped flapping."""
        s = self._services.get(service)
        if s is None:
            s = self._services[service] = _Service()
        s.history.append(ok)
        if len(s.history) > self.window:
            del s.history[0]
        if len(s.history) < self.min_checks:
            return None
        change = percent_state_change(tuple(s.history))
        if not s.flapping and change > self.high:
            s.flapping = True
            return FlapChange(service, True, change)
        if s.flapping and change < self.low:
            s.flapping = False
            return FlapChange(service, False, change)
        return None

    def state(self, service: str) -> FlapState:
        """A service never observed is not flapping, at 0 % from 0 results."""
        s = self._services.get(service)
        if s is None:
            return FlapState(False, 0.0, 0)
        return FlapState(s.flapping, percent_state_change(tuple(s.history)), len(s.history))

    def flapping(self) -> list[str]:
        """The services flapping now, sorted."""
        return sorted(name for name, s in self._services.items() if s.flapping)

    def forget(self, service: str) -> None:
        """Drop a service (removed from the config)."""
        self._services.pop(service, None)

    def snapshot(self) -> dict[str, FlapSnapshot]:
        """Every service's results and flag, for persisting."""
        return {
            name: FlapSnapshot("".join("1" if ok else "0" for ok in s.history), s.flapping)
            for name, s in self._services.items()
        }

    def restore(self, snapshots: dict[str, FlapSnapshot]) -> None:
        """Put back what `snapshot` gave (replacing those services' state). A history
        longer than the window keeps its newest results; characters other than "0"/"1"
        raise ValueError."""
        for name, snap in snapshots.items():
            if set(snap.history) - {"0", "1"}:
                raise ValueError(f"flap history of {name!r} must be '0's and '1's")
            s = _Service()
            s.history = [c == "1" for c in snap.history[-self.window :]]
            s.flapping = snap.flapping
            self._services[name] = s


__all__ = ["FlapChange", "FlapDetector", "FlapSnapshot", "FlapState", "percent_state_change"]
