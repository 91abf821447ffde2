"""Heartbeat services: jobs that cannot be probed say they are alive (POST
/api/heartbeat/{name}), and a missed grace is a failed check.

The source turns beats and silence into ordinary `CheckResult`s through the intake, so
the state machine, the rules (service_down), incidents and notifications treat a
heartbeat service like any other: every ``interval`` it reports ok while the last beat is
within ``grace``, and "no heartbeat for 10 m 3 s" once it is not; a beat is an ok check at
once. Before its first beat a service is judged from the monitor's start (unknown until
then), so one that never beats goes down one grace after start. A beat is kept in history
(service:<name>:last_beat_seconds), so a restart does not reset the grace.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence

from devmentor_monitor.config.schema import ServiceConfig
from devmentor_monitor.history.model import HOUR, SeriesStore, service_series
from devmentor_monitor.model import CheckResult
from devmentor_monitor.observations import Beat, Intake
from devmentor_monitor.sources.base import status
from devmentor_monitor.units import human_duration

GRACE_SLACK = 0.01  # judge just after a grace ends, so the judgement sees it ended


class HeartbeatSource:
    """Judges every heartbeat service on its interval, and at the moment its grace ends."""

    name = "heartbeat"

    def __init__(
        self, services: Sequence[ServiceConfig], clock: Callable[[], float] = time.time
    ) -> None:
        self.services = {s.name: s for s in services if s.heartbeat is not None}
        self.clock = clock
        self._last: dict[str, float] = {}  # name -> last beat (wall clock)
        self._restored: dict[str, float] = {}
        self._due: dict[str, float] = {}
        self._intake: Intake | None = None
        self._wake = asyncio.Event()
        self._started = clock()

    async def restore(self, history: SeriesStore, retention: float) -> dict[str, float]:
        """Each service's last beat from history: the hour tier's max of beat times, so a
        beat of any age the history keeps is found."""
        now = self.clock()
        for name in self.services:
            points = await history.query(
                service_series(name, "last_beat_seconds"), now - retention, now, HOUR
            )
            if points:
                self._restored[name] = self._last[name] = max(p.max for p in points)
        return dict(self._restored)

    def beat(self, name: str) -> float | None:
        """Record a beat of ``name`` now and report it up; None while the source is not
        running (started, or restarting after a crash)."""
        intake = self._intake
        if intake is None or name not in self.services:
            return None
        now = self.clock()
        self._last[name] = now
        intake.observe(Beat(name, now))
        intake.observe(CheckResult(name, now, ok=True, latency=None))
        self._due[name] = self._next(self.services[name], now)
        self._wake.set()
        return now

    def _judge(self, svc: ServiceConfig, now: float) -> CheckResult | None:
        assert svc.heartbeat is not None
        last = self._last.get(svc.name)
        silent = now - (last if last is not None else self._started)
        if silent <= svc.heartbeat.grace:
            return None if last is None else CheckResult(svc.name, now, ok=True, latency=None)
        what = (
            f"no heartbeat for {human_duration(silent)}"
            if last is not None
            else f"no heartbeat since the monitor started {human_duration(silent)} ago"
        )
        grace = human_duration(svc.heartbeat.grace)
        return CheckResult(svc.name, now, ok=False, latency=None, error=f"{what} (grace {grace})")

    def _next(self, svc: ServiceConfig, now: float) -> float:
        """The next judgement: an interval on, or just after the grace ends if sooner."""
        assert svc.heartbeat is not None
        ends = self._last.get(svc.name, self._started) + svc.heartbeat.grace + GRACE_SLACK
        return min(now + svc.interval, ends) if ends > now else now + svc.interval

    async def run(self, intake: Intake) -> None:
        intake.observe(status(self.name, True, services=len(self.services)))
        started = self._started = self.clock()
        for name, ts in self._restored.items():
            intake.observe(Beat(name, ts, stored=True))
        self._due = dict.fromkeys(self.services, started)
        self._intake = intake
        try:
            while True:
                now = self.clock()
                for name, svc in self.services.items():
                    if self._due[name] <= now:
                        result = self._judge(svc, now)
                        if result is not None:
                            intake.observe(result)
                        self._due[name] = self._next(svc, now)
                delay = min(self._due.values(), default=now + 3600.0) - self.clock()
                self._wake.clear()
                # asyncio.timeout, not wait_for (see health/checker.py's scheduler)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(max(0.01, delay)):
                        await self._wake.wait()
        finally:
            self._intake = None
