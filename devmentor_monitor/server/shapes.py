"""Plain-JSON shapes of the store and of the bus's messages.

Used by the HTTP API, the live streams (streams.py), `status --json` and, handed to it
by the runtime, the Redis incident publisher. No aiohttp here: `status` imports this.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from devmentor_monitor import __version__
from devmentor_monitor.bus import IncidentChange
from devmentor_monitor.events.model import Event
from devmentor_monitor.health.basis import UPTIME_WINDOWS, basis_seconds
from devmentor_monitor.health.slo import SLO_WINDOW
from devmentor_monitor.incidents.explain import AlertReasons
from devmentor_monitor.incidents.flapping import FlapState
from devmentor_monitor.incidents.model import Incident, Signal
from devmentor_monitor.incidents.rules import Alert, BurnReading
from devmentor_monitor.incidents.silence_book import iso, silence_state
from devmentor_monitor.incidents.silences import Silence
from devmentor_monitor.logs import mask, mask_url
from devmentor_monitor.metric_specs import series_spec
from devmentor_monitor.model import (
    AuditEntry,
    CheckResult,
    NotificationRecord,
    SourceStatus,
    SystemSample,
)
from devmentor_monitor.reports.model import Count, DurationStats, HourLatency, Report
from devmentor_monitor.selfcost import SelfCost, slow_lines
from devmentor_monitor.store import ServiceSummary

if TYPE_CHECKING:
    from devmentor_monitor.bus import Message
    from devmentor_monitor.cluster.state import FleetView
    from devmentor_monitor.config.schema import SLO
    from devmentor_monitor.store import Store


def _r(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def check_json(c: CheckResult) -> dict[str, Any]:
    return {
        "ts": c.ts,
        "ok": c.ok,
        "latency_ms": _r(c.latency and c.latency * 1000, 2),
        "status_code": c.status_code,
        "error": c.error,
        "cert_days": _r(c.cert_days, 2),
    }


def slo_targets_json(slo: SLO) -> dict[str, Any]:
    """A service's SLO targets, as /api/services and the report both show them."""
    return {
        "uptime_percent": slo.uptime,
        "response_time_ms": slo.response_time * 1000,
        "error_rate_percent": slo.error_rate,
    }


# A service's URL as shown, masked once per URL: `/api/services` encodes a service again
# on each of its checks (100 a second at 1,000 services), and the masking (urlsplit and
# urlunsplit) was half of service_json's time (12.6 of 25 us warm, 27 us in `--serve`).
# Bounded: past 4,096 distinct URLs the oldest are masked again when next shown.
shown_url = lru_cache(maxsize=4096)(mask_url)


def service_json(
    s: ServiceSummary,
    flap: FlapState | None = None,
    burn: Sequence[BurnReading] | None = None,
) -> dict[str, Any]:
    """A service; with ``flap`` and ``burn`` (the API's reads through the queries) also
    whether it flaps and its burn rates."""

    def ms(v: float | None) -> float | None:
        return _r(v * 1000, 2) if v is not None else None

    out: dict[str, Any] = {
        "name": s.name,
        "url": shown_url(s.url) if s.url else None,  # no password, no token; None: heartbeat
        "status": s.status.value,
        # No check yet since the start: the status is the last known, from a check then.
        "stale": s.stale_at is not None,
        "stale_at": s.stale_at,
        "since": s.since,
        "interval_s": s.interval,
        "depends_on": list(s.depends_on),
        "last_check": check_json(s.last) if s.last else None,
        "consecutive_failures": s.consecutive_failures,
        "workload_down": s.workload_down,
        "latency_ms": {
            "last": ms(s.latency),
            "p50": ms(s.latency_p50),
            "p95": ms(s.latency_p95),
            "p99": ms(s.latency_p99),
        },
        "uptime_percent": {
            "1h": _r(s.uptime_1h),
            "24h": _r(s.uptime_24h),
            "7d": _r(s.uptime_7d),
            "30d": _r(s.uptime_30d),
        },
        # What the windows rest on (health/basis.py): under a window, its figure covers
        # only the seconds given here.
        "data_seconds": _r(s.data_seconds, 1),
        "uptime_basis_seconds": {
            name: _r(basis_seconds(window, s.data_seconds), 1) for name, window in UPTIME_WINDOWS
        },
        "uptime_checks": {
            name: n for (name, _), n in zip(UPTIME_WINDOWS, s.window_checks, strict=True)
        },
        "error_rate_percent_1h": _r(s.error_rate_1h),
        "checks_total": s.checks_total,
        "failures_total": s.failures_total,
        "cert_days": _r(s.cert_days, 2),
        "slo": None
        if s.slo is None
        else {
            **slo_targets_json(s.slo),
            "compliant": s.slo_compliant,
            "error_budget_remaining": _r(s.error_budget_remaining),
            "window": "7d",
            "basis_seconds": _r(basis_seconds(SLO_WINDOW, s.data_seconds), 1),
        },
    }
    if s.heartbeat_grace is not None:
        out["heartbeat"] = {"grace_s": s.heartbeat_grace, "last_beat": s.last_beat}
    if flap is not None:
        out["flapping"] = flap.flapping
        out["flap_change_percent"] = _r(flap.change * 100, 1)
    if burn is not None:
        out["burn_rates"] = [burn_json(b) for b in burn]
    return out


