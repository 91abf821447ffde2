"""The Grafana dashboard (deploy/grafana/devmentor-monitor.json), built from declarations.

Each panel is declared once below (title, kind, unit, PromQL); `dashboard()` lays them out
in rows and builds Grafana's JSON model (schemaVersion 39: Grafana 10.4 and 11). Every
series a query names is checked against metric_specs.METRICS when the JSON is built, so a
renamed or removed metric fails the build (and tests/unit/test_exports.py), not a panel.

Plain dicts through one small builder, not grafanalib: its releases trail Grafana's panel
model, and a dependency for one generated file would cost more than the ~100 lines here.

The data source is a `datasource` variable (any Prometheus), so the file imports as is;
`service` (label_values of devmentor_service_up) filters the service panels. Regenerate
the committed file with
`devmentor-monitor dashboard export -o deploy/grafana/devmentor-monitor.json`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from devmentor_monitor.config.schema import DEFAULT_BURN_PAIRS, Thresholds
from devmentor_monitor.exports import check_metrics, prom_duration
from devmentor_monitor.health.slo import HOUR
from devmentor_monitor.predictions.detector import DetectorConfig

UID = "devmentor-monitor"
TITLE = "DevMentor monitor"
DS = {"type": "prometheus", "uid": "${datasource}"}
SVC = 'service=~"$service"'
WIDTH = 24  # Grafana's grid


@dataclass(frozen=True, slots=True)
class Query:
    expr: str
    legend: str = ""


@dataclass(frozen=True, slots=True)
class Panel:
    """One panel: what it shows and how; the builder adds ids, positions and defaults."""

    title: str
    kind: str  # stat | timeseries | bargauge
    queries: tuple[Query, ...]
    description: str
    unit: str = ""
    width: int = 6
    height: int = 8
    min: float | None = None
    max: float | None = None
    steps: tuple[tuple[str, float | None], ...] = (("green", None),)  # colour from value
    lines: bool = False  # draw the steps as threshold lines (timeseries)
    mappings: tuple[tuple[int, str, str], ...] = ()  # value -> text, colour
    options: dict[str, Any] = field(default_factory=dict)


def q(expr: str, legend: str = "") -> tuple[Query, ...]:
    return (Query(expr, legend),)


def _ratio_steps(warn: float, alert: float) -> tuple[tuple[str, float | None], ...]:
    """A host threshold's warn / alert levels (percent in the config) as ratio steps."""
    return (("green", None), ("orange", warn / 100), ("red", alert / 100))


def _burn_rate(window: str) -> str:
    """Failed share of checks over ``window``, over each service's error budget."""
    checks = "devmentor_service_checks_total"
    by = "sum by (instance, job, service)"
    return (
        f'{by} (rate({checks}{{result="failure", {SVC}}}[{window}]))\n'
        f"/ {by} (rate({checks}{{{SVC}}}[{window}]))\n"
        f"/ on (instance, job, service) ((1 - devmentor_service_slo_target_ratio{{{SVC}}}) > 0)"
    )


_T = Thresholds()  # the platform's default warn / alert levels
_FAST, _SLOW = DEFAULT_BURN_PAIRS
_FLAG = DetectorConfig().on
_SOON = 2 * HOUR  # the built-in disk_full_soon and memory_full_soon thresholds
_STATUS = ((0, "DOWN", "red"), (1, "UP", "green"), (2, "DEGRADED", "orange"))
_STAT = {"graphMode": "none", "colorMode": "background"}
_BARS = {"orientation": "horizontal", "displayMode": "gradient"}

