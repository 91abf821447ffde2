"""services.yaml + environment + CLI flags → one typed, validated Config.

Precedence: the file, then the environment variables the platform documents,
then command-line flags. Every error names the file (or variable), the line
and the key, so `devmentor-monitor` can stop with one clear sentence per problem;
a file's problems are all reported at once (up to MAX_ERRORS), not one per run.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from .config_env import apply_environment, env_int
from .config_reader import Reader, show_value
from .envexpand import expand
from .notify.settings import NotifySettings, active_channels, parse_notifications
from .yamlsource import MAX_BYTES, ConfigError, Node, load_yaml

INHERITED_TIMEOUT_SHARE = 0.8  # an inherited timeout is cut to this share of the interval

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "services.yaml"
MAX_HISTORY_POINTS = 1_000_000


@dataclass(frozen=True, slots=True)
class Level:
    """A warn / alert pair for one host or latency threshold."""

    warn: float
    alert: float


@dataclass(frozen=True, slots=True)
class Thresholds:
    cpu: Level = Level(70, 80)
    memory: Level = Level(80, 90)
    disk: Level = Level(75, 85)
    latency: Level = Level(0.050, 0.100)  # seconds


@dataclass(frozen=True, slots=True)
class SLO:
    """Service-level objective; percentages as written in the platform docs."""

    uptime: float  # percent, e.g. 99.9
    response_time: float  # seconds, compared with p95 latency over 1 h
    error_rate: float  # percent of failed checks


@dataclass(frozen=True, slots=True)
class Recovery:
    """What to run when an incident opens for a service: a command or a webhook."""

    command: tuple[str, ...] = ()  # argv, split like a shell would; no shell involved
    webhook: str | None = None
    action: str | None = None  # a container/cluster action, one of RECOVERY_ACTIONS
    dry_run: bool = True  # the default: say what would run, run nothing
    max_per_hour: int = 3
    timeout: float = 30.0


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    name: str
    url: str
    interval: float
    timeout: float
    expect_status: tuple[int, ...] = (200,)
    expect_body: tuple[tuple[str, Any], ...] = ()
    depends_on: tuple[str, ...] = ()
    slo: SLO | None = None
    failure_threshold: int = 3
    success_threshold: int = 1
    tls_verify: bool = True
    ca_file: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    recovery: Recovery | None = None


@dataclass(frozen=True, slots=True)
class HealthSettings:
    timeout: float = 5.0
    failure_threshold: int = 3
    success_threshold: int = 1
    max_in_flight: int = 10


@dataclass(frozen=True, slots=True)
class Intervals:
    health: float = 10.0
    system: float = 5.0
    processes: float = 15.0


@dataclass(frozen=True, slots=True)
class History:
    """Ring-buffer sizes: memory is bounded by these, whatever the run time."""

    system_points: int = 17_280  # 24 h at 5 s
    service_points: int = 8_640  # 24 h at 10 s
    recent_checks: int = 50


@dataclass(frozen=True, slots=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 3006
    metrics_cache: float = 1.0  # seconds a rendered /metrics body is reused


@dataclass(frozen=True, slots=True)
class Retention:
    """How long stored data is kept. `metrics` (METRICS_RETENTION) is parsed and checked
    but nothing reads it yet: issue 16 (persisted metric history) will."""

    events: float = 7 * 86400.0
    metrics: float = 30 * 86400.0  # unused until issue 16
    incidents: float = 90 * 86400.0  # resolved incidents, their timelines and the audit


@dataclass(frozen=True, slots=True)
class Scaling:
    enabled: bool = False
    min_replicas: int = 1
    max_replicas: int = 10


@dataclass(frozen=True, slots=True)
class PredictionSettings:
    """The `predictions:` section: live anomaly detection, forecasts, advice, root causes."""

    enabled: bool = True
    interval: float = 1.0  # the engine's tick; every stored sample is fed, however many
    warmup: int = 150  # samples a live series only learns from (its scores are 0)
    forecast_every: float = 10.0  # trend fits: disk, memory, leaks, error budgets, advice
    forecast_window: float = 1800.0  # how far back the trend fits look
    min_span: float = 300.0  # a fit needs at least this much history to be shown
    max_series: int = 256  # series watched at most (event types add series at run time)


@dataclass(frozen=True, slots=True)
class DockerSettings:
    """The `docker:` section; a section present (or DOCKER_HOST set) enables the source."""

    enabled: bool = False
    host: str | None = None  # None: DOCKER_HOST, else the SDK's default socket
    interval: float = 5.0
    timeout: float = 5.0  # every SDK call, bounded
    containers: tuple[tuple[str, str], ...] = ()  # service -> container name (discovery)
    log_lines: int = 50


@dataclass(frozen=True, slots=True)
class KubeSettings:
    """The `kubernetes:` section; a section present (or running in a pod) enables it."""

    enabled: bool = False
    kubeconfig: str | None = None  # None: KUBECONFIG or ~/.kube/config
    context: str | None = None
    in_cluster: bool = False
    namespace: str = "devmentor"
    interval: float = 15.0  # deployments, nodes, events are listed this often
    timeout: float = 10.0  # every API call, bounded
    watch_timeout: float = 60.0  # a pod watch is reopened (from its resourceVersion) this often
    selectors: tuple[tuple[str, str], ...] = ()  # service -> label selector; default app=<name>


@dataclass(frozen=True, slots=True)
class EventRule:
    """`events.rules`: an event of this type (prefix) and severity opens an incident."""

    name: str
    type: str  # a type prefix: "deploy.failed", "security."
    min_severity: str = "error"  # info, warning, error, critical
    services: tuple[str, ...] | None = None
    severity: str = "high"  # of the incident


@dataclass(frozen=True, slots=True)
class EventSettings:
    """The `events:` section: where platform events come from and where incidents go."""

    channels: tuple[str, ...] = ("devmentor:events",)
    patterns: tuple[str, ...] = ("devmentor:*",)
    mode: str = "pubsub"  # or "stream": durable, resumes from the consumer group's last id
    stream: str = "devmentor:events:stream"
    group: str = "devmentor-monitor"
    consumer: str | None = None  # None: the host name (stable across restarts)
    publish_channel: str = "devmentor:incidents"
    max_bytes: int = 64 * 1024
    memory: int = 10_000  # events kept in memory for the views and the API
    parser: str = "auto"  # auto (hiredis when installed), python, hiredis
    rules: tuple[EventRule, ...] = ()


ROLES = ("viewer", "operator", "admin")


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A named key with a role; the key itself is never shown (config check masks it)."""

    name: str
    key: str = field(repr=False)
    role: str