def burn_json(b: BurnReading) -> dict[str, Any]:
    return {
        "pair": b.name,
        "factor": b.factor,
        "long_window_s": b.long_window,
        "short_window_s": b.short_window,
        "long": _r(b.long_rate, 3),
        "short": _r(b.short_rate, 3),
        "burning": b.burning,
    }


def source_json(s: SourceStatus, now: float) -> dict[str, Any]:
    return {
        "name": s.name,
        "state": s.state.value,
        "reason": s.reason,
        "last_ok": s.last_ok,
        "retry_at": s.retry_at,
        "text": s.describe(now),
    }


def health_json(
    store: Store, healthy: bool, problems: list[str], started_at: float, now: float
) -> dict[str, Any]:
    """/health's body (server/app.py), also given by `ultra` to its own check of its
    exporter while nobody has connected to it (runtime.Monitor._answer_self)."""
    return {
        "status": "ok" if healthy else "fail",
        "problems": problems,
        "version": __version__,
        "uptime_s": round(now - started_at, 1),
        "services": store.counts(),
        "sources": [source_json(s, now) for s in store.sources()],
        "cluster": cluster_json(store.fleet),
    }


def cluster_json(view: FleetView) -> dict[str, Any]:
    """/health's summary of the fleet: mode (solo, member, fallback), the members' ids,
    the leader and, in fallback, why."""
    return {
        "mode": view.mode,
        "me": view.me,
        "members": [m.id for m in view.members],
        "leader": view.leader,
        "reason": view.reason,
    }


def fleet_json(view: FleetView) -> dict[str, Any]:
    """/api/fleet: the view in full (cluster/state.py), each member with its API URL,
    start time and the number of checks its share holds."""
    return {
        "me": view.me,
        "mode": view.mode,
        "members": [
            {"id": m.id, "url": mask_url(m.url), "started": m.started, "checks": m.checks}
            for m in view.members
        ],
        "leader": view.leader,
        "token": view.token,
        "reason": view.reason,
    }


def system_json(s: SystemSample | None) -> dict[str, Any] | None:
    if s is None:
        return None
    return {
        "ts": s.ts,
        "cpu_percent": _r(s.cpu_percent, 2),
        "cpu_per_core_percent": [_r(v, 2) for v in s.cpu_per_core],
        "load": list(s.load),
        "memory": {
            "total_bytes": s.mem_total,
            "used_bytes": s.mem_used,
            "available_bytes": s.mem_available,
            "percent": s.mem_percent,
        },
        "swap": {"total_bytes": s.swap_total, "used_bytes": s.swap_used, "percent": s.swap_percent},
        "disks": [
            {"mount": d.mount, "total_bytes": d.total, "used_bytes": d.used, "percent": d.percent}
            for d in s.disks
        ],
        "disk_io_bytes_per_s": {"read": _r(s.disk_read_rate, 1), "write": _r(s.disk_write_rate, 1)},
        # every interface but loopback; each one (loopback marked) in network_interfaces
        "network_bytes_per_s": {"rx": _r(s.net_rx_rate, 1), "tx": _r(s.net_tx_rate, 1)},
        "network_interfaces": [
            {
                "name": i.name,
                "loopback": i.loopback,
                "rx_bytes_per_s": _r(i.rx_rate, 1),
                "tx_bytes_per_s": _r(i.tx_rate, 1),
            }
            for i in s.net_interfaces
        ],
        "processes": s.process_count,
        "top_cpu": [
            {"pid": p.pid, "name": p.name, "cpu_percent": p.cpu_percent, "rss_bytes": p.rss}
            for p in s.top_cpu
        ],
        "top_memory": [
            {"pid": p.pid, "name": p.name, "cpu_percent": p.cpu_percent, "rss_bytes": p.rss}
            for p in s.top_mem
        ],
    }