ROWS: tuple[tuple[str, tuple[Panel, ...]], ...] = (
    (
        "Services",
        (
            Panel(
                "Status",
                "stat",
                q(
                    f"devmentor_service_up{{{SVC}}} + devmentor_service_degraded{{{SVC}}}",
                    "{{service}}",
                ),
                "Each service after its failure/success thresholds: up, degraded (slower than "
                "its SLO response time) or down.",
                width=12,
                height=5,
                mappings=_STATUS,
                options=_STAT,
            ),
            Panel(
                "Services down",
                "stat",
                q(f"sum(1 - devmentor_service_up{{{SVC}}})"),
                "Services down now.",
                width=4,
                height=5,
                steps=(("green", None), ("red", 1)),
                options=_STAT,
            ),
            Panel(
                "SLO met",
                "stat",
                q(f"devmentor_service_slo_compliant{{{SVC}}}", "{{service}}"),
                "Uptime (7 d), p95 latency (1 h) and error rate (1 h) within the SLO.",
                width=8,
                height=5,
                mappings=((0, "BREACHED", "red"), (1, "MET", "green")),
                options=_STAT,
            ),
            Panel(
                "Latency p95 (last hour)",
                "timeseries",
                q(
                    f'devmentor_service_latency_seconds{{quantile="0.95", {SVC}}}',
                    "{{service}}",
                ),
                "95th percentile of health-check latency over the last hour, as the monitor "
                "computes it.",
                unit="s",
                width=12,
            ),
            Panel(
                "Latency, mean per interval",
                "timeseries",
                q(
                    f"sum by (service) (rate(devmentor_service_latency_seconds_sum{{{SVC}}}"
                    "[$__rate_interval]))\n"
                    f"/ sum by (service) (rate(devmentor_service_latency_seconds_count{{{SVC}}}"
                    "[$__rate_interval]))",
                    "{{service}}",
                ),
                "Mean health-check latency over each interval, from the summary's sum and count.",
                unit="s",
                width=12,
            ),
            Panel(
                "Uptime",
                "bargauge",
                q(f"devmentor_service_uptime_ratio{{{SVC}}}", "{{service}} {{window}}"),
                "Share of checks with the service up, over 1 h, 24 h and 7 d.",
                unit="percentunit",
                width=8,
                min=0,
                max=1,
                steps=(("red", None), ("orange", 0.99), ("green", 0.999)),
                options=_BARS,
            ),
            Panel(
                "Error budget left (7 d)",
                "bargauge",
                q(f"devmentor_service_error_budget_remaining_ratio{{{SVC}}}", "{{service}}"),
                "Share of the 7-day error budget left; below 0 when overspent.",
                unit="percentunit",
                width=8,
                min=0,
                max=1,
                steps=(("red", None), ("orange", 0), ("green", 0.25)),
                options=_BARS,
            ),
            Panel(
                "Checks per second",
                "timeseries",
                q(
                    f"sum by (service, result) (rate(devmentor_service_checks_total{{{SVC}}}"
                    "[$__rate_interval]))",
                    "{{service}} {{result}}",
                ),
                "Health checks performed, by result.",
                unit="reqps",
                width=8,
            ),
            Panel(
                "Error budget burn rate",
                "timeseries",
                tuple(
                    Query(_burn_rate(w), f"{{{{service}}}} {w}")
                    for w in (prom_duration(_FAST.short), prom_duration(_FAST.long))
                ),
                "Failed share of checks over the window, over the error budget (1 - SLO "
                "uptime target): 1 spends the budget exactly over the SLO period. Lines at "
                f"the default alerting.burn_rate factors ({_SLOW.factor:g}, {_FAST.factor:g}).",
                width=24,
                steps=(("green", None), ("orange", _SLOW.factor), ("red", _FAST.factor)),
                lines=True,
            ),
        ),
    ),
    (
        "Host",
        (
            Panel(
                "CPU",
                "timeseries",
                (
                    Query("devmentor_host_cpu_ratio", "all cores"),
                    Query("devmentor_host_cpu_core_ratio", "core {{core}}"),
                ),
                "Host CPU busy share. Lines at the default warn and alert thresholds.",
                unit="percentunit",
                width=8,
                min=0,
                max=1,
                steps=_ratio_steps(_T.cpu.warn, _T.cpu.alert),
                lines=True,
            ),
            Panel(
                "Memory",
                "timeseries",
                q("devmentor_host_memory_ratio", "in use"),
                "Share of host memory in use. Lines at the default warn and alert thresholds.",
                unit="percentunit",
                width=8,
                min=0,
                max=1,
                steps=_ratio_steps(_T.memory.warn, _T.memory.alert),
                lines=True,
            ),
            Panel(
                "Disk used",
                "bargauge",
                q("devmentor_host_disk_ratio", "{{mount}}"),
                "Share of disk space used per mount.",
                unit="percentunit",
                width=8,
                min=0,
                max=1,
                steps=_ratio_steps(_T.disk.warn, _T.disk.alert),
                options=_BARS,
            ),
            Panel(
                "Load average",
                "timeseries",
                q("devmentor_host_load_average", "{{period}}"),
                "Host load average over 1, 5 and 15 minutes.",
                width=6,
            ),
            Panel(
                "Disk I/O",
                "timeseries",
                q("rate(devmentor_host_disk_io_bytes_total[$__rate_interval])", "{{direction}}"),
                "Bytes read from and written to disk per second.",
                unit="Bps",
                width=6,
            ),
            Panel(
                "Network",
                "timeseries",
                q("rate(devmentor_host_network_bytes_total[$__rate_interval])", "{{direction}}"),
                "Bytes received and sent per second, all interfaces.",
                unit="Bps",
                width=6,
            ),
            Panel(
                "Data sources",
                "stat",
                q("devmentor_source_up", "{{source}} ({{state}})"),
                "The monitor's data sources: 1 working, 0 unavailable or not configured.",
                width=6,
                mappings=((0, "OFF", "orange"), (1, "OK", "green")),
                options=_STAT,
            ),
        ),
    ),
    (
        "Incidents and notifications",
        (
            Panel(
                "Open incidents",
                "stat",
                q("sum(devmentor_incidents_open)"),
                "Open and acknowledged incidents.",
                width=4,
                steps=(("green", None), ("red", 1)),
                options=_STAT,
            ),
            Panel(
                "Open incidents by severity",
                "timeseries",
                q("devmentor_incidents_open", "{{severity}}"),
                "Open and acknowledged incidents, by severity.",
                width=10,
            ),
            Panel(
                "Alerts firing, per rule",
                "timeseries",
                q("devmentor_alerts_firing", "{{rule}}"),
                "Alerts firing for each rule (one per subject: service, mount or host).",
                width=10,
            ),
            Panel(
                "Notifications sent",
                "stat",
                # no attempt yet means no series: none sent is 0, not "no data"
                q(
                    'sum(increase(devmentor_notifications_total{result="sent"}[$__range]))'
                    " or vector(0)"
                ),
                "Notifications delivered over the dashboard's time range, all channels.",
                width=12,
                height=5,
                options=_STAT,
            ),
            Panel(
                "Notifications failed",
                "stat",
                q(
                    'sum(increase(devmentor_notifications_total{result="failed"}[$__range]))'
                    " or vector(0)"
                ),
                "Notifications given up on (retries spent) over the dashboard's time range.",
                width=12,
                height=5,
                steps=(("green", None), ("red", 1)),
                options=_STAT,
            ),
        ),
    ),
    (
        "Events and predictions",
        (
            Panel(
                "Events received",
                "timeseries",
                q(
                    "sum by (type) (rate(devmentor_events_received_total[$__rate_interval]))",
                    "{{type}}",
                ),
                "Platform events accepted per second, by type.",
                unit="ops",
                width=8,
            ),
            Panel(
                "Messages rejected",
                "timeseries",
                q(
                    "sum by (reason) (rate(devmentor_events_rejected_total[$__rate_interval]))",
                    "{{reason}}",
                ),
                "Messages on the event channels that were not events, per second, by reason.",
                unit="ops",
                width=8,
            ),
            Panel(
                "Live feed",
                "timeseries",
                (
                    Query("devmentor_live_readers", "readers"),
                    Query(
                        "rate(devmentor_live_messages_dropped_total[$__rate_interval])",
                        "dropped /s",
                    ),
                ),
                "WebSocket/SSE readers and the Redis publisher; messages dropped because a "
                "reader fell behind.",
                width=8,
            ),
            Panel(
                "Anomaly score, top 10 series",
                "timeseries",
                q("topk(10, devmentor_anomaly_score)", "{{series}}"),
                f"Live anomaly score, 0..1; a series is flagged at {_FLAG:g}.",
                width=12,
                min=0,
                max=1,
                steps=(("green", None), ("red", _FLAG)),
                lines=True,
            ),
            Panel(
                "Series flagged anomalous",
                "stat",
                q("sum(devmentor_anomaly_flag)"),
                "Series the detector flags now (with hysteresis).",
                width=6,
                steps=(("green", None), ("orange", 1)),
                options=_STAT,
            ),
            Panel(
                "Forecast to run out within 2 h",
                "stat",
                # a forecast exists only on a trustworthy trend: none is 0 resources
                q(f"count(devmentor_prediction_seconds_to_exhaustion < {_SOON:g}) or vector(0)"),
                "Resources (disks, memory, error budgets) whose trend exhausts them within "
                "2 hours, as the disk_full_soon and memory_full_soon rules see them.",
                width=6,
                steps=(("green", None), ("red", 1)),
                options=_STAT,
            ),
        ),
    ),
)