@dataclass(frozen=True, slots=True)
class RuleConfig:
    """An alert rule as written in `alerts.rules` (engine/rules.py makes it a Rule)."""

    name: str
    metric: str
    above: bool
    threshold: float
    clear: float | None
    for_s: float
    severity: str
    services: tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class TuiSettings:
    theme: str = "dark"
    refresh: float = 1.0  # the screen is redrawn at most once per this many seconds
    keys: tuple[tuple[str, str], ...] = ()  # binding id -> key(s), e.g. ("metrics", "M")


@dataclass(frozen=True, slots=True)
class Config:
    source: str
    server: ServerSettings = ServerSettings()
    intervals: Intervals = Intervals()
    thresholds: Thresholds = Thresholds()
    health: HealthSettings = HealthSettings()
    history: History = History()
    retention: Retention = Retention()
    scaling: Scaling = Scaling()
    predictions: PredictionSettings = PredictionSettings()
    tui: TuiSettings = TuiSettings()
    api_keys: tuple[ApiKey, ...] = ()
    rules: tuple[RuleConfig, ...] | None = None  # None: the built-in rules
    disabled_rules: tuple[str, ...] = ()
    data_dir: str | None = None  # None: $XDG_STATE_HOME/devmentor-monitor
    notifications: NotifySettings = field(default_factory=NotifySettings)
    redis_url: str | None = None
    events: EventSettings = EventSettings()
    auto_discover: bool = False
    docker: DockerSettings = DockerSettings()
    kubernetes: KubeSettings = KubeSettings()
    alert_channels: tuple[str, ...] = ()
    services: tuple[ServiceConfig, ...] = ()
    overrides: tuple[str, ...] = field(default=())  # "MONITORING_PORT=3010", "--port"

    def service(self, name: str) -> ServiceConfig | None:
        return next((s for s in self.services if s.name == name), None)


# --------------------------------------------------------------------------- sections

_TOP_KEYS = {
    "server",
    "intervals",
    "thresholds",
    "health",
    "history",
    "retention",
    "redis",
    "events",
    "discovery",
    "alerts",
    "scaling",
    "services",
    "tui",
    "auth",
    "storage",
    "notifications",
    "docker",
    "kubernetes",
}
_TOP_KEYS |= {"predictions"}
_SERVICE_KEYS = {
    "name",
    "url",
    "interval",
    "timeout",
    "expect",
    "depends_on",
    "slo",
    "failure_threshold",
    "success_threshold",
    "tls_verify",
    "ca_file",
    "headers",
    "recovery",
}


def _section(r: Reader, top: dict[str, Node], key: str, allowed: set[str]) -> dict[str, Node]:
    node = top.get(key)
    if node is None or node.value is None:
        return {}
    return r.mapping(node, key, allowed)


def _parse(root: Node, source: str) -> Config:
    """Read every section; all the problems found are raised together at the end."""
    r = Reader(source, collect=True)
    return r.done(r.attempt(lambda: _config(r, root, source), None))


