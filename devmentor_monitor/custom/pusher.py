"""Where pushed samples enter: checked against the caps and handed to the intake, and the
latest values read back from history at start (so a restart keeps /metrics whole)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from devmentor_monitor.custom.model import CustomSample, admit, from_series
from devmentor_monitor.history.model import custom_series
from devmentor_monitor.observations import Intake, Pushed

if TYPE_CHECKING:
    from devmentor_monitor.config.schema import CustomMetrics
    from devmentor_monitor.history.model import SeriesStore
    from devmentor_monitor.store import Store


CUSTOM_PREFIX = custom_series("", {})  # "custom:"


class Pusher:
    """The caps are checked and the samples handed over with no await between, so two
    pushes racing for the last place cannot both take it."""

    def __init__(
        self,
        store: Store,
        intake: Intake,
        limits: CustomMetrics,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store, self.intake, self.limits, self.clock = store, intake, limits, clock

    def push(self, samples: Sequence[CustomSample]) -> None:
        """Take every sample or none: PushError(422) names the cap a new series passes."""
        held = self.store.custom_latest()
        if any(s.series not in held for s in samples):  # the caps only bind new series
            self.expire()
            admit(samples, self.store.custom_latest(), self.limits)
        self.intake.observe(Pushed(list(samples)))

    def expire(self) -> None:
        """Series not pushed within ``expire`` leave the store (and /metrics); called on
        each push and by the runtime's housekeeping."""
        self.store.expire_custom(self.clock() - self.limits.expire)

    async def restore(self, history: SeriesStore) -> int:
        """The latest value of every series pushed within ``expire``, from history in one
        read (newest first, up to max_series); returns how many. Series that expired stay
        in history and cost nothing here."""
        cutoff = self.clock() - self.limits.expire
        found = [
            sample
            for last in await history.latest(CUSTOM_PREFIX, cutoff)
            if (sample := from_series(last.series, last.ts, last.value)) is not None
        ]
        found.sort(key=lambda s: -s.ts)
        found = found[: self.limits.max_series]
        if found:
            self.intake.observe(Pushed(found, stored=True))
        return len(found)
