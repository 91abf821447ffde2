"""Alert rules: a threshold, a `for` duration and a clear level (hysteresis) per subject.

Each (rule, subject) pair moves inactive → pending → firing → resolved. A value that
flaps around the threshold keeps a firing alert firing until it drops past the clear
level, so it opens one incident, not twenty. Evaluation is incremental: a tick looks
only at services whose checks changed and at alerts that are waiting on a timer.

No paging before the evidence: a value of None means "not enough data to say" for the
down rule (failing, but fewer than `failure_threshold` checks in a row; or down and not
yet `success_threshold` good ones) and for burn rates (a window not yet covered). A
firing alert on such a metric holds on None; it resolves only on a value that clears.

Burn rates follow the Google SRE workbook's multiwindow, multi-burn-rate alerts: each
`alerting.burn_rate.pairs` entry fires only while both its long and its short window
burn the error budget faster than its factor, and the short window resets it soon after
the errors stop. A window counts only once the service's checks cover `min_coverage` of
it and it holds `min_checks` checks, so one failed check after start-up is no burn rate.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from devmentor_monitor.config.schema import (
    SCRAPED,
    BurnPair,
    BurnRateSettings,
    Config,
    burn_metric,
)
from devmentor_monitor.health.slo import HOUR
from devmentor_monitor.incidents.model import Severity
from devmentor_monitor.model import Health
from devmentor_monitor.scrape.model import Selector
from devmentor_monitor.store import Store
from devmentor_monitor.units import format_duration

MINUTE = 60.0
HOST = "host"  # the subject (and incident service) of host-wide rules

# Per service; plus burn_<name> for each alerting.burn_rate pair (burn_fast, burn_slow).
SERVICE_METRICS: tuple[str, ...] = (
    "down",
    "latency",
    "error_rate",
    "cert_days",
)
HOST_METRICS: tuple[str, ...] = ("cpu", "memory", "disk", "load")
# From the prediction engine (predictions/engine.py), read through Store.prediction_value.
PREDICTED_SERVICE_METRICS = ("budget_exhaustion_s", "anomaly_score")
PREDICTED_HOST_METRICS = ("disk_exhaustion_s", "memory_exhaustion_s")
SERVICE_METRICS += PREDICTED_SERVICE_METRICS
HOST_METRICS += PREDICTED_HOST_METRICS
METRICS = SERVICE_METRICS + HOST_METRICS
SLO_THRESHOLD = -1.0  # "take the threshold from the service's SLO"
SCRAPE_PREFIX = "scrape:"  # the subject of a scraped rule is the series' history name


class AlertState(StrEnum):
    INACTIVE = "inactive"
    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    metric: str
    above: bool  # True: alert when value > threshold; False: when value < threshold
    threshold: float  # SLO_THRESHOLD: the service's SLO value for this metric
    clear: float | None  # the alert clears only past this level (None: the threshold)
    for_s: float
    severity: Severity
    services: tuple[str, ...] | None = None  # None: every service (service metrics only)
    description: str = ""
    series: Selector | None = None  # metric scraped: the series watched, one alert each


@dataclass(slots=True)
class Alert:
    """One rule on one subject (a service, a mount, or the host)."""

    rule: Rule
    subject: str
    state: AlertState = AlertState.INACTIVE
    since: float = 0.0  # when the current state began
    value: float | None = None
    threshold: float = 0.0

    @property
    def service(self) -> str:
        if self.subject.startswith(SCRAPE_PREFIX):  # scrape:<service>:<series>
            return self.subject.split(":", 2)[1]
        return HOST if self.subject.startswith(("disk:", HOST)) else self.subject


@dataclass(frozen=True, slots=True)
class BurnReading:
    """A service's burn rate for one `alerting.burn_rate` pair: over its long and its short
    window (None: not enough data there yet), against the factor both must exceed."""

    name: str
    factor: float
    long_window: float
    short_window: float
    long_rate: float | None
    short_rate: float | None

    @property
    def burning(self) -> bool:
        return (
            self.long_rate is not None
            and self.short_rate is not None
            and min(self.long_rate, self.short_rate) > self.factor
        )


@dataclass(frozen=True, slots=True)
class Transition:
    alert: Alert
    state: AlertState  # FIRING or RESOLVED
    at: float


def default_rules(config: Config) -> list[Rule]:
    """The platform's thresholds and SLOs as rules (used when config lists none)."""
    t = config.thresholds
    return [
        Rule(
            "service_down",
            "down",
            True,
            0.5,
            None,
            0.0,
            Severity.HIGH,
            description="the health check fails past its failure threshold",
        ),
        Rule(
            "latency_slo",
            "latency",
            True,
            SLO_THRESHOLD,
            None,
            5 * MINUTE,
            Severity.MEDIUM,
            description="slower than the SLO response time for 5 minutes",
        ),
        Rule(
            "error_rate_slo",
            "error_rate",
            True,
            SLO_THRESHOLD,
            None,
            5 * MINUTE,
            Severity.MEDIUM,
            description="error rate over the last hour above the SLO",
        ),
        Rule(
            "cert_expiry",
            "cert_days",
            False,
            14.0,
            21.0,
            0.0,
            Severity.MEDIUM,
            description="TLS certificate expires within 14 days",
        ),
        *burn_rules(config.alerting.burn_rate),
        Rule(
            "cpu_high",
            "cpu",
            True,
            t.cpu.alert,
            t.cpu.warn,
            2 * MINUTE,
            Severity.HIGH,
            description="host CPU above the alert level for 2 minutes",
        ),
        Rule(
            "memory_high",
            "memory",
            True,
            t.memory.alert,
            t.memory.warn,
            2 * MINUTE,
            Severity.HIGH,
            description="host memory above the alert level for 2 minutes",
        ),
        Rule(
            "disk_high",
            "disk",
            True,
            t.disk.alert,
            t.disk.warn,
            5 * MINUTE,
            Severity.HIGH,
            description="a disk above the alert level for 5 minutes",
        ),
        Rule(
            "disk_full_soon",
            "disk_exhaustion_s",
            False,
            2 * HOUR,
            3 * HOUR,
            0.0,
            Severity.HIGH,
            description="a disk's trend fills it in under 2 hours",
        ),
        Rule(
            "memory_full_soon",
            "memory_exhaustion_s",
            False,
            2 * HOUR,
            3 * HOUR,
            0.0,
            Severity.HIGH,
            description="memory use's trend exhausts it in under 2 hours",
        ),
    ]


