"""Each metric described once: Prometheus help, API metadata and TUI labels come from here."""

from __future__ import annotations

import msgspec


class MetricSpec(msgspec.Struct, frozen=True):
    name: str  # Prometheus name, devmentor_*, unit in the name
    kind: str  # gauge | counter | info
    unit: str  # unit of the Prometheus value: ratio, seconds, bytes, ... or "" when none
    help: str
    labels: tuple[str, ...] = ()
    label: str = ""  # short label for screens


def _m(
    name: str, kind: str, unit: str, help: str, labels: tuple[str, ...] = (), label: str = ""
) -> MetricSpec:
    return MetricSpec(name, kind, unit, help, labels, label or help)


METRICS: dict[str, MetricSpec] = {
    m.name: m
    for m in (
        _m(
            "devmentor_build_info",
            "gauge",
            "",
            "Version of the running monitor; always 1.",
            ("version",),
            "build",
        ),
        _m(
            "devmentor_monitor_start_time_seconds",
            "gauge",
            "seconds",
            "Unix time the monitor started.",
            (),
            "started",
        ),
        _m(
            "devmentor_source_up",
            "gauge",
            "",
            "1 when a data source is working, 0 when unavailable or not configured.",
            ("source", "state"),
            "source",
        ),
        _m(
            "devmentor_service_up",
            "gauge",
            "",
            "1 when the service is up (after failure/success thresholds), 0 when down.",
            ("service",),
            "up",
        ),
        _m(
            "devmentor_service_degraded",
            "gauge",
            "",
            "1 when the service answers but slower than its SLO response time.",
            ("service",),
            "degraded",
        ),
        _m(
            "devmentor_service_last_latency_seconds",
            "gauge",
            "seconds",
            "Latency of the last health check.",
            ("service",),
            "latency",
        ),
        _m(
            "devmentor_service_latency_seconds",
            "summary",
            "seconds",
            "Health-check latency: quantiles over the last hour, count and sum since start.",
            ("service",),
            "latency",
        ),
        _m(
            "devmentor_service_checks_total",
            "counter",
            "",
            "Health checks performed, by result.",
            ("service", "result"),
            "checks",
        ),
        _m(
            "devmentor_service_uptime_ratio",
            "gauge",
            "ratio",
            "Share of checks with the service up, over a window (1h, 24h, 7d, 30d).",
            ("service", "window"),
            "uptime",
        ),
        _m(
            "devmentor_service_error_ratio",
            "gauge",
            "ratio",
            "Share of failed health checks over the last hour.",
            ("service",),
            "error rate",
        ),
        _m(
            "devmentor_service_slo_compliant",
            "gauge",
            "",
            "1 when uptime (7 d), p95 latency (1 h) and error rate (1 h) meet the SLO.",
            ("service",),
            "SLO",
        ),
        _m(
            "devmentor_service_slo_target_ratio",
            "gauge",
            "ratio",
            "The SLO's uptime target (0.999 for 99.9 %); 1 - it is the error budget.",
            ("service",),
            "SLO target",
        ),
        _m(
            "devmentor_service_error_budget_remaining_ratio",
            "gauge",
            "ratio",
            "Share of the 7-day error budget left; negative when overspent.",
            ("service",),
            "budget left",
        ),
        _m(
            "devmentor_service_cert_expiry_seconds",
            "gauge",
            "seconds",
            "Seconds until the service's TLS certificate expires.",
            ("service",),
            "cert expiry",
        ),
        _m(
            "devmentor_service_last_check_timestamp_seconds",
            "gauge",
            "seconds",
            "Unix time of the last completed health check.",
            ("service",),
            "last check",
        ),
        _m(
            "devmentor_service_http_status_code",
            "gauge",
            "",
            "HTTP status code of the last health check response.",
            ("service",),
            "HTTP status",
        ),
        _m(
            "devmentor_incidents_open",
            "gauge",
            "",
            "Open (and acknowledged) incidents.",
            ("severity",),
            "incidents",
        ),
        _m("devmentor_alerts_firing", "gauge", "", "Alerts firing, per rule.", ("rule",), "alerts"),
        _m(
            "devmentor_events_received_total",
            "counter",
            "",
            "Platform events accepted, by type (the 200 first types seen; the rest as (other)).",
            ("type",),
            "events",
        ),
        _m(
            "devmentor_events_rejected_total",
            "counter",
            "",
            "Messages on the event channels that were not events, by reason.",
            ("reason",),
            "rejected",
        ),
        _m(
            "devmentor_self_cpu_ratio",
            "gauge",
            "ratio",
            "The monitor's own CPU time over wall-clock time since the previous read "
            "(1 = one core busy).",
            (),
            "own CPU",
        ),
        _m(
            "devmentor_self_rss_bytes",
            "gauge",
            "bytes",
            "The monitor's own resident memory.",
            (),
            "own memory",
        ),
        _m(
            "devmentor_self_poll_seconds",
            "gauge",
            "seconds",
            "How long each source's polls took over the last minute: mean and max "
            "(a health check counts from its wait for a slot).",
            ("source", "stat"),
            "poll time",
        ),
        _m(
            "devmentor_live_readers",
            "gauge",
            "",
            "Live feed readers: WebSocket and SSE clients, and the Redis incident publisher.",
            (),
            "live clients",
        ),
        _m(
            "devmentor_live_messages_dropped_total",
            "counter",
            "",
            "Live messages dropped because a reader fell behind (its oldest go first).",
            (),
            "dropped",
        ),
        _m(
            "devmentor_notifications_total",
            "counter",
            "",
            "Notification delivery attempts, by channel and result (sent, retry, failed).",
            ("channel", "result"),
            "notifications",
        ),
        _m(
            "devmentor_host_cpu_ratio",
            "gauge",
            "ratio",
            "Host CPU busy share, all cores.",
            (),
            "CPU",
        ),
        _m(
            "devmentor_host_cpu_core_ratio",
            "gauge",
            "ratio",
            "CPU busy share per core.",
            ("core",),
            "core",
        ),
        _m("devmentor_host_load_average", "gauge", "", "Load average.", ("period",), "load"),
        _m(
            "devmentor_host_memory_bytes",
            "gauge",
            "bytes",
            "Host memory by state.",
            ("state",),
            "memory",
        ),
        _m(
            "devmentor_host_memory_ratio",
            "gauge",
            "ratio",
            "Share of host memory in use.",
            (),
            "memory",
        ),
        _m(
            "devmentor_host_swap_bytes", "gauge", "bytes", "Host swap by state.", ("state",), "swap"
        ),
        _m(
            "devmentor_host_disk_bytes",
            "gauge",
            "bytes",
            "Disk space per mount by state.",
            ("mount", "state"),
            "disk",
        ),
        _m(
            "devmentor_host_disk_ratio",
            "gauge",
            "ratio",
            "Share of disk space used per mount.",
            ("mount",),
            "disk",
        ),
        _m(
            "devmentor_host_disk_io_bytes_total",
            "counter",
            "bytes",
            "Bytes read from and written to disk.",
            ("direction",),
            "disk I/O",
        ),
        _m(
            "devmentor_host_network_bytes_total",
            "counter",
            "bytes",
            "Bytes received and sent on every network interface but loopback.",
            ("direction",),
            "network",
        ),
        _m(
            "devmentor_host_network_interface_bytes_total",
            "counter",
            "bytes",
            "Bytes received and sent per network interface (loopback included; not the"
            " veth/cali/lxc ends of containers, which come and go with them).",
            ("interface", "direction"),
            "interface",
        ),
        _m(
            "devmentor_host_processes",
            "gauge",
            "",
            "Number of processes on the host.",
            (),
            "processes",
        ),
        _m(
            "devmentor_container_cpu_ratio",
            "gauge",
            "ratio",
            "Container CPU time over wall-clock time between two polls (1 = one core busy).",
            ("container", "service"),
            "CPU",
        ),
        _m(
            "devmentor_container_memory_bytes",
            "gauge",
            "bytes",
            "Container memory in use (page cache left out).",
            ("container", "service"),
            "memory",
        ),
        _m(
            "devmentor_container_restarts_total",
            "counter",
            "",
            "Times the engine restarted the container.",
            ("container", "service"),
            "restarts",
        ),
        _m(
            "devmentor_pod_ready",
            "gauge",
            "",
            "1 when every container of the pod is ready.",
            ("namespace", "pod", "service"),
            "ready",
        ),
        _m(
            "devmentor_pod_restarts_total",
            "counter",
            "",
            "Container restarts in the pod, summed over its containers.",
            ("namespace", "pod", "service"),
            "restarts",
        ),
        _m(
            "devmentor_deployment_replicas",
            "gauge",
            "",
            "Deployment replicas by state (desired, ready, updated, available).",
            ("namespace", "deployment", "state"),
            "replicas",
        ),
        _m(
            "devmentor_anomaly_score",
            "gauge",
            "ratio",
            "Live anomaly score of a series, 0..1, from its last sample (flagged at 0.3).",
            ("series",),
            "anomaly score",
        ),
        _m(
            "devmentor_anomaly_flag",
            "gauge",
            "",
            "1 while the series is flagged anomalous (with hysteresis), else 0.",
            ("series",),
            "anomalous",
        ),
        _m(
            "devmentor_prediction_seconds_to_exhaustion",
            "gauge",
            "seconds",
            "Forecast seconds until a resource runs out at its current trend (disk:<mount>, "
            "memory, error_budget:<service>); absent when no trustworthy forecast.",
            ("resource",),
            "time to exhaustion",
        ),
    )
}