# --------------------------------------------------------------------------- builder


def _panel(p: Panel, pid: int, x: int, y: int) -> dict[str, Any]:
    for query in p.queries:
        check_metrics(query.expr)
    defaults: dict[str, Any] = {
        "unit": p.unit or "none",
        "color": {"mode": "thresholds" if p.kind != "timeseries" else "palette-classic"},
        "thresholds": {
            "mode": "absolute",
            "steps": [{"color": c, "value": v} for c, v in p.steps],
        },
        "mappings": [
            {
                "type": "value",
                "options": {
                    str(v): {"text": text, "color": colour, "index": i}
                    for i, (v, text, colour) in enumerate(p.mappings)
                },
            }
        ]
        if p.mappings
        else [],
    }
    for key in ("min", "max"):
        if getattr(p, key) is not None:
            defaults[key] = getattr(p, key)
    if p.kind == "timeseries":
        defaults["custom"] = {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 10,
            "showPoints": "never",
            "spanNulls": False,
            "thresholdsStyle": {"mode": "line" if p.lines else "off"},
        }
        options: dict[str, Any] = {
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        }
    else:
        options = {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "orientation": "auto",
            "textMode": "auto",
            "justifyMode": "auto",
            "showUnfilled": True,
        }
    return {
        "id": pid,
        "type": p.kind,
        "title": p.title,
        "description": p.description,
        "datasource": DS,
        "gridPos": {"h": p.height, "w": p.width, "x": x, "y": y},
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {**options, **p.options},
        "targets": [
            {
                "datasource": DS,
                "refId": chr(ord("A") + i),
                "expr": query.expr,
                "legendFormat": query.legend or "__auto",
                "range": True,
                "instant": False,
                "editorMode": "code",
            }
            for i, query in enumerate(p.queries)
        ],
    }


