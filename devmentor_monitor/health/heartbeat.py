"""Heartbeat services: jobs that cannot be probed say they are alive (POST
/api/heartbeat/{name}), and a missed grace is a failed check.

The source turns silence into ordinary `CheckResult`s through the intake, so the state
machine, the rules (service_down), incidents and notifications treat a heartbeat service
like any other: every ``interval`` (and just after a grace ends) it judges the service,
ok while the last beat is within ``grace`` and "no heartbeat for 10 m 3 s" once it is
not. These judgements are the service's only regular checks, one an interval however
fast it beats, so uptime counts judgements as it counts an HTTP service's probes (a
check per beat let a job beating every 2 s outvote its outage five to one). A beat only
moves the last beat, except when the service is down or not judged yet: then one ok
check brings it up at once. Before its first beat a service is judged from the monitor's
start (unknown until then), so one that never beats goes down one grace after start.
The last beat is kept in history (service:<name>:last_beat_seconds, at most one a beat
that brings the service up plus one an interval, written with the judgement), so a
restart does not reset the grace.
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
        self._written: dict[str, float] = {}  # name -> the last beat written to history
        self._restored: dict[str, float] = {}
        self._tick: dict[str, float] = {}  # name -> next judgement on the interval
        self._due: dict[str, float] = {}  # ... or sooner: just after the grace ends
        self._ok: dict[str, bool] = {}  # name -> whether its last check passed
        self._intake: Intake | None = None
        self.shared: Callable[[str, float], None] | None = None  # cluster/node.py
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
                last = max(p.max for p in points)
                self._restored[name] = self._last[name] = self._written[name] = last
        return dict(self._restored)

    def beat(self, name: str, at: float | None = None) -> float | None:
        """Record a beat of ``name`` now (or ``at``: one another instance of the fleet
        took, shared through Redis); None while the source is not running (started, or
        restarting after a crash). A service down or not judged yet is brought up by one
        ok check; one that is up is left to its judgements. A beat taken here is handed
        to ``shared`` (the cluster node), so every instance judges by the same last beat:
        a load balancer sends each beat to one of them."""
        intake = self._intake
        if intake is None or name not in self.services:
            return None
        # Another's beat time, at most a second ahead of this clock: a skewed or forged
        # future time must not hide a missed heartbeat.
        now = self.clock() if at is None else min(at, self.clock() + 1.0)
        if now <= self._last.get(name, 0.0):
            return now  # heard already (or older)
        self._last[name] = now
        if at is None and self.shared is not None:
            self.shared(name, now)
        if self._ok.get(name, False):  # up: the store's last beat now, history later
            intake.observe(Beat(name, now, stored=True))
        else:
            self._write_beat(intake, name)
            intake.observe(CheckResult(name, now, ok=True, latency=None))
            self._ok[name] = True
        self._due[name] = self._next(self.services[name])
        self._wake.set()
        return now

    def _write_beat(self, intake: Intake, name: str) -> None:
        """The last beat to the store and history, unless history has it already."""
        last = self._last.get(name)
        if last is not None and last != self._written.get(name):
            intake.observe(Beat(name, last))
            self._written[name] = last

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

    def _next(self, svc: ServiceConfig) -> float:
        """The next judgement: the next tick of the interval, or just after the grace ends
        if that comes sooner and has not passed."""
        assert svc.heartbeat is not None
        tick = self._tick[svc.name]
        ends = self._last.get(svc.name, self._started) + svc.heartbeat.grace + GRACE_SLACK
        return min(tick, ends) if ends > self.clock() else tick

    def judge_due(self, intake: Intake) -> float:
        """Judge every service whose time has come (writing its last beat to history if
        it beat since); returns when the next one is due."""
        now = self.clock()
        for name, svc in self.services.items():
            if self._due[name] <= now:
                result = self._judge(svc, now)
                self._write_beat(intake, name)
                if result is not None:
                    intake.observe(result)
                    self._ok[name] = result.ok
                self._tick[name] = now + svc.interval
                self._due[name] = self._next(svc)
        return min(self._due.values(), default=now + 3600.0)

    def start(self, intake: Intake) -> None:
        """Take beats from now on; every service is judged at once (then on its interval)."""
        started = self._started = self.clock()
        for name, ts in self._restored.items():
            intake.observe(Beat(name, ts, stored=True))
        self._tick = dict.fromkeys(self.services, started)
        self._due = dict(self._tick)
        self._ok = {}
        self._intake = intake

    async def run(self, intake: Intake) -> None:
        intake.observe(status(self.name, True, services=len(self.services)))
        self.start(intake)
        try:
            while True:
                delay = self.judge_due(intake) - self.clock()
                self._wake.clear()
                # asyncio.timeout, not wait_for (see health/checker.py's scheduler)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(max(0.01, delay)):
                        await self._wake.wait()
        finally:
            self._intake = None
            for name in self.services:  # a beat since the last judgement: kept for a restart
                self._write_beat(intake, name)