def _config(r: Reader, root: Node, source: str) -> Config:
    top = r.mapping(root if root.value is not None else Node({}, 1), "", _TOP_KEYS)
    intervals = r.attempt(lambda: _intervals(r, top), Intervals())
    health = r.attempt(lambda: _health(r, top, intervals), HealthSettings())
    no_services: tuple[tuple[ServiceConfig, ...], set[str]] = ((), set())
    services, names = r.attempt(
        lambda: _services(r, top.get("services"), intervals, health), no_services
    )
    s = _section_or_empty(r, top, "alerts", {"channels", "rules", "disable"})
    return Config(
        source=source,
        server=r.attempt(lambda: _server(r, top), ServerSettings()),
        intervals=intervals,
        thresholds=_thresholds(r, top),
        health=health,
        history=r.attempt(lambda: _history(r, top), History()),
        retention=r.attempt(lambda: _retention(r, top), Retention()),
        scaling=r.attempt(lambda: _scaling(r, top), Scaling()),
        tui=r.attempt(lambda: _tui(r, top), TuiSettings()),
        redis_url=r.attempt(lambda: _redis_url(r, top), None),
        events=r.attempt(lambda: _events(r, top), EventSettings()),
        auto_discover=r.attempt(lambda: _discovery(r, top), False),
        alert_channels=r.attempt(lambda: r.str_list(s["channels"], "alerts.channels"), ())
        if "channels" in s
        else (),
        services=services,
        api_keys=r.attempt(
            lambda: _api_keys(r, _section(r, top, "auth", {"keys"}).get("keys")), ()
        ),
        rules=r.attempt(lambda: _rules(r, s["rules"]), None) if "rules" in s else None,
        disabled_rules=r.attempt(lambda: r.str_list(s["disable"], "alerts.disable"), ())
        if "disable" in s
        else (),
        data_dir=r.attempt(lambda: _data_dir(r, top), None),
        notifications=r.attempt(
            lambda: parse_notifications(r, top.get("notifications")), NotifySettings()
        ),
        docker=r.attempt(lambda: _docker(r, top, names), DockerSettings()),
        kubernetes=r.attempt(lambda: _kubernetes(r, top, names), KubeSettings()),
        predictions=r.attempt(lambda: _predictions(r, top), PredictionSettings()),
    )


def _section_or_empty(
    r: Reader, top: dict[str, Node], key: str, allowed: set[str]
) -> dict[str, Node]:
    """A section whose keys are read one by one: when it is not a mapping, that is
    noted and it reads as empty."""
    return r.attempt(lambda: _section(r, top, key, allowed), {})


def _server(r: Reader, top: dict[str, Node]) -> ServerSettings:
    s = _section(r, top, "server", {"host", "port", "metrics_cache"})
    return ServerSettings(
        host=r.string(s["host"], "server.host") if "host" in s else "127.0.0.1",
        port=r.integer(s["port"], "server.port", lo=1, hi=65535) if "port" in s else 3006,
        metrics_cache=r.duration(s["metrics_cache"], "server.metrics_cache")
        if "metrics_cache" in s
        else 1.0,
    )


def _intervals(r: Reader, top: dict[str, Node]) -> Intervals:
    s = _section(r, top, "intervals", {"health", "system", "processes"})
    return Intervals(**{k: r.duration(v, f"intervals.{k}") for k, v in s.items()})


def _thresholds(r: Reader, top: dict[str, Node]) -> Thresholds:
    s = _section_or_empty(r, top, "thresholds", {"cpu", "memory", "disk", "latency"})
    levels = {
        name: r.attempt(partial(_level, r, name, node), getattr(Thresholds(), name))
        for name, node in s.items()
    }
    return Thresholds(**levels)


def _level(r: Reader, name: str, node: Node) -> Level:
    pair = r.mapping(node, f"thresholds.{name}", {"warn", "alert"})
    read: Callable[[Node, str], float]
    if name == "latency":
        read = r.duration
    else:

        def read(n: Node, k: str) -> float:
            return r.number(n, k, lo=0, hi=100)

    default = getattr(Thresholds(), name)
    warn = read(pair["warn"], f"thresholds.{name}.warn") if "warn" in pair else default.warn
    alert = read(pair["alert"], f"thresholds.{name}.alert") if "alert" in pair else default.alert
    if warn > alert:
        raise r.fail(node, f"thresholds.{name}", f"warn ({warn:g}) is above alert ({alert:g})")
    return Level(warn, alert)


def _health(r: Reader, top: dict[str, Node], intervals: Intervals) -> HealthSettings:
    s = _section(
        r, top, "health", {"timeout", "failure_threshold", "success_threshold", "max_in_flight"}
    )
    timeout = 5.0
    if "timeout" in s:
        timeout = r.duration(s["timeout"], "health.timeout")
        if timeout >= intervals.health:  # the pair every service without its own inherits
            got = show_value(s["timeout"].value)
            raise r.fail(
                s["timeout"],
                "health.timeout",
                f"must be shorter than intervals.health ({intervals.health:g}s), got {got}",
            )
    return HealthSettings(
        timeout=timeout,
        **{
            k: r.integer(s[k], f"health.{k}", positive=True)
            for k in ("failure_threshold", "success_threshold", "max_in_flight")
            if k in s
        },
    )