def _variables() -> list[dict[str, Any]]:
    services = "label_values(devmentor_service_up, service)"
    return [
        {
            "name": "datasource",
            "label": "Data source",
            "type": "datasource",
            "query": "prometheus",
            "current": {},
            "hide": 0,
            "includeAll": False,
            "multi": False,
            "options": [],
            "refresh": 1,
            "regex": "",
            "skipUrlSync": False,
        },
        {
            "name": "service",
            "label": "Service",
            "type": "query",
            "datasource": DS,
            "definition": services,
            "query": {"query": services, "refId": "StandardVariableQuery"},
            "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
            "hide": 0,
            "includeAll": True,
            "allValue": ".*",
            "multi": True,
            "options": [],
            "refresh": 2,
            "regex": "",
            "skipUrlSync": False,
            "sort": 1,
        },
    ]


def dashboard() -> dict[str, Any]:
    """The dashboard's JSON model: one row per entry of ROWS, panels left to right."""
    panels: list[dict[str, Any]] = []
    pid, y = 1, 0
    for title, row in ROWS:
        panels.append(
            {
                "id": pid,
                "type": "row",
                "title": title,
                "collapsed": False,
                "gridPos": {"h": 1, "w": WIDTH, "x": 0, "y": y},
                "panels": [],
            }
        )
        pid, y, x, tallest = pid + 1, y + 1, 0, 0
        for p in row:
            if x + p.width > WIDTH:
                x, y, tallest = 0, y + tallest, 0
            panels.append(_panel(p, pid, x, y))
            pid, x, tallest = pid + 1, x + p.width, max(tallest, p.height)
        y += tallest
    kinds = sorted({p.kind for _, row in ROWS for p in row})
    return {
        "__inputs": [],
        "__requires": [
            {"type": "grafana", "id": "grafana", "name": "Grafana", "version": "10.4.0"},
            {"type": "datasource", "id": "prometheus", "name": "Prometheus", "version": "1.0.0"},
            *({"type": "panel", "id": k, "name": k, "version": ""} for k in kinds),
        ],
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                }
            ]
        },
        "description": "Services, host, incidents, notifications, events and predictions "
        "from devmentor-monitor's /metrics.",
        "editable": True,
        "fiscalYearStartMonth": 0,
        "graphTooltip": 1,
        "id": None,
        "links": [],
        "panels": panels,
        "refresh": "30s",
        "schemaVersion": 39,
        "tags": ["devmentor"],
        "templating": {"list": _variables()},
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "timezone": "",
        "title": TITLE,
        "uid": UID,
        "version": 1,
        "weekStart": "",
    }


def render() -> str:
    """The committed file's exact text."""
    return json.dumps(dashboard(), indent=2) + "\n"


def targets(model: dict[str, Any]) -> list[tuple[str, str]]:
    """(panel title, PromQL) of every target in a dashboard model."""
    return [
        (p["title"], t["expr"]) for p in model["panels"] if p["type"] != "row" for t in p["targets"]
    ]