def build_rules(config: Config) -> list[Rule]:
    """The configured rules, or the built-in ones, less `alerts.disable`."""
    if config.rules is None:
        rules = default_rules(config)
    else:
        rules = [
            Rule(
                r.name,
                r.metric,
                r.above,
                r.threshold,
                r.clear,
                r.for_s,
                Severity(r.severity),
                r.services,
                series=r.series,
            )
            for r in config.rules
        ]
    return [r for r in rules if r.name not in config.disabled_rules]


def burn_rules(settings: BurnRateSettings) -> list[Rule]:
    """One rule per burn-rate pair: burn_rate_<name> on the metric burn_<name>."""
    return [
        Rule(
            f"burn_rate_{p.name}",
            burn_metric(p.name),
            True,
            p.factor,
            None,
            0.0,
            Severity(p.severity),
            description=(
                f"error budget burning {p.factor:g}x over both {format_duration(p.long)} "
                f"and {format_duration(p.short)}"
            ),
        )
        for p in settings.pairs
    ]


def burn_rate(
    store: Store, service: str, window: float, now: float, target_percent: float
) -> float | None:
    """Failed share of checks in ``window`` over the budget share (1 - SLO)."""
    return _burn(store.check_counts(service, now, window), target_percent)


def _burn(counts: tuple[int, int, int], target_percent: float) -> float | None:
    total, _, failed = counts
    budget = 1.0 - target_percent / 100.0
    if total == 0 or budget <= 0:
        return None
    return (failed / total) / budget