def _history(r: Reader, top: dict[str, Node]) -> History:
    s = _section(r, top, "history", {"system_points", "service_points", "recent_checks"})
    return History(
        **{k: r.integer(v, f"history.{k}", lo=2, hi=MAX_HISTORY_POINTS) for k, v in s.items()}
    )


def _retention(r: Reader, top: dict[str, Node]) -> Retention:
    s = _section(r, top, "retention", {"events", "metrics", "incidents"})
    return Retention(**{k: r.duration(v, f"retention.{k}") for k, v in s.items()})


def _redis_url(r: Reader, top: dict[str, Node]) -> str | None:
    s = _section(r, top, "redis", {"url"})
    if s.get("url") is None or s["url"].value is None:
        return None
    return r.url(s["url"], "redis.url", schemes=("redis", "rediss", "unix"))


def _discovery(r: Reader, top: dict[str, Node]) -> bool:
    s = _section(r, top, "discovery", {"auto"})
    return r.boolean(s["auto"], "discovery.auto") if "auto" in s else False


def _data_dir(r: Reader, top: dict[str, Node]) -> str | None:
    s = _section(r, top, "storage", {"data_dir"})
    return r.string(s["data_dir"], "storage.data_dir") if "data_dir" in s else None


def _scaling(r: Reader, top: dict[str, Node]) -> Scaling:
    s = _section(r, top, "scaling", {"enabled", "min_replicas", "max_replicas"})
    scaling = Scaling(
        enabled=r.boolean(s["enabled"], "scaling.enabled") if "enabled" in s else False,
        **{
            k: r.integer(s[k], f"scaling.{k}", positive=True)
            for k in ("min_replicas", "max_replicas")
            if k in s
        },
    )
    if scaling.min_replicas > scaling.max_replicas:
        raise r.fail(top["scaling"], "scaling", "min_replicas is above max_replicas")
    return scaling


def _tui(r: Reader, top: dict[str, Node]) -> TuiSettings:
    s = _section(r, top, "tui", {"theme", "refresh", "keys"})
    keys: tuple[tuple[str, str], ...] = ()
    if "keys" in s:
        km = r.mapping(s["keys"], "tui.keys", None)
        keys = tuple((k, r.string(v, f"tui.keys.{k}")) for k, v in km.items())
    return TuiSettings(
        theme=r.string(s["theme"], "tui.theme") if "theme" in s else "dark",
        refresh=r.duration(s["refresh"], "tui.refresh") if "refresh" in s else 1.0,
        keys=keys,
    )


def _predictions(r: Reader, top: dict[str, Node]) -> PredictionSettings:
    s = _section(
        r,
        top,
        "predictions",
        {
            "enabled",
            "interval",
            "warmup",
            "forecast_every",
            "forecast_window",
            "min_span",
            "max_series",
        },
    )
    out: dict[str, Any] = {
        k: r.duration(s[k], f"predictions.{k}")
        for k in ("interval", "forecast_every", "forecast_window", "min_span")
        if k in s
    }
    if "enabled" in s:
        out["enabled"] = r.boolean(s["enabled"], "predictions.enabled")
    if "warmup" in s:
        out["warmup"] = r.integer(s["warmup"], "predictions.warmup", lo=10, hi=100_000)
    if "max_series" in s:
        out["max_series"] = r.integer(s["max_series"], "predictions.max_series", lo=1, hi=100_000)
    return PredictionSettings(**out)


def _service_map(
    r: Reader, node: Node, key: str, services: set[str]
) -> tuple[tuple[str, str], ...]:
    """service name -> string (container name, label selector); unknown services fail."""
    m = r.mapping(node, key, None)
    for name, child in m.items():
        if name not in services:
            raise r.fail(child, f"{key}.{name}", f"unknown service {name!r}")
    return tuple((name, r.string(v, f"{key}.{name}")) for name, v in m.items())


def _docker(r: Reader, top: dict[str, Node], services: set[str]) -> DockerSettings:
    if "docker" not in top:
        return DockerSettings()
    s = _section(
        r, top, "docker", {"enabled", "host", "interval", "timeout", "containers", "log_lines"}
    )
    return DockerSettings(
        enabled=r.boolean(s["enabled"], "docker.enabled") if "enabled" in s else True,
        host=r.string(s["host"], "docker.host") if "host" in s else None,
        interval=r.duration(s["interval"], "docker.interval") if "interval" in s else 5.0,
        timeout=r.duration(s["timeout"], "docker.timeout") if "timeout" in s else 5.0,
        containers=_service_map(r, s["containers"], "docker.containers", services)
        if "containers" in s
        else (),
        log_lines=r.integer(s["log_lines"], "docker.log_lines", lo=1, hi=10_000)
        if "log_lines" in s
        else 50,
    )


