"""Signals: what fires inside an incident, its kind, its labels and its group key.

A rule's transition (incidents/rules.py), a platform event matching `events.rules`, or a
service starting to flap becomes a `Signal` (incidents/model.py). Its kind is derived here
from the rule's name and metric, so the rules need no extra attribute:

- outage kinds (`down`, which covers a workload down through the store's status, and
  `flapping`) hold an incident open until they clear, as does a platform event of high
  severity or above, which never clears by itself (resolved by hand, as before);
- the others (latency, error rate, burn rate, anomaly, cert, host) join an incident and
  hold it open only when it has no outage signal (a burn-only incident ends when its burn
  clears).

Signals with the same `alerting.route.group_by` label values (default: the service) make one
incident: `group_key`. No I/O here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from devmentor_monitor.incidents.model import (
    SIGNAL_CLEARED,
    SIGNAL_FIRING,
    Severity,
    Signal,
)
from devmentor_monitor.incidents.rules import HOST, HOST_METRICS, AlertState, Transition

OUTAGE_KINDS = frozenset({"down", "flapping"})
EVENT_PREFIX = "event:"
FLAPPING_RULE = "flapping"


def kind_of(rule: str, metric: str = "") -> str:
    """The signal kind of a rule, from its name and metric."""
    if rule.startswith(EVENT_PREFIX):
        return "event"
    if rule == FLAPPING_RULE or metric == "flapping":
        return "flapping"
    if metric == "down" or rule == "service_down":
        return "down"
    if metric.startswith("burn") or rule.startswith("burn_rate"):
        return "burn_rate"
    if metric in ("latency", "error_rate"):
        return metric
    if metric in ("anomaly_score", "budget_exhaustion_s"):
        return "anomaly" if metric == "anomaly_score" else "budget"
    if metric == "cert_days":
        return "cert"
    if metric in HOST_METRICS or metric.startswith(("disk", "memory", "cpu", "load")):
        return "host"
    return metric or "other"


def is_outage(kind: str, severity: Severity) -> bool:
    """Does a signal of this kind say the service is out (and so hold its incident)?"""
    return kind in OUTAGE_KINDS or (kind == "event" and severity.rank >= Severity.HIGH.rank)


def clears(kind: str) -> bool:
    """Signals that clear by themselves; a platform event does not."""
    return kind != "event"


def labels_for(
    service: str,
    rule: str,
    severity: Severity,
    kind: str,
    subject: str,
    extra: Mapping[str, str] | None = None,
) -> tuple[tuple[str, str], ...]:
    """The labels silences, routes and grouping match on."""
    out = dict(extra or {})
    out.update(service=service, rule=rule, severity=severity.value, kind=kind, subject=subject)
    return tuple(sorted(out.items()))


def group_key(labels: Mapping[str, str], group_by: Sequence[str]) -> str:
    """ "service=auth" for the default group_by [service]; a label not set reads as ""."""
    return ",".join(f"{name}={labels.get(name, '')}" for name in group_by)


def signal_group(sig: Signal, group_by: Sequence[str]) -> str:
    return group_key(dict(sig.labels), group_by)


def make_signal(
    rule: str,
    subject: str,
    service: str,
    severity: Severity,
    firing: bool,
    at: float,
    *,
    metric: str = "",
    value: float | None = None,
    threshold: float | None = None,
    extra_labels: Mapping[str, str] | None = None,
) -> Signal:
    kind = kind_of(rule, metric)
    return Signal(
        rule=rule,
        subject=subject,
        service=service,
        kind=kind,
        severity=severity,
        outage=is_outage(kind, severity),
        state=SIGNAL_FIRING if firing else SIGNAL_CLEARED,
        first_at=at,
        last_at=at,
        value=value,
        threshold=threshold,
        labels=labels_for(service, rule, severity, kind, subject, extra_labels),
    )


def from_transition(
    t: Transition, severity: Severity, extra_labels: Mapping[str, str] | None = None
) -> Signal:
    """A rule's FIRING or RESOLVED transition as a signal (``severity``: the rule's, or
    what the engine makes of it)."""
    alert = t.alert
    return make_signal(
        alert.rule.name,
        alert.subject,
        alert.service,
        severity,
        t.state is AlertState.FIRING,
        t.at,
        metric=alert.rule.metric,
        value=alert.value,
        threshold=alert.threshold,
        extra_labels=extra_labels,
    )


__all__ = [
    "EVENT_PREFIX",
    "FLAPPING_RULE",
    "HOST",
    "OUTAGE_KINDS",
    "clears",
    "from_transition",
    "group_key",
    "is_outage",
    "kind_of",
    "labels_for",
    "make_signal",
    "signal_group",
]
