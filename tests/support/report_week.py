"""A scripted week for the report tests: check samples written into a real SqliteSeries
(history.db) and incidents, acknowledgements, resolutions and notifications into a real
Database (monitor.db), in one data dir. The script is plain data (`Week`), so a test can
work out what the report must say from it without the code under test.

The week ends at ``end`` (an hour boundary) and starts 7 days before; every service is
checked once a minute, 30 s into the minute.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from devmentor_monitor.history.model import DAY, HOUR, Sample, service_series
from devmentor_monitor.history.sqlite import SqliteSeries
from devmentor_monitor.incidents.model import Incident, IncidentState, Severity, Signal
from devmentor_monitor.storage.db import Database

WEEK = 7 * DAY
RETENTION = 30 * DAY


@dataclass(frozen=True)
class Check:
    ts: float
    up: bool
    ok: bool
    latency: float | None  # None when the check failed


@dataclass(frozen=True)
class ScriptedIncident:
    id: str
    service: str
    rule: str
    kind: str
    opened_at: float
    acknowledged_at: float | None
    resolved_at: float | None


@dataclass(frozen=True)
class Note:
    channel: str
    kind: str
    state: str  # sent, failed, pending
    created_at: float


@dataclass
class Week:
    end: float
    checks: dict[str, list[Check]] = field(default_factory=dict)
    incidents: list[ScriptedIncident] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)

    @property
    def start(self) -> float:
        return self.end - WEEK

    def hour(self, day: int, hour: int) -> float:
        """The start of hour ``hour`` of day ``day`` (0-6) of the week."""
        return self.start + day * DAY + hour * HOUR


def script(end: float) -> Week:
    """auth: a 45-minute outage on day 1 at 10:00, 3 failed checks while up on day 3,
    slow hours (450 ms on day 2 14:00, 300 ms on day 4 02:00, one 900 ms spike on day 5
    09:00), else 20 ms. memory: always up, 10 ms, 60 ms on day 0 20:00. legacy: only in
    the history (not configured), the last day only, 50 ms."""
    assert end % HOUR == 0
    w = Week(end)
    minutes = [w.start + 30 + 60 * k for k in range(int(WEEK // 60))]
    outage = (w.hour(1, 10), w.hour(1, 10) + 45 * 60)
    failed_up = {w.hour(3, 3) + 30 + 60 * k for k in range(3)}
    spike = w.hour(5, 9) + 30

    def auth(ts: float) -> Check:
        if outage[0] <= ts < outage[1]:
            return Check(ts, False, False, None)
        if ts in failed_up:
            return Check(ts, True, False, None)
        if w.hour(2, 14) <= ts < w.hour(2, 15):
            return Check(ts, True, True, 0.450)
        if w.hour(4, 2) <= ts < w.hour(4, 3):
            return Check(ts, True, True, 0.300)
        if ts == spike:
            return Check(ts, True, True, 0.900)
        return Check(ts, True, True, 0.020)

    def memory(ts: float) -> Check:
        slow = w.hour(0, 20) <= ts < w.hour(0, 21)
        return Check(ts, True, True, 0.060 if slow else 0.010)

    w.checks["auth"] = [auth(t) for t in minutes]
    w.checks["memory"] = [memory(t) for t in minutes]
    w.checks["legacy"] = [Check(t, True, True, 0.050) for t in minutes if t >= end - DAY]

    o = outage[0]
    w.incidents = [
        ScriptedIncident("inc-a", "auth", "service_down", "down", o + 180, o + 480, outage[1] + 60),
        ScriptedIncident(
            "inc-b",
            "auth",
            "latency_slo",
            "latency",
            w.hour(2, 14) + 300,
            w.hour(2, 14) + 420,
            w.hour(2, 14) + 3600,
        ),
        ScriptedIncident(
            "inc-c",
            "memory",
            "latency_slo",
            "latency",
            w.hour(0, 20) + 600,
            None,
            w.hour(0, 20) + 2400,
        ),
        ScriptedIncident(
            "inc-d", "auth", "manual", "manual", w.hour(5, 9) + 1800, w.hour(5, 9) + 2400, None
        ),
        ScriptedIncident(
            "inc-f",
            "project",
            "burn_rate_fast",
            "burn_rate",
            w.hour(3, 8),
            w.hour(3, 8) + 60,
            w.hour(3, 8) + 7200,
        ),
        # Opened the day before the week: not in the report.
        ScriptedIncident(
            "inc-old", "memory", "service_down", "down", w.start - DAY, None, w.start - DAY + 600
        ),
    ]
    w.notes = [
        *(Note("ops", "open", "sent", o + 200 + i) for i in range(3)),
        *(Note("ops", "resolved", "sent", outage[1] + 70 + i) for i in range(2)),
        Note("ops", "escalation", "failed", o + 1200),
        Note("pd", "open", "sent", o + 200),
        Note("pd", "open", "failed", w.hour(3, 8) + 5),
        Note("pd", "resolved", "pending", w.hour(3, 8) + 7205),
        Note("ops", "open", "sent", w.start - DAY),  # before the week: not counted
    ]
    return w


def _incident(s: ScriptedIncident) -> Incident:
    state = (
        IncidentState.RESOLVED
        if s.resolved_at is not None
        else IncidentState.ACKNOWLEDGED
        if s.acknowledged_at is not None
        else IncidentState.OPEN
    )
    signals = ()
    if s.rule != "manual":
        signals = (
            Signal(
                s.rule,
                s.service,
                s.service,
                s.kind,
                Severity.HIGH,
                s.kind == "down",
                "cleared",
                s.opened_at,
                s.resolved_at or s.opened_at,
            ),
        )
    return Incident(
        id=s.id,
        service=s.service,
        rule=s.rule,
        severity=Severity.HIGH,
        title=f"{s.service}: {s.rule}",
        description="scripted",
        state=state,
        opened_at=s.opened_at,
        updated_at=s.resolved_at or s.acknowledged_at or s.opened_at,
        acknowledged_at=s.acknowledged_at,
        acknowledged_by="ops" if s.acknowledged_at is not None else None,
        resolved_at=s.resolved_at,
        signals=signals,
    )


def samples(week: Week) -> list[Sample]:
    out = []
    for name, checks in week.checks.items():
        for c in checks:
            out.append(Sample(service_series(name, "up"), c.ts, float(c.up)))
            out.append(Sample(service_series(name, "ok"), c.ts, float(c.ok)))
            if c.latency is not None:
                out.append(Sample(service_series(name, "latency_seconds"), c.ts, c.latency))
    return out


async def write(week: Week, data_dir: Path) -> None:
    """history.db through a real SqliteSeries (its clock at the week's end, so every tier
    keeps what it should), monitor.db through a real Database."""
    history = SqliteSeries(data_dir / "history.db", RETENTION, clock=lambda: week.end)
    await asyncio.to_thread(history.open)
    history.write(samples(week))
    await history.flush()
    await history.close()
    db = Database(data_dir / "monitor.db")
    db.open()
    try:
        for s in week.incidents:
            db.save_incident(_incident(s), [])
        for n in week.notes:
            note_id = db.enqueue("inc-a", n.channel, n.kind, {}, n.created_at)
            if n.state != "pending":
                db.mark_notification(
                    note_id,
                    sent=n.state == "sent",
                    attempts=1,
                    error=None if n.state == "sent" else "HTTP 400",
                    next_at=None,
                    now=n.created_at + 1,
                )
    finally:
        db.close()