def _kubernetes(r: Reader, top: dict[str, Node], services: set[str]) -> KubeSettings:
    if "kubernetes" not in top:
        return KubeSettings()
    s = _section(
        r,
        top,
        "kubernetes",
        {
            "enabled",
            "kubeconfig",
            "context",
            "in_cluster",
            "namespace",
            "interval",
            "timeout",
            "watch_timeout",
            "selectors",
        },
    )
    return KubeSettings(
        enabled=r.boolean(s["enabled"], "kubernetes.enabled") if "enabled" in s else True,
        kubeconfig=r.string(s["kubeconfig"], "kubernetes.kubeconfig")
        if "kubeconfig" in s
        else None,
        context=r.string(s["context"], "kubernetes.context") if "context" in s else None,
        in_cluster=r.boolean(s["in_cluster"], "kubernetes.in_cluster")
        if "in_cluster" in s
        else False,
        namespace=r.string(s["namespace"], "kubernetes.namespace")
        if "namespace" in s
        else "devmentor",
        **{
            k: r.duration(s[k], f"kubernetes.{k}")
            for k in ("interval", "timeout", "watch_timeout")
            if k in s
        },
        selectors=_service_map(r, s["selectors"], "kubernetes.selectors", services)
        if "selectors" in s
        else (),
    )


EVENT_SEVERITIES = ("info", "warning", "error", "critical")


def _events(r: Reader, top: dict[str, Node]) -> EventSettings:
    s = _section(
        r,
        top,
        "events",
        {
            "channels",
            "patterns",
            "mode",
            "stream",
            "group",
            "consumer",
            "publish_channel",
            "max_bytes",
            "memory",
            "parser",
            "rules",
        },
    )
    d = EventSettings()

    def choice(key: str, allowed: tuple[str, ...], default: str) -> str:
        if key not in s:
            return default
        value = r.string(s[key], f"events.{key}")
        if value not in allowed:
            raise r.fail(
                s[key], f"events.{key}", f"must be one of {', '.join(allowed)}, not {value!r}"
            )
        return value

    rules = []
    for name, key, item, m in r.named_items(s.get("rules"), "events.rules", "rule"):
        with r.noting():
            rules.append(_event_rule(r, name, key, item, m))
    return EventSettings(
        channels=r.str_list(s["channels"], "events.channels") if "channels" in s else d.channels,
        patterns=r.str_list(s["patterns"], "events.patterns") if "patterns" in s else d.patterns,
        mode=choice("mode", ("pubsub", "stream"), d.mode),
        stream=r.string(s["stream"], "events.stream") if "stream" in s else d.stream,
        group=r.string(s["group"], "events.group") if "group" in s else d.group,
        consumer=r.string(s["consumer"], "events.consumer") if "consumer" in s else None,
        publish_channel=r.string(s["publish_channel"], "events.publish_channel")
        if "publish_channel" in s
        else d.publish_channel,
        max_bytes=r.integer(s["max_bytes"], "events.max_bytes", lo=256, hi=16 << 20)
        if "max_bytes" in s
        else d.max_bytes,
        memory=r.integer(s["memory"], "events.memory", lo=10, hi=1_000_000)
        if "memory" in s
        else d.memory,
        parser=choice("parser", ("auto", "python", "hiredis"), d.parser),
        rules=tuple(rules),
    )


def _event_rule(r: Reader, name: str, key: str, item: Node, m: dict[str, Node]) -> EventRule:
    r.mapping(item, key, {"name", "type", "min_severity", "services", "severity"})
    if "type" not in m:
        raise r.fail(item, key, "missing required key 'type'")
    sev = m.get("min_severity")
    inc = m.get("severity")
    if sev is not None and r.string(sev, f"{key}.min_severity") not in EVENT_SEVERITIES:
        raise r.fail(sev, f"{key}.min_severity", f"must be one of {', '.join(EVENT_SEVERITIES)}")
    if inc is not None and r.string(inc, f"{key}.severity") not in SEVERITIES:
        raise r.fail(inc, f"{key}.severity", f"must be one of {', '.join(SEVERITIES)}")
    return EventRule(
        name,
        r.string(m["type"], f"{key}.type"),
        r.string(sev, "") if sev is not None else "error",
        r.str_list(m["services"], f"{key}.services") if "services" in m else None,
        r.string(inc, "") if inc is not None else "high",
    )


RULE_METRICS: tuple[str, ...] = (
    "down",
    "latency",
    "error_rate",
    "cert_days",
    "burn_fast",
    "burn_slow",
    "cpu",
    "memory",
    "disk",
    "load",
)
# Fed by the prediction engine (predict/engine.py): seconds to exhaustion, anomaly score.
RULE_METRICS += ("disk_exhaustion_s", "memory_exhaustion_s", "budget_exhaustion_s", "anomaly_score")
SEVERITIES = ("low", "medium", "high", "critical")


