"""The incident engine on a real SQLite file, a fake clock and a recording notifier, for
the grouping, inhibition, dispatch and persistence tests (issue 14)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devmentor_monitor.config.schema import parse_text
from devmentor_monitor.incidents.engine import IncidentEngine
from devmentor_monitor.incidents.model import Incident, Severity, Signal
from devmentor_monitor.incidents.signals import make_signal
from devmentor_monitor.model import CheckResult
from devmentor_monitor.storage.db import Database
from devmentor_monitor.store import Store
from support.clock import FakeClock

# auth ← memory, project; ai-gateway ← memory (so transitively auth).
FLEET = """
services:
  - name: auth
    url: http://127.0.0.1:1/health
    failure_threshold: 1
    slo: {uptime: 99.9, response_time: 200ms, error_rate: 0.1}
  - name: memory
    url: http://127.0.0.1:2/health
    failure_threshold: 1
    depends_on: [auth]
  - name: project
    url: http://127.0.0.1:3/health
    failure_threshold: 1
    depends_on: [auth]
  - name: ai-gateway
    url: http://127.0.0.1:4/health
    failure_threshold: 1
    depends_on: [memory]
  - name: billing
    url: http://127.0.0.1:5/health
    failure_threshold: 1
"""

METRIC = {
    "service_down": "down",
    "latency_slo": "latency",
    "error_rate_slo": "error_rate",
    "burn_rate_fast": "burn_fast",
    "burn_rate_slow": "burn_slow",
    "anomaly": "anomaly_score",
    "cert_expiry": "cert_days",
}


@dataclass
class Sent:
    service: str
    kind: str
    incident_id: str
    channels: tuple[str, ...] | None
    description: str
    severity: str


@dataclass
class Recorder:
    """A notifier that keeps what it was asked to send."""

    sent: list[Sent] = field(default_factory=list)

    async def notify(
        self,
        incident: Incident,
        kind: str,
        *,
        suppressed: bool = False,
        channels: Sequence[str] | None = None,
    ) -> int:
        if suppressed and kind != "resolved":
            return 0
        self.sent.append(
            Sent(
                incident.service,
                kind,
                incident.id,
                None if channels is None else tuple(channels),
                incident.description,
                incident.severity.value,
            )
        )
        return 1

    async def escalate(self, incidents: Iterable[Incident], suppressed: Any = None) -> list[str]:
        return []

    def kinds(self) -> list[tuple[str, str]]:
        return [(s.service, s.kind) for s in self.sent]


@dataclass
class Rig:
    engine: IncidentEngine
    store: Store
    db: Database
    clock: FakeClock
    recorder: Recorder

    def signal(
        self,
        rule: str,
        service: str = "auth",
        severity: Severity = Severity.HIGH,
        *,
        firing: bool = True,
        value: float | None = 1.0,
        threshold: float | None = 0.5,
        subject: str | None = None,
    ) -> Signal:
        return make_signal(
            rule,
            subject or service,
            service,
            severity,
            firing,
            self.clock.now,
            metric=METRIC.get(rule, ""),
            value=value,
            threshold=threshold,
        )

    async def fire(self, rule: str, service: str = "auth", **kw: Any) -> Incident | None:
        return await self.engine.on_signal(self.signal(rule, service, **kw))

    async def clear(self, rule: str, service: str = "auth", **kw: Any) -> Incident | None:
        return await self.engine.on_signal(self.signal(rule, service, firing=False, **kw))

    async def tick(self, advance: float = 0.0) -> None:
        self.clock.advance(advance)
        await self.engine.release_held()
        await self.engine.dispatcher.tick(self.clock.now)

    def check(self, service: str, ok: bool) -> None:
        self.store.record_check(
            CheckResult(
                service,
                self.clock.now,
                ok=ok,
                latency=0.01 if ok else None,
                error=None if ok else "connection refused",
            )
        )

    def open(self) -> list[Incident]:
        return self.store.open_incidents()

    def close(self) -> None:
        self.db.close()


def rig(
    tmp_path: Path,
    *,
    group_by: Sequence[str] = ("service",),
    group_wait: float = 0.0,
    config: str = FLEET,
    clock: FakeClock | None = None,
    db_name: str = "monitor.db",
) -> Rig:
    clock = clock or FakeClock()
    store = Store(parse_text(config), clock=clock)
    db = Database(tmp_path / db_name)
    db.open()
    recorder = Recorder()
    engine = IncidentEngine(
        store, db, recorder, clock=clock, group_by=group_by, group_wait=group_wait
    )
    engine.dispatcher.group_interval = 0.0
    return Rig(engine, store, db, clock, recorder)
