"""`devmentor-monitor rules export`: the monitor's alert rules as Prometheus alerting rules.

For teams whose alerting lives in Prometheus and Alertmanager: the same rules the monitor
evaluates itself (incidents/rules.py; `alerts.rules`, else the built-in ones, less
`alerts.disable`), written over the series it exports (metric_specs.py), with the
thresholds of the loaded config. The alert names, the `severity` values (low … critical)
and `service` (`host` for host-wide rules) are the labels our own Alertmanager channel
posts, so one routing tree serves both.

How our semantics are kept:
- a `clear` level (hysteresis) is the usual PromQL idiom: past the threshold, or past the
  clear level while the alert is already firing (`ALERTS{alertstate="firing"}`);
- an SLO threshold (latency, error rate) is each service's own, one clause per service;
- burn rates are the SRE workbook's multiwindow alerts: per `alerting.burn_rate` pair, the
  failed share of checks over the long and the short window, over the budget (1 - SLO),
  both above the factor. A window counts only with `min_checks` checks in it; its
  `min_coverage` has no PromQL twin (increase() extrapolates within the data it has);
- disk and memory "full soon" read the monitor's own forecasts
  (devmentor_prediction_seconds_to_exhaustion, absent when no trend is trustworthy), not
  predict_linear, so both alert on the same forecast.
A rule on `anomaly_score` (a flagged anomaly's peak score) has no exported series; it is
left out and named in the file's header.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml

from devmentor_monitor.exports import check_metrics, prom_duration

if TYPE_CHECKING:
    from devmentor_monitor.config.schema import BurnPair, Config
    from devmentor_monitor.incidents.rules import Rule

PROG = "devmentor-monitor"
GROUP = "devmentor-monitor"
SERVICE_LABELS = "instance, job, service"  # a service's series, per monitor scraped


def ratio_record(window: float) -> str:
    """The recording rule holding the failed share of checks over ``window``."""
    return f"devmentor:service_check_error_ratio:rate{prom_duration(window)}"


def _num(x: float) -> str:
    """A threshold as PromQL reads it: no float noise (14.4 * 0.001 is 0.0144)."""
    return f"{x:.12g}"


Names = tuple[str, ...] | None  # the services a clause is about; None: every one


def _escape(name: str, *, regex: bool) -> str:
    """A label value inside a PromQL string (and a regex when ``regex``)."""
    if regex:
        name = re.sub(r"([.^$*+?()\[\]{}|\\])", r"\\\1", name)
    return name.replace("\\", "\\\\").replace('"', '\\"')


def _match(names: Names, label: str = "service", prefix: str = "") -> str:
    """A matcher on ``label`` for ``names`` ("" for all)."""
    if names is None:
        return ""
    if len(names) == 1:
        return f'{label}="{_escape(prefix + names[0], regex=False)}"'
    alt = "|".join(_escape(n, regex=True) for n in names)
    return f'{label}=~"{_escape(prefix, regex=True)}({alt})"'


def _selector(metric: str, *matchers: str) -> str:
    inside = ", ".join(m for m in matchers if m)
    return f"{metric}{{{inside}}}" if inside else metric


@dataclass(frozen=True, slots=True)
class Source:
    """Where a rule metric lives among the exported series."""

    expr: Callable[[Names], str]  # the services -> the value, in PromQL
    scale: float  # exported value = our value x scale (percent -> ratio, days -> seconds)
    summary: str  # annotation: a Go template over $labels and $value
    host: bool = False  # host-wide: no service label on the series; ours says `host`


def _service(metric: str) -> Callable[[Names], str]:
    return lambda names: _selector(metric, _match(names))


def _host(metric: str, *matchers: str) -> Callable[[Names], str]:
    return lambda names: _selector(metric, *matchers)


def _latency(names: Names) -> str:
    # the last check's latency while the service answers (a failed check has none)
    up = _selector("devmentor_service_up", _match(names))
    return f"({_selector('devmentor_service_last_latency_seconds', _match(names))} and {up} == 1)"


ETA = "devmentor_prediction_seconds_to_exhaustion"


def _budget_eta(names: Names) -> str:
    # the resource is error_budget:<service>; a service label makes it a service alert
    sel = _selector(
        ETA,
        _match(names, "resource", "error_budget:") or 'resource=~"error_budget:.+"',
    )
    return f'label_replace({sel}, "service", "$1", "resource", "error_budget:(.+)")'


SOURCES: dict[str, Source] = {
    "down": Source(
        lambda names: f"(1 - {_selector('devmentor_service_up', _match(names))})",
        1.0,
        "{{ $labels.service }} is down",
    ),
    "latency": Source(
        _latency, 1.0, "{{ $labels.service }} answers in {{ $value | humanizeDuration }}"
    ),
    "error_rate": Source(
        _service("devmentor_service_error_ratio"),
        0.01,
        "{{ $labels.service }} failed {{ $value | humanizePercentage }} of checks over 1h",
    ),
    "cert_days": Source(
        _service("devmentor_service_cert_expiry_seconds"),
        86400.0,
        "{{ $labels.service }}'s TLS certificate expires in {{ $value | humanizeDuration }}",
    ),
    "budget_exhaustion_s": Source(
        _budget_eta,
        1.0,
        "{{ $labels.service }}'s error budget runs out in {{ $value | humanizeDuration }}",
    ),
    "cpu": Source(
        _host("devmentor_host_cpu_ratio"),
        0.01,
        "host CPU at {{ $value | humanizePercentage }}",
        True,
    ),
    "memory": Source(
        _host("devmentor_host_memory_ratio"),
        0.01,
        "host memory at {{ $value | humanizePercentage }}",
        True,
    ),
    "disk": Source(
        _host("devmentor_host_disk_ratio"),
        0.01,
        "disk {{ $labels.mount }} at {{ $value | humanizePercentage }}",
        True,
    ),
    "load": Source(
        _host("devmentor_host_load_average", 'period="1m"'),
        1.0,
        "host load average {{ $value }}",
        True,
    ),
    "disk_exhaustion_s": Source(
        _host(ETA, 'resource=~"disk:.+"'),
        1.0,
        "{{ $labels.resource }} full in {{ $value | humanizeDuration }} at its trend",
        True,
    ),
    "memory_exhaustion_s": Source(
        _host(ETA, 'resource="memory"'),
        1.0,
        "host memory exhausted in {{ $value | humanizeDuration }} at its trend",
        True,
    ),
}
SLO_FIELDS = {"latency": "response_time", "error_rate": "error_rate"}


@dataclass(slots=True)
class Export:
    """The rules file as data, and what could not be written as a Prometheus rule."""

    groups: list[dict[str, Any]]
    skipped: list[str]


def export(config: Config, rules: Sequence[Rule]) -> Export:
    """Prometheus rule groups for ``rules`` (incidents.rules.build_rules) over our series."""
    from devmentor_monitor.config.schema import burn_metric

    pairs = {burn_metric(p.name): p for p in config.alerting.burn_rate.pairs}
    alerts: list[dict[str, Any]] = []
    skipped: list[str] = []
    windows: set[float] = set()
    for rule in rules:
        pair = pairs.get(rule.metric)
        if pair is not None:
            clauses = _burn_clauses(config, rule, pair)
            windows |= {pair.long, pair.short}
            summary = (
                '{{ $labels.service }} burns its error budget {{ $value | printf "%.1f" }}x '
                f"over {prom_duration(pair.long)}"
            )
            host = False
        elif rule.metric in SOURCES:
            source = SOURCES[rule.metric]
            clauses = _clauses(config, rule, source)
            summary, host = source.summary, source.host
        else:
            skipped.append(f"{rule.name}: no exported series carries {rule.metric}")
            continue
        if not clauses:
            skipped.append(f"{rule.name}: no service has an SLO to take its threshold from")
            continue
        labels = {"severity": rule.severity.value, **({"service": "host"} if host else {})}
        alerts.append(
            {
                "alert": rule.name,
                "expr": "\nor\n".join(clauses) if len(clauses) > 1 else clauses[0],
                "for": prom_duration(rule.for_s),
                "labels": labels,
                "annotations": {"summary": summary, "description": _description(rule)},
            }
        )
    # One group, the recording rules first: a group's rules run in order, so an alert reads
    # this evaluation's error ratios (another group's could be one interval old).
    records = [_record(config, w) for w in sorted(windows)]
    for r in records + alerts:
        check_metrics(r["expr"])
    return Export([{"name": GROUP, "rules": records + alerts}], skipped)


def _slo_thresholds(config: Config, rule: Rule) -> list[tuple[Names, float]]:
    """(services, threshold in our units) per clause: the rule's, or each SLO's own."""
    from devmentor_monitor.incidents.rules import SLO_THRESHOLD

    if rule.threshold != SLO_THRESHOLD:
        return [(rule.services, rule.threshold)]
    field = SLO_FIELDS[rule.metric]
    return [
        ((s.name,), float(getattr(s.slo, field)))
        for s in config.services
        if s.slo is not None and (rule.services is None or s.name in rule.services)
    ]


def _clauses(config: Config, rule: Rule, source: Source) -> list[str]:
    op = ">" if rule.above else "<"
    # the alert's own labels (not the series') are left out when matching it in ALERTS
    ignored = "alertname, alertstate, severity" + (", service" if source.host else "")
    out = []
    for names, threshold in _slo_thresholds(config, rule):
        value = source.expr(None if source.host else names)
        clause = f"{value} {op} {_num(threshold * source.scale)}"
        if rule.clear is not None and rule.clear != threshold:
            # hysteresis: once firing, it holds until the value is past the clear level
            firing = f'ALERTS{{alertname="{rule.name}", alertstate="firing"}}'
            clause = (
                f"{clause}\nor\n({value} {op} {_num(rule.clear * source.scale)}"
                f" and ignoring ({ignored}) {firing})"
            )
        out.append(clause)
    return out


def _burn_clauses(config: Config, rule: Rule, pair: BurnPair) -> list[str]:
    """Per service with an SLO: both windows' burn rate (error ratio / budget) above."""
    out = []
    for s in config.services:
        if s.slo is None or (rule.services is not None and s.name not in rule.services):
            continue
        budget = 1.0 - s.slo.uptime / 100.0
        if budget <= 0:  # a 100 % target has no budget to burn (rules.burn_rate: None)
            continue
        m = _match((s.name,))
        long, short = (
            f"{_selector(ratio_record(w), m)} / {_num(budget)} > {_num(rule.threshold)}"
            for w in (pair.long, pair.short)
        )
        out.append(f"({long}\nand\n{short})")
    return out