def _rules(r: Reader, node: Node) -> tuple[RuleConfig, ...]:
    out: list[RuleConfig] = []
    for name, key, item, m in r.named_items(node, "alerts.rules", "rule"):
        with r.noting():
            out.append(_rule(r, name, key, item, m))
    return tuple(out)


def _rule(r: Reader, name: str, key: str, item: Node, m: dict[str, Node]) -> RuleConfig:
    r.mapping(
        item, key, {"name", "metric", "above", "below", "clear", "for", "severity", "services"}
    )
    if "metric" not in m:
        raise r.fail(item, key, "missing required key 'metric'")
    metric = r.string(m["metric"], f"{key}.metric")
    if metric not in RULE_METRICS:
        raise r.fail(
            m["metric"],
            f"{key}.metric",
            f"unknown metric {metric!r} (one of {', '.join(RULE_METRICS)})",
        )
    if ("above" in m) == ("below" in m):
        raise r.fail(item, key, "give exactly one of 'above' or 'below'")
    bound = "above" if "above" in m else "below"
    severity = r.string(m["severity"], f"{key}.severity") if "severity" in m else "high"
    if severity not in SEVERITIES:
        raise r.fail(m["severity"], f"{key}.severity", f"must be one of {', '.join(SEVERITIES)}")
    read = r.duration if metric == "latency" or metric.endswith("_s") else r.number
    return RuleConfig(
        name=name,
        metric=metric,
        above=bound == "above",
        threshold=read(m[bound], f"{key}.{bound}"),
        clear=read(m["clear"], f"{key}.clear") if "clear" in m else None,
        for_s=r.duration(m["for"], f"{key}.for", positive=False) if "for" in m else 0.0,
        severity=severity,
        services=r.str_list(m["services"], f"{key}.services") if "services" in m else None,
    )


def _api_keys(r: Reader, node: Node | None) -> tuple[ApiKey, ...]:
    out: list[ApiKey] = []
    for name, key, item, m in r.named_items(node, "auth.keys", "key"):
        with r.noting():
            out.append(_api_key(r, name, key, item, m))
    return tuple(out)


def _api_key(r: Reader, name: str, key: str, item: Node, m: dict[str, Node]) -> ApiKey:
    r.mapping(item, key, {"name", "key", "role"})
    missing = {"key", "role"} - set(m)
    if missing:
        raise r.fail(item, key, f"missing {', '.join(sorted(missing))}")
    role = r.string(m["role"], f"auth.keys.{name}.role")
    if role not in ROLES:
        raise r.fail(m["role"], f"auth.keys.{name}.role", f"must be one of {', '.join(ROLES)}")
    secret = r.string(m["key"], f"auth.keys.{name}.key")
    if len(secret) < 16:
        raise r.fail(
            m["key"],
            f"auth.keys.{name}.key",
            "too short: use at least 16 characters (e.g. `openssl rand -hex 16`)",
        )
    return ApiKey(name, secret, role)


def parse_api_keys_env(raw: str) -> tuple[ApiKey, ...]:
    """DEVMENTOR_API_KEYS="name:role:key,name2:role:key2"."""
    out = []
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        pieces = part.split(":", 2)
        if len(pieces) != 3 or pieces[1] not in ROLES or len(pieces[2]) < 16:
            raise ConfigError(
                "environment DEVMENTOR_API_KEYS",
                None,
                "",
                f"entry {pieces[0]!r}: write name:role:key with a role of "
                f"{', '.join(ROLES)} and a key of at least 16 characters",
            )
        out.append(ApiKey(pieces[0], pieces[2], pieces[1]))
    return tuple(out)


def _services(
    r: Reader, node: Node | None, intervals: Intervals, health: HealthSettings
) -> tuple[tuple[ServiceConfig, ...], set[str]]:
    """The services, and the names of all of them, even those with errors (so a problem
    in one is not blamed again on everything that refers to it)."""
    out: list[tuple[ServiceConfig, dict[str, Node]]] = []
    names: set[str] = set()
    for name, key, item, m in r.named_items(node, "services", "service"):
        names.add(name)
        with r.noting():
            out.append((_service(r, name, key, item, m, intervals, health), m))
    for svc, m in out:
        with r.noting():
            _check_depends_on(r, svc, m, names)
    cycle = _dependency_cycle([svc for svc, _ in out])
    if cycle:
        first = next(m for svc, m in out if svc.name == cycle[0])
        r.note(
            r.fail(
                first["depends_on"],
                f"services.{cycle[0]}.depends_on",
                "dependency cycle: " + " -> ".join(cycle),
            )
        )
    return tuple(svc for svc, _ in out), names


def _check_depends_on(r: Reader, svc: ServiceConfig, m: dict[str, Node], names: set[str]) -> None:
    for dep in svc.depends_on:
        if dep not in names or dep == svc.name:
            why = (
                "a service cannot depend on itself"
                if dep == svc.name
                else f"unknown service {dep!r}"
            )
            raise r.fail(m["depends_on"], f"services.{svc.name}.depends_on", why)


