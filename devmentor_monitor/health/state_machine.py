"""A service's health after thresholds: the transitions from one check to the next.

Pure: the store keeps one `HealthState` per service and asks `transition` for the next.
"""

from __future__ import annotations

import msgspec

from devmentor_monitor.model import Health

_UP_LIKE = (Health.UNKNOWN, Health.UP, Health.DEGRADED)


class HealthRules(msgspec.Struct, frozen=True):
    """What moves a service between states: checks in a row, and its latency limit."""

    failure_threshold: int  # failed checks in a row before UP becomes DOWN
    success_threshold: int  # good checks in a row before DOWN becomes UP
    latency_limit: float  # seconds; a good check slower than this is DEGRADED


class HealthState(msgspec.Struct, frozen=True):
    status: Health = Health.UNKNOWN
    fails_in_row: int = 0
    oks_in_row: int = 0


def up_or_degraded(latency: float | None, limit: float) -> Health:
    return Health.DEGRADED if latency is not None and latency > limit else Health.UP


def confirmed_down(state: HealthState, rules: HealthRules) -> bool:
    """Enough evidence to page: `failure_threshold` failed checks in a row. A first failed
    check shows DOWN at once (`transition`) but is not yet confirmed."""
    return state.fails_in_row >= rules.failure_threshold


def transition(
    state: HealthState, ok: bool, latency: float | None, rules: HealthRules
) -> HealthState:
    """The state after one check. The first result decides; after that DOWN needs
    `failure_threshold` failures in a row and leaving DOWN `success_threshold` successes."""
    status = state.status
    if ok:
        oks = state.oks_in_row + 1
        if status in _UP_LIKE or oks >= rules.success_threshold:
            status = up_or_degraded(latency, rules.latency_limit)
        return HealthState(status, 0, oks)
    fails = state.fails_in_row + 1
    if status is Health.UNKNOWN or fails >= rules.failure_threshold:
        status = Health.DOWN
    return HealthState(status, fails, 0)