def series_json(points: dict[str, tuple[list[float], list[float]]]) -> dict[str, Any]:
    """Host series by key, from their (timestamps, values)."""
    out: dict[str, Any] = {}
    for name, (ts, vs) in points.items():
        spec = series_spec(name)
        out[name] = {
            "unit": spec.unit,
            "label": spec.label,
            "metric": spec.metric,
            "points": [[t, _r(v, 3)] for t, v in zip(ts, vs, strict=True)],
        }
    return out


def audit_json(e: AuditEntry) -> dict[str, Any]:
    """An audit row: who, what, when, from where, how it ended, how many attempts it
    stands for, and its place in the hash chain."""
    return {
        "id": e.id,
        "ts": e.ts,
        "time": iso(e.ts),
        "actor": e.actor,
        "action": e.action,
        "target": e.target,
        "source": e.source,
        "outcome": e.outcome,
        "count": e.count,
        "hash": e.hash,
    }


def incident_json(inc: Incident, *, timeline: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": inc.id,
        "service": inc.service,
        "rule": inc.rule,
        "severity": inc.severity.value,
        "state": inc.state.value,
        "title": inc.title,
        "description": inc.description,
        "opened_at": inc.opened_at,
        "updated_at": inc.updated_at,
        "acknowledged_at": inc.acknowledged_at,
        "acknowledged_by": inc.acknowledged_by,
        "resolved_at": inc.resolved_at,
        "resolved_by": inc.resolved_by,
        "time_to_recover_s": inc.time_to_recover,
        "parent_id": inc.parent_id,
    }
    if timeline:
        out["timeline"] = [
            {"ts": e.ts, "kind": e.kind, "actor": e.actor, "text": e.text} for e in inc.timeline
        ]
    return out


def signal_json(sig: Signal) -> dict[str, Any]:
    return {
        "kind": sig.kind,
        "rule": sig.rule,
        "subject": sig.subject,
        "service": sig.service,
        "severity": sig.severity.value,
        "state": sig.state,
        "outage": sig.outage,
        "first_at": sig.first_at,
        "last_at": sig.last_at,
        "value": _r(sig.value),
        "threshold": _r(sig.threshold),
    }


def notification_json(n: NotificationRecord) -> dict[str, Any]:
    return {
        "channel": n.channel,
        "kind": n.kind,
        "state": n.state,
        "created_at": n.created_at,
        "sent_at": n.sent_at,
        "attempts": n.attempts,
        "last_error": mask(n.last_error) if n.last_error else None,
    }


def silenced_by_json(silence_id: str | None, silence: Silence | None) -> dict[str, Any] | None:
    """{id, comment} of the silence muting something (comment "" when it is gone)."""
    if silence is not None:
        return {"id": silence.id, "comment": silence.comment}
    return None if silence_id is None else {"id": silence_id, "comment": ""}


def incident_detail_json(
    inc: Incident,
    *,
    notifications: Sequence[NotificationRecord],
    why_paged: str,
    silence: Silence | None,
) -> dict[str, Any]:
    """`GET /api/incidents/{id}`: the incident with its timeline, signals, dependents,
    silence, paging state, who was notified when and why it paged (or did not)."""
    out = incident_json(inc)
    out.update(
        signals=[signal_json(sig) for sig in inc.signals],
        dependents=list(inc.dependents),
        silenced_by=silenced_by_json(inc.silenced_by, silence),
        flapping=inc.flapping,
        closing_note=inc.closing_note,
        group_key=inc.group_key,
        page_at=inc.page_at,
        paged_at=inc.paged_at,
        paged_channels=list(inc.paged_channels),
        notifications=[notification_json(n) for n in notifications],
        why_paged=why_paged,
    )
    return out


def alert_json(a: Alert, reasons: AlertReasons, flapping: bool) -> dict[str, Any]:
    """One alert of /api/alerts: its state and why it is quiet (silenced, inhibited)."""
    inhibitor = reasons.inhibited_by
    return {
        "rule": a.rule.name,
        "subject": a.subject,
        "state": a.state.value,
        "since": a.since,
        "value": a.value,
        "threshold": a.threshold,
        "service": a.service,
        "incident": None if reasons.incident is None else reasons.incident.id,
        "silenced_by": None
        if reasons.silence is None
        else silenced_by_json(reasons.silence.id, reasons.silence),
        "inhibited_by": None
        if inhibitor is None
        else {"incident": inhibitor.id, "service": inhibitor.service},
        "flapping": flapping,
    }