def _service(
    r: Reader,
    name: str,
    key: str,
    item: Node,
    m: dict[str, Node],
    intervals: Intervals,
    health: HealthSettings,
) -> ServiceConfig:
    r.mapping(item, key, _SERVICE_KEYS)  # unknown keys, named by the service
    if "url" not in m:
        raise r.fail(item, key, "missing required key 'url'")
    interval, timeout = _timing(r, key, m, intervals, health)
    return ServiceConfig(
        name=name,
        url=r.url(m["url"], f"{key}.url"),
        interval=interval,
        timeout=timeout,
        expect_status=_expect_status(r, key, m),
        expect_body=_expect_body(r, key, m),
        depends_on=r.str_list(m["depends_on"], f"{key}.depends_on") if "depends_on" in m else (),
        slo=_slo(r, m["slo"], f"{key}.slo") if "slo" in m else None,
        failure_threshold=r.integer(
            m["failure_threshold"], f"{key}.failure_threshold", positive=True
        )
        if "failure_threshold" in m
        else health.failure_threshold,
        success_threshold=r.integer(
            m["success_threshold"], f"{key}.success_threshold", positive=True
        )
        if "success_threshold" in m
        else health.success_threshold,
        tls_verify=r.boolean(m["tls_verify"], f"{key}.tls_verify") if "tls_verify" in m else True,
        ca_file=r.string(m["ca_file"], f"{key}.ca_file") if "ca_file" in m else None,
        headers=_headers(r, key, m),
        recovery=_recovery(r, m["recovery"], f"{key}.recovery") if "recovery" in m else None,
    )


def _timing(
    r: Reader, key: str, m: dict[str, Node], intervals: Intervals, health: HealthSettings
) -> tuple[float, float]:
    """(interval, timeout), the timeout below the interval: a check that could outlast
    its interval would silently stretch it to interval + timeout. An inherited timeout
    is cut to fit; one written for the service must fit as written."""
    interval = r.duration(m["interval"], f"{key}.interval") if "interval" in m else intervals.health
    if "timeout" not in m:
        return interval, min(health.timeout, interval * INHERITED_TIMEOUT_SHARE)
    timeout = r.duration(m["timeout"], f"{key}.timeout")
    if timeout >= interval:
        origin = "" if "interval" in m else ", from intervals.health"
        raise r.fail(
            m["timeout"],
            f"{key}.timeout",
            f"must be shorter than the interval "
            f"({interval:g}s{origin}), got {show_value(m['timeout'].value)}",
        )
    return interval, timeout


def _expect_status(r: Reader, key: str, m: dict[str, Node]) -> tuple[int, ...]:
    e = r.mapping(m["expect"], f"{key}.expect", {"status", "body"}) if "expect" in m else {}
    if "status" not in e:
        return (200,)
    st = e["status"]
    items = st.value if isinstance(st.value, list) else [st]
    return tuple(r.integer(x, f"{key}.expect.status", lo=100, hi=599) for x in items)


def _expect_body(r: Reader, key: str, m: dict[str, Node]) -> tuple[tuple[str, Any], ...]:
    e = r.mapping(m["expect"], f"{key}.expect", None) if "expect" in m else {}
    if "body" not in e:
        return ()
    b = r.mapping(e["body"], f"{key}.expect.body", None)
    return tuple((path, _scalar_value(r, v, f"{key}.expect.body.{path}")) for path, v in b.items())


def _slo(r: Reader, node: Node, key: str) -> SLO:
    sm = r.mapping(node, key, {"uptime", "response_time", "error_rate"})
    missing = {"uptime", "response_time", "error_rate"} - set(sm)
    if missing:
        raise r.fail(node, key, f"missing {', '.join(sorted(missing))}")
    return SLO(
        uptime=r.number(sm["uptime"], f"{key}.uptime", lo=0, hi=100),
        response_time=r.duration(sm["response_time"], f"{key}.response_time"),
        error_rate=r.number(sm["error_rate"], f"{key}.error_rate", lo=0, hi=100),
    )


def _headers(r: Reader, key: str, m: dict[str, Node]) -> tuple[tuple[str, str], ...]:
    if "headers" not in m:
        return ()
    hm = r.mapping(m["headers"], f"{key}.headers", None)
    return tuple((h, r.string(v, f"{key}.headers.{h}")) for h, v in hm.items())


def _dependency_cycle(services: list[ServiceConfig]) -> list[str] | None:
    """A cycle in depends_on as a path (a -> b -> a), or None."""
    deps = {s.name: s.depends_on for s in services}
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(name: str, path: list[str]) -> list[str] | None:
        state[name] = 1
        for dep in deps.get(name, ()):  # a service with errors has no entry
            if state.get(dep) == 1:
                return [*path[path.index(dep) :], dep] if dep in path else [name, dep]
            if dep not in state and (found := visit(dep, [*path, dep])):
                return found
        state[name] = 2
        return None

    for name in deps:
        if name not in state and (found := visit(name, [name])):
            return found
    return None