def window_burn(
    counts: tuple[int, int, int],
    window: float,
    span: float,
    target_percent: float,
    settings: BurnRateSettings,
) -> float | None:
    """The burn rate over one window, or None while the window has too little data: the
    checks ``span`` (now - first check) less than `min_coverage` of it, or fewer than
    `min_checks` checks in it."""
    if span < settings.min_coverage * window or counts[0] < settings.min_checks:
        return None
    return _burn(counts, target_percent)


class Evaluator:
    """Evaluates every rule against the store; returns the transitions to act on."""

    def __init__(self, rules: Iterable[Rule], store: Store) -> None:
        self.rules = list(rules)
        self.store = store
        self.alerts: dict[tuple[str, str], Alert] = {}
        self.burn = store.config.alerting.burn_rate
        self._pairs: dict[str, BurnPair] = {burn_metric(p.name): p for p in self.burn.pairs}
        # Metrics whose None is "not enough evidence yet": a firing alert holds on it.
        # (Scraped series hold only while their snapshot is stale: _scraped says.)
        self._held = {"down", *self._pairs}
        # Every window a service's rules read, fetched in one pass per service and tick.
        self._windows = tuple({HOUR, *(w for p in self.burn.pairs for w in (p.long, p.short))})
        self._service_rules = [
            r for r in self.rules if r.metric in SERVICE_METRICS or r.metric in self._pairs
        ]
        self._host_rules = [r for r in self.rules if r.metric in HOST_METRICS]
        self._scraped_rules = [r for r in self.rules if r.metric == SCRAPED]
        self._waiting: set[tuple[str, str]] = set()  # pending alerts: their `for` timers
        self._counts: dict[tuple[str, float], tuple[int, int, int]] = {}  # per evaluate()
        self.evaluations = 0

    def evaluate(self, now: float, changed: set[str] | None = None) -> list[Transition]:
        """``changed``: services whose checks arrived since the last call (None: all)."""
        out: list[Transition] = []
        self._counts.clear()
        names = self.store.service_names() if changed is None else changed
        # Pending alerts with no new data: their value stands, only the clock moved.
        for key in [k for k in self._waiting if k[1] not in names and self.store.has_service(k[1])]:
            alert = self.alerts[key]
            if now - alert.since >= alert.rule.for_s:
                alert.state, alert.since = AlertState.FIRING, now
                out.append(Transition(alert, AlertState.FIRING, now))
                self._waiting.discard(key)
        for service in names:
            if not self.store.has_service(service):
                continue
            for rule in self._service_rules:
                if rule.services is None or service in rule.services:
                    value, threshold = self._service_value(rule, service, now)
                    self._step(rule, service, value, threshold, now, out)
        sample = self.store.system
        if sample is not None:
            for rule in self._host_rules:
                if rule.metric in PREDICTED_HOST_METRICS:
                    self._predicted_host(rule, now, out)
                elif rule.metric == "disk":
                    for disk in sample.disks:
                        self._step(
                            rule, f"disk:{disk.mount}", disk.percent, rule.threshold, now, out
                        )
                else:
                    value = {
                        "cpu": sample.cpu_percent,
                        "memory": sample.mem_percent,
                        "load": sample.load[0],
                    }[rule.metric]
                    self._step(rule, HOST, value, rule.threshold, now, out)
        for rule in self._scraped_rules:
            self._scraped(rule, now, out)
        # Dependencies first: a dependent's incident can then be linked under theirs.
        out.sort(key=lambda t: self._depth(t.alert.service))
        return out

    def _depth(self, service: str, seen: frozenset[str] = frozenset()) -> int:
        if service == HOST or not self.store.has_service(service) or service in seen:
            return 0
        deps = self.store.service_config(service).depends_on
        return 1 + max((self._depth(d, seen | {service}) for d in deps), default=-1)

    def _service_value(self, rule: Rule, service: str, now: float) -> tuple[float | None, float]:
        store = self.store
        cfg = store.service_config(service)
        slo = cfg.slo
        threshold = rule.threshold
        if rule.metric == "down":
            return _down_value(store, service), threshold
        if rule.metric == "cert_days":
            last = store.last_check(service)
            return (last.cert_days if last else None), threshold
        if rule.metric == "latency":
            if threshold == SLO_THRESHOLD:
                if slo is None:
                    return None, threshold
                threshold = slo.response_time
            last = store.last_check(service)
            return (last.latency if last and last.ok else None), threshold
        if rule.metric == "error_rate":
            if threshold == SLO_THRESHOLD:
                if slo is None:
                    return None, threshold
                threshold = slo.error_rate
            total, _, failed = self._window(service, now, HOUR)
            return (100.0 * failed / total if total else None), threshold
        if rule.metric in PREDICTED_SERVICE_METRICS:
            return store.prediction_value(rule.metric, service), threshold
        pair = self._pairs.get(rule.metric)
        if slo is None or pair is None:  # burn rates need an SLO
            return None, threshold
        first = store.first_check_at(service)
        span = 0.0 if first is None else now - first
        long_rate = window_burn(
            self._window(service, now, pair.long), pair.long, span, slo.uptime, self.burn
        )
        if long_rate is None:
            return None, threshold
        short_rate = window_burn(
            self._window(service, now, pair.short), pair.short, span, slo.uptime, self.burn
        )
        if short_rate is None:
            return None, threshold
        # Both windows must burn; once the errors stop, the short one drops first.
        return min(long_rate, short_rate), threshold

    def burn_rates(self, service: str, now: float) -> list[BurnReading]:
        """The service's burn rate per pair now, for views (empty without an SLO). Reads
        the store's check counts in one pass; the per-tick cache is left alone."""
        if not self.store.has_service(service) or not self.burn.pairs:
            return []
        slo = self.store.service_config(service).slo
        if slo is None:
            return []
        first = self.store.first_check_at(service)
        span = 0.0 if first is None else now - first
        windows = tuple({w for p in self.burn.pairs for w in (p.long, p.short)})
        counts = dict(
            zip(windows, self.store.check_counts_many(service, now, windows), strict=True)
        )
        return [
            BurnReading(
                p.name,
                p.factor,
                p.long,
                p.short,
                window_burn(counts[p.long], p.long, span, slo.uptime, self.burn),
                window_burn(counts[p.short], p.short, span, slo.uptime, self.burn),
            )
            for p in self.burn.pairs
        ]

    def _window(self, service: str, now: float, window: float) -> tuple[int, int, int]:
        """Check counts over a window. The first ask for a service reads every window
        the rules use in one pass, then the answers come from the per-tick cache."""
        key = (service, window)
        counts = self._counts.get(key)
        if counts is None:
            windows = tuple({window, *self._windows})
            for w, c in zip(
                windows, self.store.check_counts_many(service, now, windows), strict=True
            ):
                self._counts[(service, w)] = c
            counts = self._counts[key]
        return counts

    def _step(
        self,
        rule: Rule,
        subject: str,
        value: float | None,
        threshold: float,
        now: float,
        out: list[Transition],
        hold: bool | None = None,
    ) -> None:
        """``hold``: whether None is "no evidence" (a firing alert stands) rather than
        "gone" (it clears); by default, whether the rule's metric is in _held."""
        self.evaluations += 1
        key = (rule.name, subject)
        alert = self.alerts.get(key)
        if alert is None:
            if value is None or not _beyond(rule.above, value, threshold):
                return  # the common case: nothing to track
            alert = self.alerts[key] = Alert(rule, subject, since=now)
        if hold is None:
            hold = rule.metric in self._held
        if value is None and alert.state is AlertState.FIRING and hold:
            return  # no evidence either way: it stands until a value clears it
        alert.value, alert.threshold = value, threshold
        firing = alert.state is AlertState.FIRING
        level = threshold if not firing or rule.clear is None else rule.clear
        active = value is not None and _beyond(rule.above, value, level)
        if active:
            if alert.state in (AlertState.INACTIVE, AlertState.RESOLVED):
                alert.state, alert.since = AlertState.PENDING, now
            if alert.state is AlertState.PENDING and now - alert.since >= rule.for_s:
                alert.state, alert.since = AlertState.FIRING, now
                out.append(Transition(alert, AlertState.FIRING, now))
            # Only a pending alert waits on the clock; a firing one changes with new data.
            if alert.state is AlertState.PENDING:
                self._waiting.add(key)
            else:
                self._waiting.discard(key)
        else:
            if alert.state is AlertState.FIRING:
                alert.state, alert.since = AlertState.RESOLVED, now
                out.append(Transition(alert, AlertState.RESOLVED, now))
            elif alert.state is AlertState.PENDING:
                alert.state, alert.since = AlertState.INACTIVE, now
            self._waiting.discard(key)

    def _predicted_host(self, rule: Rule, now: float, out: list[Transition]) -> None:
        """Host rules on forecasts: every subject with a value, and every tracked alert
        whose forecast went away (no value: it resolves)."""
        values = self.store.prediction_subjects(rule.metric)
        tracked = {subject for name, subject in self.alerts if name == rule.name}
        for subject in sorted(set(values) | tracked):
            self._step(rule, subject, values.get(subject), rule.threshold, now, out)

    def _scraped(self, rule: Rule, now: float, out: list[Transition]) -> None:
        """A rule on scraped series, every tick (the values are the store's latest
        scrape): one alert per matching series. A tracked series with no value holds a
        firing alert while its service's snapshot is stale or absent (the target stopped
        answering: unknown, not cleared); gone from a fresh scrape (an unmounted
        filesystem, a label set that churned away), it clears, resolving its incident,
        and the alert is forgotten once inactive, so the map does not grow with churn."""
        if rule.series is None:
            return
        values: dict[str, float] = {}
        fresh: set[str] = set()
        names = self.store.scraped_services() if rule.services is None else rule.services
        for service in names:
            snap = self.store.scraped(service)
            if snap is not None and snap.fresh(now):
                fresh.add(service)
                values.update((s.series, s.value) for s in snap.select(rule.series))
        tracked = {subject for name, subject in self.alerts if name == rule.name}
        for subject in sorted(values.keys() | tracked):
            value = values.get(subject)
            if value is not None:
                self._step(rule, subject, value, rule.threshold, now, out)
                continue
            key = (rule.name, subject)
            alert = self.alerts[key]  # tracked: only a tracked subject has no value
            self._step(rule, subject, None, rule.threshold, now, out, alert.service not in fresh)
            if alert.state in (AlertState.INACTIVE, AlertState.RESOLVED):
                del self.alerts[key]  # nothing to hold or show: a later value starts anew
                self._waiting.discard(key)

    def firing(self) -> list[Alert]:
        return [a for a in self.alerts.values() if a.state is AlertState.FIRING]


def _down_value(store: Store, service: str) -> float | None:
    """1 once down is confirmed (failure_threshold checks, or its workload down), 0 while
    up or degraded, None in between: unknown, failing but not yet confirmed, or down and
    not yet success_threshold good checks. Shown DOWN is not the same as paged DOWN."""
    if store.down_confirmed(service):
        return 1.0
    if store.status(service) in (Health.UP, Health.DEGRADED):
        return 0.0
    return None


def _beyond(above: bool, value: float, level: float) -> bool:
    return value > level if above else value < level
