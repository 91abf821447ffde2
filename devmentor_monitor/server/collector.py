"""Prometheus exposition read from the store at scrape time, cached for one tick."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeVar

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.samples import Sample

from devmentor_monitor import __version__
from devmentor_monitor.metric_specs import CUSTOM, METRICS
from devmentor_monitor.model import Health, SourceState
from devmentor_monitor.store import Store
from devmentor_monitor.system.netifs import per_container

_LATENCY = "devmentor_service_latency_seconds"
_CHECKS = "devmentor_service_checks_total"
F = TypeVar("F", CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily)


def _family(name: str, kind: str, cls: type[F]) -> F:
    """An empty metric family whose name, type, help and labels come from the catalog."""
    spec = METRICS[name]
    assert spec.kind == kind, f"{name} is a {spec.kind} in the catalog, not a {kind}"
    return cls(spec.name, spec.help, labels=list(spec.labels))


def gauge(name: str) -> GaugeMetricFamily:
    return _family(name, "gauge", GaugeMetricFamily)


def counter(name: str) -> CounterMetricFamily:
    return _family(name, "counter", CounterMetricFamily)


def summary(name: str) -> SummaryMetricFamily:
    return _family(name, "summary", SummaryMetricFamily)


class StoreCollector:
    """A custom collector: no stale series, every value is what the store holds now."""

    def __init__(self, store: Store, started: float) -> None:
        self.store = store
        self.started = started

    def collect(self) -> Iterator[Metric]:
        yield from self._monitor()
        yield from self._services()
        yield from self._incidents()
        yield from self._host()
        yield from self._workloads()
        yield from self._predictions()
        yield from self._events()
        yield from self._custom()
        yield from self._self()

    def _self(self) -> Iterator[Metric]:
        """The monitor's own cost (selfcost.py): CPU, memory, each source's poll times."""
        cost = self.store.cost
        usage = cost.usage()
        cpu = gauge("devmentor_self_cpu_ratio")
        if usage.cpu_ratio is not None:
            cpu.add_metric([], usage.cpu_ratio)
        rss = gauge("devmentor_self_rss_bytes")
        if usage.rss_bytes is not None:
            rss.add_metric([], usage.rss_bytes)
        polls = gauge("devmentor_self_poll_seconds")
        for stat in cost.polls.stats():
            polls.add_metric([stat.source, "mean"], stat.mean)
            polls.add_metric([stat.source, "max"], stat.max)
        yield from (cpu, rss, polls)

    def _custom(self) -> Iterator[Metric]:
        """Pushed metrics, one gauge family per pushed name (metric_specs.CUSTOM), each
        series with its own labels; expired series are gone (the store drops them)."""
        families: dict[str, Metric] = {}
        for sample in sorted(self.store.custom_latest().values(), key=lambda s: s.series):
            family = families.get(sample.name)
            if family is None:
                name = CUSTOM.name + sample.name
                family = families[sample.name] = Metric(
                    name, CUSTOM.help.format(name=sample.name), CUSTOM.kind
                )
            family.add_sample(family.name, dict(sample.labels), sample.value)
        yield from families.values()

    def _predictions(self) -> Iterator[Metric]:
        """Live detector scores and forecast times, as the engine's last tick left them."""
        score = gauge("devmentor_anomaly_score")
        flag = gauge("devmentor_anomaly_flag")
        for series, (value, flagged, _rate) in sorted(self.store.anomaly_scores().items()):
            score.add_metric([series], value)
            flag.add_metric([series], int(flagged))
        eta = gauge("devmentor_prediction_seconds_to_exhaustion")
        for metric, prefix in (
            ("disk_exhaustion_s", ""),
            ("memory_exhaustion_s", "memory"),
            ("budget_exhaustion_s", "error_budget:"),
        ):
            for subject, seconds in sorted(self.store.prediction_subjects(metric).items()):
                resource = prefix if metric == "memory_exhaustion_s" else prefix + subject
                eta.add_metric([resource], seconds)
        yield from (score, flag, eta)

    def _events(self) -> Iterator[Metric]:
        log = self.store.event_log
        received = counter("devmentor_events_received_total")
        for etype, n in sorted(log.received.items()):
            received.add_metric([etype], n)
        rejected = counter("devmentor_events_rejected_total")
        for reason, n in sorted(log.rejected.items()):
            rejected.add_metric([reason], n)
        readers = gauge("devmentor_live_readers")
        readers.add_metric([], self.store.bus.reader_count())
        dropped = counter("devmentor_live_messages_dropped_total")
        dropped.add_metric([], self.store.bus.dropped)
        yield from (received, rejected, readers, dropped)

    def _workloads(self) -> Iterator[Metric]:
        """Containers and Kubernetes objects as the last poll or watch left them."""
        cpu = gauge("devmentor_container_cpu_ratio")
        mem = gauge("devmentor_container_memory_bytes")
        restarts = counter("devmentor_container_restarts_total")
        for c in self.store.docker.items("containers"):
            labels = [c.name, c.service or ""]
            if c.cpu_ratio is not None:
                cpu.add_metric(labels, c.cpu_ratio)
            if c.memory_bytes is not None:
                mem.add_metric(labels, c.memory_bytes)
            restarts.add_metric(labels, c.restart_count)
        ready = gauge("devmentor_pod_ready")
        pod_restarts = counter("devmentor_pod_restarts_total")
        for p in self.store.kube.items("pods"):
            labels = [p.namespace, p.name, p.service or ""]
            ready.add_metric(labels, int(p.ready))
            pod_restarts.add_metric(labels, p.restarts)
        replicas = gauge("devmentor_deployment_replicas")
        for d in self.store.kube.items("deployments"):
            for state, n in (
                ("desired", d.desired),
                ("ready", d.ready),
                ("updated", d.updated),
                ("available", d.available),
            ):
                replicas.add_metric([d.namespace, d.name, state], n)
        yield from (cpu, mem, restarts, ready, pod_restarts, replicas)

    def _incidents(self) -> Iterator[Metric]:
        open_ = gauge("devmentor_incidents_open")
        counts = dict.fromkeys(("low", "medium", "high", "critical"), 0)
        for inc in self.store.open_incidents():
            counts[inc.severity.value] += 1
        for severity, n in counts.items():
            open_.add_metric([severity], n)
        yield open_
        firing = gauge("devmentor_alerts_firing")
        for rule, n in sorted(self.store.alerts_firing.items()):
            firing.add_metric([rule], n)
        yield firing
        notes = counter("devmentor_notifications_total")
        for (channel, result), n in sorted(self.store.notification_counts.items()):
            notes.add_metric([channel, result], n)
        yield notes

    def _monitor(self) -> Iterator[Metric]:
        build = gauge("devmentor_build_info")
        build.add_metric([__version__], 1)
        yield build
        start = gauge("devmentor_monitor_start_time_seconds")
        start.add_metric([], self.started)
        yield start
        src = gauge("devmentor_source_up")
        for status in self.store.sources():
            src.add_metric(
                [status.name, status.state.value], 1 if status.state is SourceState.OK else 0
            )
        yield src

    def _services(self) -> Iterator[Metric]:
        names = (
            "devmentor_service_up",
            "devmentor_service_degraded",
            "devmentor_service_last_latency_seconds",
            "devmentor_service_latency_seconds",
            "devmentor_service_checks_total",
            "devmentor_service_uptime_ratio",
            "devmentor_service_error_ratio",
            "devmentor_service_slo_compliant",
            "devmentor_service_slo_target_ratio",
            "devmentor_service_error_budget_remaining_ratio",
            "devmentor_service_cert_expiry_seconds",
            "devmentor_service_last_check_timestamp_seconds",
            "devmentor_service_http_status_code",
        )
        fam = {n: gauge(n) for n in names if n not in (_LATENCY, _CHECKS)}
        latency, checks = summary(_LATENCY), counter(_CHECKS)
        for s in self.store.services():
            n = s.name
            if s.status is not Health.UNKNOWN and s.stale_at is None:  # known now only
                fam["devmentor_service_up"].add_metric([n], 0 if s.status is Health.DOWN else 1)
                fam["devmentor_service_degraded"].add_metric(
                    [n], 1 if s.status is Health.DEGRADED else 0
                )
            if s.latency is not None:
                fam["devmentor_service_last_latency_seconds"].add_metric([n], s.latency)
            latency.add_metric([n], count_value=s.latency_count, sum_value=s.latency_sum)
            for q, v in (("0.5", s.latency_p50), ("0.95", s.latency_p95), ("0.99", s.latency_p99)):
                if v is not None:
                    # add_metric takes no quantiles; a summary's quantile samples are plain
                    latency.samples.append(Sample(latency.name, {"service": n, "quantile": q}, v))
            checks.add_metric([n, "success"], s.checks_total - s.failures_total)
            checks.add_metric([n, "failure"], s.failures_total)
            for window, v in (
                ("1h", s.uptime_1h),
                ("24h", s.uptime_24h),
                ("7d", s.uptime_7d),
                ("30d", s.uptime_30d),
            ):
                if v is not None:
                    fam["devmentor_service_uptime_ratio"].add_metric([n, window], v / 100)
            if s.error_rate_1h is not None:
                fam["devmentor_service_error_ratio"].add_metric([n], s.error_rate_1h / 100)
            if s.slo_compliant is not None:
                fam["devmentor_service_slo_compliant"].add_metric([n], int(s.slo_compliant))
            slo = self.store.service_config(n).slo
            if slo is not None:  # so a burn rate can be read in PromQL: error ratio / (1 - it)
                fam["devmentor_service_slo_target_ratio"].add_metric([n], slo.uptime / 100)
            if s.error_budget_remaining is not None:
                fam["devmentor_service_error_budget_remaining_ratio"].add_metric(
                    [n], s.error_budget_remaining
                )
            if s.cert_days is not None:
                fam["devmentor_service_cert_expiry_seconds"].add_metric([n], s.cert_days * 86400)
            if s.last is not None:
                fam["devmentor_service_last_check_timestamp_seconds"].add_metric([n], s.last.ts)
                if s.last.status_code is not None:
                    fam["devmentor_service_http_status_code"].add_metric([n], s.last.status_code)
        every: dict[str, Metric] = {**fam, _LATENCY: latency, _CHECKS: checks}
        yield from (every[name] for name in names)  # in the order above, as ever

    def _host(self) -> Iterator[Metric]:
        s = self.store.system
        if s is None:
            return
        cpu = gauge("devmentor_host_cpu_ratio")
        cpu.add_metric([], s.cpu_percent / 100)
        core = gauge("devmentor_host_cpu_core_ratio")
        for i, v in enumerate(s.cpu_per_core):
            core.add_metric([str(i)], v / 100)
        load = gauge("devmentor_host_load_average")
        for period, v in zip(("1m", "5m", "15m"), s.load, strict=True):
            load.add_metric([period], v)
        mem = gauge("devmentor_host_memory_bytes")
        mem.add_metric(["total"], s.mem_total)
        mem.add_metric(["used"], s.mem_used)
        mem.add_metric(["available"], s.mem_available)
        mem_ratio = gauge("devmentor_host_memory_ratio")
        mem_ratio.add_metric([], s.mem_percent / 100)
        swap = gauge("devmentor_host_swap_bytes")
        swap.add_metric(["total"], s.swap_total)
        swap.add_metric(["used"], s.swap_used)
        disk = gauge("devmentor_host_disk_bytes")
        disk_ratio = gauge("devmentor_host_disk_ratio")
        for d in s.disks:
            disk.add_metric([d.mount, "total"], d.total)
            disk.add_metric([d.mount, "used"], d.used)
            disk_ratio.add_metric([d.mount], d.percent / 100)
        dio = counter("devmentor_host_disk_io_bytes_total")
        dio.add_metric(["read"], s.disk_read_bytes)
        dio.add_metric(["write"], s.disk_write_bytes)
        net = counter("devmentor_host_network_bytes_total")
        net.add_metric(["rx"], s.net_rx_bytes)
        net.add_metric(["tx"], s.net_tx_bytes)
        nic = counter("devmentor_host_network_interface_bytes_total")
        for face in s.net_interfaces:
            if per_container(face.name):  # one per pod: an unbounded label set
                continue
            nic.add_metric([face.name, "rx"], face.rx_bytes)
            nic.add_metric([face.name, "tx"], face.tx_bytes)
        procs = gauge("devmentor_host_processes")
        procs.add_metric([], s.process_count)
        yield from (cpu, core, load, mem, mem_ratio, swap, disk, disk_ratio, dio, net, nic, procs)