RECOVERY_ACTIONS = ("docker.restart", "docker.start", "kubernetes.restart", "kubernetes.scale-up")


def _recovery(r: Reader, node: Node, key: str) -> Recovery:
    m = r.mapping(node, key, {"command", "webhook", "action", "dry_run", "max_per_hour", "timeout"})
    if sum(k in m for k in ("command", "webhook", "action")) != 1:
        raise r.fail(node, key, "give exactly one of 'command', 'webhook' or 'action'")
    action = r.string(m["action"], f"{key}.action") if "action" in m else None
    if action is not None and action not in RECOVERY_ACTIONS:
        raise r.fail(
            m["action"],
            f"{key}.action",
            f"unknown action {action!r} (one of {', '.join(RECOVERY_ACTIONS)})",
        )
    command: tuple[str, ...] = ()
    if "command" in m:
        try:
            command = tuple(shlex.split(r.string(m["command"], f"{key}.command")))
        except ValueError as exc:
            raise r.fail(m["command"], f"{key}.command", f"cannot split: {exc}") from None
    return Recovery(
        command=command,
        webhook=r.url(m["webhook"], f"{key}.webhook") if "webhook" in m else None,
        action=action,
        dry_run=r.boolean(m["dry_run"], f"{key}.dry_run") if "dry_run" in m else True,
        max_per_hour=r.integer(m["max_per_hour"], f"{key}.max_per_hour", positive=True)
        if "max_per_hour" in m
        else 3,
        timeout=r.duration(m["timeout"], f"{key}.timeout") if "timeout" in m else 30.0,
    )


def _scalar_value(r: Reader, node: Node, key: str) -> Any:
    if isinstance(node.value, dict | list):
        raise r.fail(node, key, "must be a plain value (string, number, true/false)")
    return node.value


# --------------------------------------------------------------------------- entry points


def data_dir(config: Config) -> Path:
    """Where the monitor keeps its files: --data-dir / storage.data_dir, else
    $XDG_STATE_HOME/devmentor-monitor (~/.local/state/devmentor-monitor)."""
    if config.data_dir:
        return Path(config.data_dir)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "devmentor-monitor"


def config_path(explicit: str | None, env: Mapping[str, str]) -> Path:
    """The file to read: --config, then SERVICES_CONFIG, then the shipped default."""
    if explicit:
        return Path(explicit)
    if env.get("SERVICES_CONFIG"):
        return Path(env["SERVICES_CONFIG"])
    return DEFAULT_CONFIG


def load_config(
    path: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    *,
    host: str | None = None,
    port: int | None = None,
) -> Config:
    """Read, expand, validate and override. Raises ConfigError on any problem."""
    env = os.environ if env is None else env
    file = config_path(str(path) if path else None, env)
    source = str(file)
    text = _read(file, source)
    # The port is known before expansion, so ${MONITORING_PORT} in URLs follows --port.
    variables = dict(env)
    if "MONITORING_PORT" in env:  # checked before it lands in a URL and is blamed there
        env_int("MONITORING_PORT", env["MONITORING_PORT"], 1, 65535)
    if port is not None:
        variables["MONITORING_PORT"] = str(port)
    cfg = _parse(load_yaml(expand(text, variables, source), source), source)
    cfg = apply_environment(cfg, env)
    flags: list[str] = []
    if host is not None:
        cfg = replace(cfg, server=replace(cfg.server, host=host))
        flags.append("flag --host")
    if port is not None:
        cfg = replace(cfg, server=replace(cfg.server, port=port))
        flags.append("flag --port")
    try:
        active_channels(cfg.notifications, cfg.alert_channels)
    except ValueError as exc:
        origin = "environment ALERT_CHANNELS" if "ALERT_CHANNELS" in env else source
        raise ConfigError(
            origin, None, "" if "ALERT_CHANNELS" in env else "alerts.channels", str(exc)
        ) from None
    return replace(cfg, overrides=cfg.overrides + tuple(flags))


def _read(file: Path, source: str) -> str:
    """The file's text, read no further than the size limit (it may be /dev/zero)."""
    try:
        with file.open("rb") as f:
            raw = f.read(MAX_BYTES + 1)
        if len(raw) > MAX_BYTES:
            raise ConfigError(source, None, "", f"too large: over {MAX_BYTES:,} bytes")
        return raw.decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(source, None, "", "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(source, None, "", f"cannot read: {exc}") from None


def parse_text(text: str, source: str = "<text>") -> Config:
    """Validate YAML text alone (no environment); used by tests and `config check`."""
    return _parse(load_yaml(text, source), source)


__all__ = ["SLO", "Config", "ConfigError", "Level", "ServiceConfig", "load_config", "parse_text"]