# Pushed metrics (POST /api/metrics) are named by their pusher at run time, so they cannot
# be listed above; the family is declared once here instead: every one is a gauge named
# CUSTOM.name + the pushed name, with the pushed labels, and this help.
CUSTOM = MetricSpec(
    "devmentor_custom_",
    "gauge",
    "",
    "Pushed with POST /api/metrics as {name}; the latest value of each series.",
    (),
    "custom",
)


class SeriesSpec(msgspec.Struct, frozen=True):
    """A history series kept in the store (what `/api/metrics` and the charts show)."""

    key: str
    unit: str  # unit of the stored values
    label: str
    metric: str  # the Prometheus metric that carries the same quantity


SERIES: dict[str, SeriesSpec] = {
    s.key: s
    for s in (
        SeriesSpec("cpu", "percent", "CPU", "devmentor_host_cpu_ratio"),
        SeriesSpec("memory", "percent", "memory", "devmentor_host_memory_ratio"),
        SeriesSpec("swap", "percent", "swap", "devmentor_host_swap_bytes"),
        SeriesSpec("load1", "", "load 1m", "devmentor_host_load_average"),
        SeriesSpec("disk_read", "bytes/s", "disk read", "devmentor_host_disk_io_bytes_total"),
        SeriesSpec("disk_write", "bytes/s", "disk write", "devmentor_host_disk_io_bytes_total"),
        SeriesSpec("net_rx", "bytes/s", "net rx", "devmentor_host_network_bytes_total"),
        SeriesSpec("net_tx", "bytes/s", "net tx", "devmentor_host_network_bytes_total"),
    )
}


def series_spec(key: str) -> SeriesSpec:
    """Spec of a stored series; per-mount disk series are ``disk:<mount>``."""
    if key.startswith("disk:"):
        return SeriesSpec(key, "percent", f"disk {key[5:]}", "devmentor_host_disk_ratio")
    return SERIES[key]