def _record(config: Config, window: float) -> dict[str, str]:
    """Failed share of checks over ``window``, only where it holds `min_checks` checks."""
    w = prom_duration(window)
    checks = "devmentor_service_checks_total"
    n = config.alerting.burn_rate.min_checks
    return {
        "record": ratio_record(window),
        "expr": (
            f'sum by ({SERVICE_LABELS}) (increase({checks}{{result="failure"}}[{w}]))\n'
            f"/\n(sum by ({SERVICE_LABELS}) (increase({checks}[{w}])) >= {n})"
        ),
    }


def _description(rule: Rule) -> str:
    if rule.description:
        text = rule.description
    else:
        side = "above" if rule.above else "below"
        text = f"{rule.metric} {side} {rule.threshold:g}"
        if rule.for_s:
            text += f" for {prom_duration(rule.for_s)}"
    return f"{text[0].upper()}{text[1:]} (devmentor-monitor rule {rule.name})."


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (the PromQL) as literal blocks, as people write rules files."""


def _str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str)


def render(config: Config, rules: Sequence[Rule]) -> str:
    """The rules file: a header saying where it came from, then `groups:`."""
    from devmentor_monitor import __version__

    result = export(config, rules)
    head = [
        f"# Prometheus alerting rules: `{PROG} rules export` {__version__} from {config.source}.",
        "# The monitor's own rules and thresholds; export again after changing them.",
        *(f"# Not exported: {s}" for s in result.skipped),
    ]
    body = yaml.dump(
        {"groups": result.groups}, Dumper=_Dumper, sort_keys=False, width=1000, allow_unicode=True
    )
    return "\n".join(head) + "\n" + body