def silence_json(s: Silence, now: float) -> dict[str, Any]:
    """Alertmanager API v2's GettableSilence (what `POST /api/silences` takes, plus id,
    status, createdBy and createdAt), times in ISO 8601 UTC."""
    return {
        "id": s.id,
        "status": {"state": silence_state(s, now)},
        "matchers": [m.to_json() for m in s.matchers],
        "startsAt": iso(s.starts_at),
        "endsAt": iso(s.ends_at),
        "createdBy": s.created_by,
        "comment": s.comment,
        "createdAt": iso(s.created_at),
    }


def incident_change_json(c: IncidentChange) -> dict[str, Any]:
    """An "incidents" message: on the live streams, and in the Redis publisher's body."""
    return {"change": c.change, "incident": incident_json(c.incident, timeline=False)}


def message_json(message: Message) -> dict[str, Any]:
    """One bus message as the live streams send it."""
    if isinstance(message, IncidentChange):
        return incident_change_json(message)
    if isinstance(message, Event):
        return message.to_dict()
    if isinstance(message, ServiceSummary):
        return service_json(message)
    return system_json(message) or {}


def report_json(r: Report) -> dict[str, Any]:
    """`GET /api/report`: the report (reports/model.py) as the Markdown and HTML show it.
    Durations in seconds, latencies in milliseconds, percents as percents; a service's
    downtime_s and downtime_allowed_s are of its watched_s (the time with checks stored),
    not of span_s."""

    def ms(v: float | None) -> float | None:
        return _r(v * 1000, 2) if v is not None else None

    def stats(d: DurationStats) -> dict[str, Any]:
        return {
            "count": d.count,
            "mean_s": _r(d.mean, 1),
            "median_s": _r(d.median, 1),
            "max_s": _r(d.max, 1),
        }

    def hour(h: HourLatency) -> dict[str, Any]:
        return {"ts": h.ts, "mean_ms": ms(h.mean), "max_ms": ms(h.max), "checks": h.count}

    def counts(cs: Sequence[Count]) -> list[dict[str, Any]]:
        return [{"name": c.name, "count": c.count} for c in cs]

    return {
        "span_s": r.span,
        "since": r.since,
        "until": r.until,
        "generated_at": r.generated_at,
        "step_s": r.step,
        "services": [
            {
                "name": s.name,
                "checks": s.checks,
                "up_checks": s.up_checks,
                "failed_checks": s.failed_checks,
                "uptime_percent": _r(s.uptime),
                "error_rate_percent": _r(s.error_rate),
                "latency_ms": {
                    "mean": ms(s.latency_mean),
                    "p95": ms(s.latency_p95),
                    "max": ms(s.latency_max),
                },
                "slo": None if s.slo is None else slo_targets_json(s.slo),
                "compliant": s.compliant,
                "error_budget_remaining": _r(s.budget),
                "watched_s": _r(s.watched, 1),
                "downtime_s": _r(s.downtime, 1),
                "downtime_allowed_s": _r(s.downtime_allowed, 1),
                "worst_hours": [hour(h) for h in s.worst_hours],
                "hours": [hour(h) for h in s.hours],
            }
            for s in r.services
        ],
        "incidents": {
            "count": len(r.incidents),
            "truncated": r.incidents_truncated,
            "time_to_acknowledge": stats(r.tta),
            "time_to_resolve": stats(r.ttr),
            "top_causes": {
                "rule": counts(r.causes_by_rule),
                "kind": counts(r.causes_by_kind),
                "service": counts(r.causes_by_service),
            },
            "items": [
                {
                    "id": i.id,
                    "service": i.service,
                    "rule": i.rule,
                    "kind": i.kind,
                    "severity": i.severity,
                    "state": i.state,
                    "title": i.title,
                    "opened_at": i.opened_at,
                    "acknowledged_at": i.acknowledged_at,
                    "resolved_at": i.resolved_at,
                    "tta_s": _r(i.tta, 1),
                    "ttr_s": _r(i.ttr, 1),
                }
                for i in r.incidents
            ],
        },
        "notifications": [
            {"channel": n.channel, "kind": n.kind, "state": n.state, "count": n.count}
            for n in r.notifications
        ],
    }


def self_cost_json(cost: SelfCost) -> dict[str, Any]:
    """GET /api/self: the monitor's own CPU, memory and poll times (selfcost.py)."""
    usage = cost.usage()
    return {
        "cpu_ratio": _r(usage.cpu_ratio),
        "rss_bytes": usage.rss_bytes,
        "polls": [
            {
                "source": p.source,
                "count": p.count,
                "mean_s": _r(p.mean, 6),
                "max_s": _r(p.max, 6),
                "interval_s": p.interval,
                "slow": p.slow,
            }
            for p in cost.polls.stats()
        ],
        "slow": slow_lines(cost),
    }
