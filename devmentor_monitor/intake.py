"""The intake: the one writer of the store. Sources hand it observations
(observations.py); it writes the store, feeds live streams and tells the engines.

Owned by the runtime (runtime.py), which hands it to every source it runs. It holds no
more than it needs to derive a service's state from its workloads.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Protocol, assert_never

from devmentor_monitor.cluster.state import FleetView
from devmentor_monitor.events.model import Event, EventSeverity
from devmentor_monitor.history.model import (
    HOUR,
    MINUTE,
    Point,
    Sample,
    SeriesStore,
    host_series,
    service_series,
)
from devmentor_monitor.model import (
    CheckResult,
    Health,
    SourceState,
    SourceStatus,
    SystemSample,
)
from devmentor_monitor.observations import (
    Beat,
    ContainersListed,
    EventRejected,
    EventsAccepted,
    KubeChanged,
    KubeListed,
    Observation,
    Polled,
    Pushed,
    Scraped,
    SharedChecks,
)
from devmentor_monitor.rings import LIVE_SPAN, WindowCounter
from devmentor_monitor.store import ServiceHistory, Store, host_values
from devmentor_monitor.workloads.model import ContainerInfo, WorkloadEvent

log = logging.getLogger("devmentor_monitor.runtime")  # the runtime's voice, as before


def check_samples(result: CheckResult, status: Health) -> list[Sample]:
    """What one check adds to the history: whether the service counts as up after it (as
    uptime counts: up or degraded), whether the check passed, and its latency."""
    name, ts = result.service, result.ts
    out = [
        Sample(service_series(name, "up"), ts, float(status in (Health.UP, Health.DEGRADED))),
        Sample(service_series(name, "ok"), ts, float(result.ok)),
    ]
    if result.latency is not None:
        out.append(Sample(service_series(name, "latency_seconds"), ts, result.latency))
    return out


HOST_PREFIX = host_series("")
SERVICE_PREFIX = service_series("", "")[:-1]  # "service:", as service_series names them
HELD_MAX = 50_000  # history writes held during the start-up restore (batches)


def _buckets(up: list[Point], ok: list[Point]) -> list[tuple[float, int, int, int]]:
    """Rollups of a service's up and ok series as (start, checks, up, failed) buckets:
    both are 0/1 samples, so count × avg is how many were 1."""
    ok_at = {p.ts: p for p in ok}
    out = []
    for p in up:
        passed = ok_at.get(p.ts)
        failed = 0 if passed is None else passed.count - round(passed.avg * passed.count)
        out.append((p.ts, p.count, round(p.avg * p.count), failed))
    return out


async def read_service_history(history: SeriesStore, name: str, now: float) -> ServiceHistory:
    """What the store's figures of one service need, from the history's tiers: raw latency
    over what its ring keeps (rings.LIVE_SPAN; the 24 h chart reads the history),
    1-minute rollups of up/ok over the windows the counter reads minutes for
    (3 h), 1-hour rollups over its 30 d, and the time of the oldest check kept."""
    up, ok, lat = (service_series(name, f) for f in ("up", "ok", "latency_seconds"))
    minute_since = now - WindowCounter.SHORT - MINUTE
    hour_since = now - WindowCounter.HOURS * HOUR
    latency, up_m, ok_m, up_h, ok_h = await asyncio.gather(
        history.samples(lat, now - LIVE_SPAN, now),
        history.query(up, minute_since, now, MINUTE),
        history.query(ok, minute_since, now, MINUTE),
        history.query(up, hour_since, now, HOUR),
        history.query(ok, hour_since, now, HOUR),
    )
    first: float | None = None
    if up_h and (not up_m or up_h[0].ts + HOUR <= up_m[0].ts):
        first = up_h[0].ts  # older than the minutes kept: to the hour is close enough
    elif up_m:  # the exact time, from the raw samples of that minute
        raw = await history.query(up, up_m[0].ts, up_m[0].ts + MINUTE, 0.0)
        first = raw[0].ts if raw else up_m[0].ts
    return ServiceHistory(
        latency=latency,
        minutes=_buckets(up_m, ok_m),
        hours=_buckets(up_h, ok_h),
        first_at=first,
    )


async def read_host_history(
    history: SeriesStore, now: float
) -> dict[str, tuple[list[float], list[float]]]:
    """Every stored host series over what its ring keeps (rings.LIVE_SPAN, raw), by its
    key ("cpu", "disk:/", ...)."""
    names = await history.names(HOST_PREFIX)
    ranges = await asyncio.gather(*(history.samples(n, now - LIVE_SPAN, now) for n in names))
    return {n.removeprefix(HOST_PREFIX): r for n, r in zip(names, ranges, strict=True) if r[0]}


class EventEngine(Protocol):
    """What the intake tells about accepted events (events/processor.py)."""

    def accepted(self, batch: list[Event]) -> None: ...
    async def durable(self, batch: list[Event]) -> None: ...


class StoreIntake:
    """Observations in, store writes out; ``events``: the engine told of accepted events
    (None: they go to the store only, as in the TUI tests' frozen data)."""

    def __init__(
        self,
        store: Store,
        *,
        clock: Callable[[], float] = time.time,
        events: EventEngine | None = None,
        checks: Callable[[CheckResult], None] | None = None,
        history: SeriesStore | None = None,
    ) -> None:
        """``checks``: told every check result as it is recorded (flap detection);
        ``history``: where check results and host samples are kept on disk."""
        self.store = store
        self.history = history
        self.clock = clock
        self.event_engine = events
        self.check_hook = checks
        self._down_by: dict[str, dict[str, str]] = {"docker": {}, "kubernetes": {}}
        self._held: list[list[Sample]] | None = None  # writes held during restore_history
        self._held_events: list[Event] | None = None  # accepted before the engine came
        # In a fleet (runtime.py): whether this instance writes a service's scrapes to the
        # shared history, the one whose share holds its check (every instance scrapes
        # every service; written by all, each series would get a sample per instance).
        self.scrapes_written_here: Callable[[str], bool] | None = None

    async def restore_history(self) -> float:
        """At start, before the sources run: refill the store's check counters, latency
        rings and host series from the history on disk (reads in the history's thread).
        Returns the seconds it took."""
        if self.history is None:
            return 0.0
        started = time.perf_counter()
        now = self.clock()
        self.hold_history()
        try:
            for name in self.store.service_names():  # one at a time: the loop runs between
                hist = await read_service_history(self.history, name, now)
                self.store.restore_history({name: hist}, {})
            self.store.restore_history({}, await read_host_history(self.history, now))
        finally:
            self.release_history()
        return time.perf_counter() - started

    def release_history(self) -> None:
        """Write what hold_history held (after the restore, or when the start fails before
        it: the first checks are not lost)."""
        held, self._held = self._held, None
        if self.history is not None:
            for batch in held or ():
                self.history.write(batch)

    def hold_history(self) -> None:
        """Hold history writes until restore_history has read the history: the dashboard's
        first checks, made before or during it, are in the store already, and would be
        counted twice."""
        if self._held is None:
            self._held = []

    async def restore_last_known(self) -> int:
        """At start, one read: each service's last check as the history kept it, shown
        (marked stale) until its first fresh check. How many services it found."""
        if self.history is None:
            return 0
        last: dict[str, dict[str, Sample]] = {}
        for sample in await self.history.latest(SERVICE_PREFIX, 0.0):
            name, _, field = sample.series.removeprefix(SERVICE_PREFIX).rpartition(":")
            last.setdefault(name, {})[field] = sample
        known: dict[str, tuple[bool, float, float | None]] = {}
        for name, fields in last.items():
            up, lat = fields.get("up"), fields.get("latency_seconds")
            if up is not None:  # latency: that check's, if it had one
                latency = lat.value if lat is not None and lat.ts == up.ts else None
                known[name] = (up.value >= 0.5, up.ts, latency)
        return self.store.restore_last_known(known)

    def hold_events(self) -> None:
        """Hold accepted events for the event engine handed over later (attach): the
        dashboard's first checks go out before the runtime that writes events exists."""
        if self._held_events is None:
            self._held_events = []

    def attach(
        self,
        *,
        events: EventEngine,
        checks: Callable[[CheckResult], None],
        history: SeriesStore,
    ) -> None:
        """The runtime's parts for an intake made before them (first_checks.py): the
        events it held go to the engine now; history writes stay held until the restore
        (release_history), check results the runtime took from ``checks`` before."""
        self.event_engine, self.check_hook, self.history = events, checks, history
        held, self._held_events = self._held_events, None
        if held:
            events.accepted(held)

    def _write(self, samples: list[Sample]) -> None:
        """To the history, or held while restore_history reads it (at most HELD_MAX
        batches: past that they go straight on, and a few may be counted twice) or until
        the history is attached."""
        if self._held is not None and len(self._held) < HELD_MAX:
            self._held.append(samples)
        elif self.history is not None:
            self.history.write(samples)

    def observe(self, obs: Observation) -> None:
        match obs:  # the two that come with every health check first (tried in order)
            case CheckResult():
                self._check(obs)
            case Polled(source, seconds, interval):
                self.store.cost.polls.record(source, seconds, interval)
            case EventsAccepted(batch):
                self._events(batch)
                if self.event_engine is not None:
                    self.event_engine.accepted(batch)
                elif self._held_events is not None:
                    self._held_events.extend(batch)
            case SystemSample():
                self._system(obs)
            case SourceStatus():
                self._source_status(obs)
            case EventRejected(origin, reason, raw):
                self.store.reject_event(origin, reason, raw)
            case WorkloadEvent():
                self._workload_event(obs)
            case ContainersListed(items):
                self._containers(items)
            case KubeListed(kind, items):
                self.store.kube.replace(kind, items)
                if kind == "pods":
                    self._pods_changed()
            case KubeChanged(kind, key, item):
                self.store.kube.put(kind, key, item)
                if kind == "pods":
                    self._pods_changed()
            case Scraped(service, ts, samples):
                self.store.record_scrape(service, ts, samples)
                here = self.scrapes_written_here
                if self.history is not None and (here is None or here(service)):
                    self._write([Sample(s.series, ts, s.value) for s in samples])
            case Pushed(samples, stored):
                self.store.record_custom(samples)
                if self.history is not None and not stored:
                    self._write([Sample(s.series, s.ts, s.value) for s in samples])
            case Beat(service, ts, stored):
                self.store.record_beat(service, ts)
                if self.history is not None and not stored:
                    series = service_series(service, "last_beat_seconds")
                    self._write([Sample(series, ts, ts)])
            case FleetView():
                self.store.set_fleet(obs)
            case SharedChecks(results):
                for result in results:
                    self._check(result, write=False)
            case _:
                assert_never(obs)

    async def observe_durable(self, obs: EventsAccepted) -> None:
        """Stream mode: the batch is on disk when this returns (then the source acks)."""
        self._events(obs.batch)
        if self.event_engine is not None:
            await self.event_engine.durable(obs.batch)

    def emit(
        self, etype: str, service: str, severity: EventSeverity, message: str, **data: object
    ) -> None:
        """The monitor's own findings join the event log (the in-process bus)."""
        self.observe(
            EventsAccepted(
                [Event(self.clock(), etype, service, severity, message, dict(data), "monitor")]
            )
        )

    # ------------------------------------------------------------------ per kind
    def _events(self, batch: list[Event]) -> None:
        """Accepted platform events: in the store (and the bus) now, secrets masked first
        (the one place every event passes before it is kept, shown or written)."""
        for e in batch:
            e.mask_secrets()
        self.store.record_events(batch)
        self.store.bus.publish_many("events", batch)

    def _check(self, result: CheckResult, *, write: bool = True) -> None:
        """``write``: False for a result another instance ran (it wrote the history)."""
        store = self.store
        changed = store.record_check(result)
        if write and (self.history is not None or self._held is not None):
            self._write(check_samples(result, store.status(result.service)))
        store.bus.publish("services", lambda: store.service(result.service))
        if self.check_hook is not None:
            self.check_hook(result)
        if changed is not None:
            self.emit(
                "service.health.changed",
                result.service,
                EventSeverity.ERROR if changed is Health.DOWN else EventSeverity.INFO,
                f"now {changed.value}" + (f": {result.error}" if result.error else ""),
                status=changed.value,
            )
            level = logging.WARNING if changed is Health.DOWN else logging.INFO
            log.log(
                level,
                "service status changed",
                extra={
                    "fields": {
                        "service": result.service,
                        "status": changed.value,
                        "reason": result.error or "",
                        "status_code": result.status_code,
                    }
                },
            )

    def _system(self, sample: SystemSample) -> None:
        self.store.record_system(sample)
        if self.history is not None:
            ts = sample.ts
            self._write([Sample(host_series(k), ts, v) for k, v in host_values(sample).items()])
        self.store.bus.publish("metrics", lambda: sample)

    def _source_status(self, status: SourceStatus) -> None:
        previous = self.store.source(status.name)
        if status.last_ok is None and previous is not None:
            status = replace(status, last_ok=previous.last_ok)
        if previous is None or (previous.state, previous.reason) != (status.state, status.reason):
            if status.state is SourceState.UNAVAILABLE:
                log.warning(
                    "source unavailable",
                    extra={"fields": {"source": status.name, "reason": status.reason}},
                )
            elif previous is not None and previous.state is SourceState.UNAVAILABLE:
                log.info("source recovered", extra={"fields": {"source": status.name}})
        self.store.set_source(status)

    def _containers(self, items: list[ContainerInfo]) -> None:
        """A full Docker poll: replace the containers; bound services follow their state."""
        self.store.docker.replace("containers", {c.id: c for c in items})
        down: dict[str, str] = {}
        bound: dict[str, list[ContainerInfo]] = {}
        for c in items:
            if c.service:
                bound.setdefault(c.service, []).append(c)
        for service, cs in bound.items():
            if not any(c.running for c in cs):
                c = cs[0]
                code = f" (exit {c.exit_code})" if c.exit_code is not None else ""
                down[service] = f"container {c.name} {c.state}{code}"
        self._workloads_down("docker", down)

    def _workload_event(self, event: WorkloadEvent) -> None:
        """A container or cluster event (start, die, oom, health_status, Warning ...):
        kept in the source's ring in the store, and in the platform event log (its
        message was masked by the source: kube_source.event_info)."""
        state = self.store.docker if event.source == "docker" else self.store.kube
        state.add_event(event)
        prefix = "container" if event.source == "docker" else "kubernetes"
        self.observe(
            EventsAccepted(
                [
                    Event(
                        event.ts,
                        f"{prefix}.{_dotted(event.kind)}",
                        event.service or event.subject,
                        EventSeverity.WARNING if event.warning else EventSeverity.INFO,
                        f"{event.subject}: {event.message}" if event.message else event.subject,
                        {"subject": event.subject},
                        event.source,
                    )
                ]
            )
        )
        if event.warning:
            log.info(
                "workload event",
                extra={
                    "fields": {
                        "source": event.source,
                        "kind": event.kind,
                        "subject": event.subject,
                        "service": event.service or "",
                        "message": event.message,
                    }
                },
            )

    def _pods_changed(self) -> None:
        down: dict[str, str] = {}
        by_service: dict[str, list[Any]] = {}
        for pod in self.store.kube.items("pods"):
            if pod.service:
                by_service.setdefault(pod.service, []).append(pod)
        for service, pods in by_service.items():
            if not any(p.ready for p in pods):
                p = pods[0]
                why = f": {p.last_termination}" if p.last_termination else ""
                down[service] = f"no ready pod (pod {p.name} {p.phase}{why})"
        self._workloads_down("kubernetes", down)

    def _workloads_down(self, source: str, down: dict[str, str]) -> None:
        before = self._down_by[source]
        self._down_by[source] = down
        for service in set(before) | set(down):
            reason = self._down_by["docker"].get(service) or self._down_by["kubernetes"].get(
                service
            )
            if reason != self.store.workload_down(service):
                if reason:
                    log.warning(
                        "service down: its workload stopped",
                        extra={"fields": {"service": service, "reason": reason}},
                    )
                self.store.set_workload_down(service, reason)


def _dotted(kind: str) -> str:
    """A Docker action or Kubernetes reason as an event type part: 'BackOff' → 'backoff'."""
    out = "".join(c if c.isalnum() or c in "_-" else "_" for c in kind.lower())
    return out or "event"
