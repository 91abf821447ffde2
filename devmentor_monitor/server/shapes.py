"""Plain-JSON shapes of the store and of the bus's messages.

Used by the HTTP API, the live streams (streams.py), `status --json` and, handed to it
by the runtime, the Redis incident publisher. No aiohttp here: `status` imports this.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from devmentor_monitor.bus import IncidentChange
from devmentor_monitor.events.model import Event
from devmentor_monitor.incidents.model import Incident
from devmentor_monitor.incidents.silence_book import iso, silence_state
from devmentor_monitor.incidents.silences import Silence
from devmentor_monitor.logs import mask_url
from devmentor_monitor.metric_specs import series_spec
from devmentor_monitor.model import CheckResult, SourceStatus, SystemSample
from devmentor_monitor.store import ServiceSummary, Store

if TYPE_CHECKING:
    from devmentor_monitor.bus import Message


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


def service_json(s: ServiceSummary) -> dict[str, Any]:
    def ms(v: float | None) -> float | None:
        return _r(v * 1000, 2) if v is not None else None

    return {
        "name": s.name,
        "url": mask_url(s.url),  # every reader may see it: no password, no token
        "status": s.status.value,
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
        "uptime_percent": {"1h": _r(s.uptime_1h), "24h": _r(s.uptime_24h), "7d": _r(s.uptime_7d)},
        "error_rate_percent_1h": _r(s.error_rate_1h),
        "checks_total": s.checks_total,
        "failures_total": s.failures_total,
        "cert_days": _r(s.cert_days, 2),
        "slo": None
        if s.slo is None
        else {
            "uptime_percent": s.slo.uptime,
            "response_time_ms": s.slo.response_time * 1000,
            "error_rate_percent": s.slo.error_rate,
            "compliant": s.slo_compliant,
            "error_budget_remaining": _r(s.error_budget_remaining),
            "window": "7d",
        },
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
        "network_bytes_per_s": {"rx": _r(s.net_rx_rate, 1), "tx": _r(s.net_tx_rate, 1)},
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


def series_json(store: Store, names: list[str], since: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in names:
        ring = store.series(name)
        if ring is None:
            continue
        spec = series_spec(name)
        ts, vs = ring.since(since)
        out[name] = {
            "unit": spec.unit,
            "label": spec.label,
            "metric": spec.metric,
            "points": [[t, _r(v, 3)] for t, v in zip(ts, vs, strict=True)],
        }
    return out


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
