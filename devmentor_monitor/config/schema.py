"""services.yaml + environment + CLI flags → one typed, validated Config.

Precedence: the file, then the environment variables the platform documents,
then command-line flags. Every error names the file (or variable), the line
and the key, so `devmentor-monitor` can stop with one clear sentence per problem;
a file's problems are all reported at once (up to MAX_ERRORS), not one per run.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, cast, get_args
from urllib.parse import urlsplit

import msgspec
from msgspec import Meta
from msgspec.structs import replace

from devmentor_monitor.config.env import apply_environment, env_int
from devmentor_monitor.config.expand import expand
from devmentor_monitor.config.locate import locate_config
from devmentor_monitor.config.reader import (
    AnyDuration,
    Duration,
    Fields,
    NotInFile,
    Nullable,
    Percent,
    Positive,
    Reader,
    ScalarMap,
    StrMap,
    Url,
    choice,
    kind_of,
    read_struct,
    reads,
    show_value,
)
from devmentor_monitor.config.yaml_lines import MAX_BYTES, ConfigError, Node, load_yaml
from devmentor_monitor.incidents.silences import (
    Maintenance,
    Silence,
    compile_label_regex,
    matchers_from,
    parse_clock,
    parse_instant,
    time_zone,
)
from devmentor_monitor.notify.settings import NotifySettings, active_channels, parse_notifications
from devmentor_monitor.scrape.model import Selector, parse_selector
from devmentor_monitor.units import format_duration

INHERITED_TIMEOUT_SHARE = 0.8  # an inherited timeout is cut to this share of the interval

MAX_HISTORY_POINTS = 1_000_000
_SHOWN = "must be one of {choices}, not {value!r}"
Points = Annotated[int, Meta(ge=2, le=MAX_HISTORY_POINTS)]
Port = Annotated[int, Meta(ge=1, le=65535)]
Rate = Annotated[float, Meta(ge=0, le=1_000_000)]  # per second; 0: no limit
Burst = Annotated[int, Meta(ge=1, le=1_000_000)]


class Section(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A section of services.yaml, declared once: its fields are the keys allowed, each
    field's type says how it is read (config/reader.read_struct) and its default what an
    absent key means."""


class Intervals(Section, frozen=True):
    health: Duration = 10.0
    """How often each service is checked (unless it sets its own interval)."""
    system: Duration = 5.0
    """How often host metrics are sampled."""
    processes: Duration = 15.0
    """How often the process list is read."""


class HealthSettings(Section, frozen=True):
    timeout: Duration = 5.0
    """A check's timeout, for every service without its own; below intervals.health."""
    failure_threshold: Positive = 3
    """Failed checks in a row before a service is down."""
    success_threshold: Positive = 1
    """Passed checks in a row before a down service is up again."""
    max_in_flight: Positive = 10
    """Health checks running at once."""


class Level(Section, frozen=True):
    """A warn / alert pair for one host threshold, in percent."""

    warn: Percent
    """Warn at or above this."""
    alert: Percent
    """Alert at or above this; not below warn."""


class LatencyLevel(Level, frozen=True):
    """A warn / alert pair for latency, as durations."""

    warn: Duration
    """Warn at or above this."""
    alert: Duration
    """Alert at or above this; not below warn."""


class Thresholds(Section, frozen=True):
    cpu: Level = Level(70, 80)
    """Host CPU, percent."""
    memory: Level = Level(80, 90)
    """Host memory, percent."""
    disk: Level = Level(75, 85)
    """Host disk, percent."""
    latency: LatencyLevel = LatencyLevel(0.050, 0.100)
    """A service's check latency."""


class SLO(Section, frozen=True):
    """Service-level objective; percentages as written in the platform docs."""

    uptime: Percent
    """Percent, e.g. 99.9."""
    response_time: Duration
    """Compared with p95 latency over 1 h."""
    error_rate: Percent
    """Percent of failed checks."""


RecoveryAction = Literal[
    "docker.restart", "docker.start", "kubernetes.restart", "kubernetes.scale-up"
]
RECOVERY_ACTIONS: tuple[str, ...] = get_args(RecoveryAction)


class Recovery(Section, frozen=True):
    """What to run when an incident opens for a service: a command, a webhook or an action
    (exactly one)."""

    command: Annotated[tuple[str, ...], Meta(extra={"read": "argv"})] = ()
    """Argv, split like a shell would; no shell involved."""
    webhook: Url | None = None
    """Called with a POST."""
    action: (
        Annotated[RecoveryAction, choice("unknown action {value!r} (one of {choices})")] | None
    ) = None
    """A container/cluster action."""
    dry_run: bool = True
    """The default: say what would run, run nothing."""
    max_per_hour: Positive = 3
    """Runs at most, per service and hour."""
    timeout: Duration = 30.0
    """A run is stopped after this long."""


MAX_SCRAPED_SERIES = 100_000
ScrapeCap = Annotated[int, Meta(ge=1, le=MAX_SCRAPED_SERIES)]


class MetricsScrape(Section, frozen=True):
    """A service's own Prometheus metrics (`services[].metrics`), scraped into history,
    the anomaly detector and alert rules (metric: scraped)."""

    url: Url
    """Its Prometheus text exposition, e.g. http://127.0.0.1:9100/metrics."""
    interval: Duration = 15.0
    """How often it is scraped."""
    timeout: Duration = 5.0
    """A scrape's timeout; below the interval (unwritten, it is cut to 80 % of it)."""
    include: Annotated[tuple[Selector, ...], Meta(extra={"read": "selectors"})] = ()
    """Series kept, as selectors: a name glob with optional label globs
    (`node_load*`, `node_filesystem_avail_bytes{mountpoint="/"}`); none: every series."""
    max_series: ScrapeCap | None = None
    """Series kept per scrape at most, the rest dropped (and said so); None: an equal
    share of what scrape.max_series leaves after the services that set theirs."""
    headers: StrMap = ()
    """Sent with every scrape (often credentials: config check masks them)."""


class Heartbeat(Section, frozen=True):
    """A job that cannot be probed says it is alive: POST /api/heartbeat/{name}."""

    grace: Duration
    """Down when no beat came for this long (since the last beat, or since start)."""


HTTP_ONLY = ("timeout", "expect", "tls_verify", "ca_file", "headers")  # no meaning for a beat


class ServiceConfig(Section, frozen=True):
    name: str
    """Unique: lower-case letters, digits, '-', '_' or '.'."""
    url: Url | None = None
    """The health endpoint checked; exactly one of url and heartbeat."""
    heartbeat: Heartbeat | None = None
    """Instead of a url: beats pushed to POST /api/heartbeat/{name}, each within grace."""
    interval: Duration = Intervals().health
    """Default: intervals.health."""
    timeout: Duration = HealthSettings().timeout
    """Default: health.timeout, cut to below the interval; below the interval."""
    expect_status: Annotated[tuple[int, ...], Meta(extra={"read": "status"})] = msgspec.field(
        default=(200,), name="expect.status"
    )
    """A status, or a list of them, counted as up."""
    expect_body: ScalarMap = msgspec.field(default=(), name="expect.body")
    """JSON path -> the value expected there."""
    depends_on: tuple[str, ...] = ()
    """Services this one needs (no cycles)."""
    group: str | None = None
    """A label (team, region, tier) the TUI's services table groups by, with counts."""
    slo: SLO | None = None
    """The service-level objective, if any."""
    failure_threshold: Positive = HealthSettings().failure_threshold
    """Default: health.failure_threshold."""
    success_threshold: Positive = HealthSettings().success_threshold
    """Default: health.success_threshold."""
    tls_verify: bool = True
    """Verify the server's certificate."""
    ca_file: str | None = None
    """A CA bundle to verify it with."""
    headers: StrMap = ()
    """Sent with every check (often credentials: config check masks them)."""
    recovery: Annotated[Recovery | None, Meta(extra={"read": "recovery"})] = None
    """What to run when an incident opens."""
    metrics: Annotated[MetricsScrape | None, Meta(extra={"read": "metrics"})] = None
    """Its own Prometheus metrics, scraped; None: not scraped."""


class History(Section, frozen=True):
    """Ring-buffer sizes: memory is bounded by these, whatever the run time."""

    system_points: Points = 17_280
    """Most host samples kept in memory per series: the last hour's (intervals.system
    sets how many), up to this; the 24 h charts read the history on disk."""
    service_points: Points = 8_640
    """Most latency samples kept in memory per service: its last hour of checks (its
    interval sets how many), up to this; the 24 h chart reads the history on disk."""
    recent_checks: Points = 50
    """Checks listed as recent per service."""


class ScrapeSettings(Section, frozen=True):
    """The `scrape:` section: bounds on what services' own metrics may add."""

    max_series: ScrapeCap = 5_000
    """Series kept per round of scrapes, over all services: each service's cap is its
    metrics.max_series or an equal share of this."""


def is_loopback(host: str) -> bool:
    """A bind only this machine can reach."""
    return host in ("localhost", "::1") or host.startswith("127.")


def is_self(url: str, cfg: Config) -> bool:
    """Whether ``url`` is this monitor's own exporter (the `monitoring` service)."""
    parts = urlsplit(url)
    return (
        parts.hostname in {cfg.server.host, "localhost", "127.0.0.1"}
        and parts.port == cfg.server.port
    )


class TlsSettings(Section, frozen=True):
    """The `server.tls:` section: HTTPS on the exporter's port (server/tls.py); the files
    are read again on SIGHUP. Paths are used as written, like a service's ca_file."""

    cert: str
    """PEM certificate, with its intermediates after it (--tls-cert)."""
    key: str
    """The certificate's PEM private key, unencrypted (--tls-key)."""
    client_ca: str | None = None
    """PEM CA bundle: set, every client must show a certificate it signed (mutual TLS)."""


class ServerSettings(Section, frozen=True):
    host: str = "127.0.0.1"
    """Address the HTTP API and /metrics listen on."""
    port: Port = 3006
    """Port the HTTP API and /metrics listen on (MONITORING_PORT, --port)."""
    metrics_cache: Duration = 1.0
    """Seconds a rendered /metrics body is reused."""
    tls: TlsSettings | None = None
    """HTTPS on the port; None: plain HTTP."""
    require_tls: bool = False
    """Refuse to start bound off loopback without tls (rather than warn)."""
    read_only: bool = False
    """Refuse every write and action, from the API (403) and the TUI (--read-only): for a
    shared screen."""


class ClusterSettings(Section, frozen=True):
    """The `cluster:` section: several instances as one fleet through Redis (cluster/)."""

    enabled: bool = False
    """Join the fleet: the checks are split between the live instances, results shared,
    one leader. Needs redis.url."""
    id: str | None = None
    """This instance's name in the fleet; none: <hostname>-<pid>."""
    advertise: Url | None = None
    """The URL other instances and the load balancer reach this instance's API at; none:
    http://<server.host>:<server.port>."""
    heartbeat: Duration = 2.0
    """How often the instance says it is alive; it is gone after three missed beats."""
    lease: Duration = 10.0
    """The leader's lease, renewed at a third of it; a dead leader is replaced within it."""


class Retention(Section, frozen=True):
    """How long stored data is kept."""

    events: Duration = 7 * 86400.0
    """Stored events."""
    metrics: Duration = 30 * 86400.0
    """The history's 1-hour rollups in history.db (METRICS_RETENTION); raw samples are
    kept 24 h and 1-minute rollups 7 d whatever this says."""
    incidents: Duration = 90 * 86400.0
    """Resolved incidents, their timelines and the audit."""


class CustomMetrics(Section, frozen=True):
    """Caps on what POST /api/metrics may create: memory and /metrics stay bounded whatever
    a client sends. A push over a cap is refused (422) with the cap's name."""

    max_series: Annotated[int, Meta(ge=1, le=100_000)] = 1000
    """Distinct series (name and labels) held at once."""
    max_labels: Annotated[int, Meta(ge=0, le=64)] = 10
    """Labels on one sample."""
    max_values_per_label: Annotated[int, Meta(ge=1, le=100_000)] = 100
    """Distinct values of one label name, per metric name."""
    expire: Duration = 86400.0
    """A series not pushed for this long leaves /metrics and frees its place (history
    keeps it)."""


class Scaling(Section, frozen=True):
    enabled: bool = False
    """Whether scaling advice is given."""
    min_replicas: Positive = 1
    """Fewest replicas advised."""
    max_replicas: Positive = 10
    """Most replicas advised; not below min_replicas."""


class PredictionSettings(Section, frozen=True):
    """The `predictions:` section: live anomaly detection, forecasts, advice, root causes."""

    enabled: bool = True
    """Whether the prediction engine runs."""
    interval: Duration = 1.0
    """The engine's tick; every stored sample is fed, however many."""
    warmup: Annotated[int, Meta(ge=10, le=100_000)] = 150
    """Samples a live series only learns from (its scores are 0)."""
    forecast_every: Duration = 10.0
    """Trend fits: disk, memory, leaks, error budgets, advice."""
    forecast_window: Duration = 1800.0
    """How far back the trend fits look."""
    min_span: Duration = 300.0
    """A fit needs at least this much history to be shown."""
    max_series: Annotated[int, Meta(ge=1, le=100_000)] = 10_000
    """Series watched at most (event types add series at run time); each costs ~2.5 KB
    and ~13 us of the engine's CPU per sample (bench/detector_cost.py)."""
    max_scraped: Annotated[int, Meta(ge=0, le=100_000)] = 5_000
    """Of those, scraped series watched at most (0: none), so a large scrape cannot
    crowd out host and service series."""


class DockerSettings(Section, frozen=True):
    """The `docker:` section; a section present (or DOCKER_HOST set) enables the source."""

    enabled: bool = False
    """Whether the Docker source runs; true when the section is written."""
    host: str | None = None
    """None: DOCKER_HOST, else the SDK's default socket."""
    interval: Duration = 5.0
    """How often containers are listed."""
    timeout: Duration = 5.0
    """Every SDK call, bounded."""
    containers: StrMap = ()
    """Service -> container name (else discovery)."""
    log_lines: Annotated[int, Meta(ge=1, le=10_000)] = 50
    """Log lines fetched for a container."""


class KubeSettings(Section, frozen=True):
    """The `kubernetes:` section; a section present (or running in a pod) enables it."""

    enabled: bool = False
    """Whether the Kubernetes source runs; true when the section is written."""
    kubeconfig: str | None = None
    """None: KUBECONFIG or ~/.kube/config."""
    context: str | None = None
    """The kubeconfig context; None: its current one."""
    in_cluster: bool = False
    """Use the pod's service account."""
    namespace: str = "devmentor"
    """The namespace watched."""
    interval: Duration = 15.0
    """Deployments, nodes, events are listed this often."""
    timeout: Duration = 10.0
    """Every API call, bounded."""
    watch_timeout: Duration = 60.0
    """A pod watch is reopened (from its resourceVersion) this often."""
    selectors: StrMap = ()
    """Service -> label selector; default app=<name>."""


EventSeverity = Literal["info", "warning", "error", "critical"]
EVENT_SEVERITIES: tuple[str, ...] = get_args(EventSeverity)
Severity = Literal["low", "medium", "high", "critical"]
SEVERITIES: tuple[str, ...] = get_args(Severity)


class EventRule(Section, frozen=True):
    """`events.rules`: an event of this type (prefix) and severity opens an incident."""

    name: str
    """Unique among the rules."""
    type: str
    """A type prefix: "deploy.failed", "security."."""
    min_severity: EventSeverity = "error"
    """The least severe event that opens one."""
    services: tuple[str, ...] | None = None
    """Only events about these services; None: any."""
    severity: Severity = "high"
    """Of the incident."""


class EventSettings(Section, frozen=True):
    """The `events:` section: where platform events come from and where incidents go."""

    channels: tuple[str, ...] = ("devmentor:events",)
    """Pub/sub channels subscribed to."""
    patterns: tuple[str, ...] = ("devmentor:*",)
    """Pub/sub patterns subscribed to."""
    mode: Annotated[Literal["pubsub", "stream"], choice(_SHOWN)] = "pubsub"
    """Or "stream": durable, resumes from the consumer group's last id."""
    stream: str = "devmentor:events:stream"
    """The stream read in stream mode."""
    group: str = "devmentor-monitor"
    """The consumer group in stream mode."""
    consumer: str | None = None
    """None: the host name (stable across restarts)."""
    publish_channel: str = "devmentor:incidents"
    """Where incidents are published."""
    max_bytes: Annotated[int, Meta(ge=256, le=16 << 20)] = 64 * 1024
    """Larger events are dropped."""
    memory: Annotated[int, Meta(ge=10, le=1_000_000)] = 10_000
    """Events kept in memory for the views and the API."""
    parser: Annotated[Literal["auto", "python", "hiredis"], choice(_SHOWN)] = "auto"
    """auto (hiredis when installed), python, hiredis."""
    rules: tuple[EventRule, ...] = ()
    """Events that open incidents."""


Role = Literal["viewer", "operator", "admin"]
ROLES: tuple[str, ...] = get_args(Role)


class ApiKey(Section, frozen=True):
    """A named key with a role; the key itself is never shown (config check masks it)."""

    name: str
    """Names the key in the audit."""
    key: Annotated[str, Meta(extra={"read": "api_key"})]
    """At least 16 characters."""
    role: Role
    """What the key may do."""

    def __repr__(self) -> str:
        return f"ApiKey(name={self.name!r}, role={self.role!r})"


class RuleConfig(Section, frozen=True):
    """An alert rule as written in `alerts.rules` (incidents/rules.py makes it a Rule)."""

    name: str
    """Unique among the rules."""
    metric: str
    """One of RULE_METRICS."""
    above: Annotated[bool, NotInFile]
    """Written as the key: `above: X` fires above X, `below: X` below it."""
    threshold: Annotated[float, NotInFile]
    """The X: a number, or a duration for latency and the *_s metrics."""
    clear: float | None = None
    """Resolves past this (read like the threshold); None: at the threshold."""
    for_s: AnyDuration = msgspec.field(default=0.0, name="for")
    """The condition must hold this long."""
    severity: Severity = "high"
    """Of the incident."""
    services: tuple[str, ...] | None = None
    """Only these services; None: all (for metric scraped: all that declare metrics)."""
    series: Annotated[Selector | None, Meta(extra={"read": "selector"})] = None
    """For metric scraped (and only then): the scraped series watched, as a selector
    (`node_load1`, `node_filesystem_avail_bytes{mountpoint="/"}`); each match is one alert."""


class TuiSettings(Section, frozen=True):
    theme: str = "dark"
    """The colour theme."""
    refresh: Duration = 1.0
    """The screen is redrawn at most once per this many seconds."""
    keys: StrMap = ()
    """Binding id -> key(s), e.g. ("metrics", "M")."""
    chart_symbols: Literal["braille", "block", "ascii"] = "braille"
    """What charts draw with: braille dots, quadrant blocks (fonts without braille) or
    plain ASCII (terminals without box drawing)."""


# --------------------------------------------------------------------------- alerting


class FlappingSettings(Section, frozen=True):
    """`alerting.flapping`: Nagios' percent state change over the last `window` checks."""

    window: Annotated[int, Meta(ge=3, le=1000)] = 21
    """Check results looked at (their transitions are weighted 0.8 oldest … 1.2 newest)."""
    high: Annotated[float, Meta(ge=0, le=1)] = 0.3
    """Starts flapping above this share of weighted state changes (0 … 1)."""
    low: Annotated[float, Meta(ge=0, le=1)] = 0.1
    """Stops flapping below this share; below high (hysteresis)."""
    min_checks: Annotated[int, Meta(ge=2, le=1000)] = 10
    """Results needed before a service can be flapping; at most window."""
    severity: Severity = "medium"
    """Of the flapping signal."""


MAX_BURN_WINDOW = 7 * 86400.0  # the check counters keep a week (rings.WindowCounter)
MIN_BURN_WINDOW = 60.0  # ... in minute buckets: a shorter window is one bucket anyway


class BurnPair(Section, frozen=True):
    """`alerting.burn_rate.pairs[]`: a long and a short window that must both burn faster
    than `factor` (Google SRE workbook, multiwindow multi-burn-rate alerts). Each pair
    makes the rule burn_rate_<name> on the metric burn_<name>."""

    name: str
    """Unique among the pairs: fast makes the rule burn_rate_fast."""
    factor: Annotated[float, Meta(gt=0)]
    """Burn rate both windows must exceed; 1 spends the budget exactly over the SLO
    period, 14.4 spends 2 % of a 30-day budget in one hour."""
    long: Duration
    """The long window: the burn is significant (1m … 7d)."""
    short: Duration
    """The short window, below long: the burn still goes on; it resets the alert soon
    after the errors stop."""
    severity: Severity = "high"
    """Of the alert."""


DEFAULT_BURN_PAIRS = (
    BurnPair("fast", 14.4, 3600.0, 300.0, "critical"),
    BurnPair("slow", 6.0, 6 * 3600.0, 1800.0, "high"),
)

BurnPairs = Annotated[tuple[BurnPair, ...], Meta(extra={"read": "burn_pairs"})]


class BurnRateSettings(Section, frozen=True):
    """`alerting.burn_rate`: error-budget burn alerts on every service with an SLO."""

    pairs: BurnPairs = DEFAULT_BURN_PAIRS
    """The window pairs; default fast (14.4x over 1h and 5m, critical) and slow (6x over
    6h and 30m, high). An empty list turns burn-rate alerts off."""
    min_coverage: Annotated[float, Meta(ge=0, le=1)] = 0.25
    """A window is evaluated only once the service's checks span this share of it (0 … 1):
    0.25 keeps a long window at least 3x its short one (1h/5m, 6h/30m) from start-up on."""
    min_checks: Annotated[int, Meta(ge=1, le=100_000)] = 10
    """... and once it holds at least this many checks (one failure in 3 is no burn
    rate); a service checked less often than window/min_checks is not evaluated on it."""


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[str, ...] = get_args(Weekday)
LabelRegexes = Annotated[StrMap, Meta(extra={"read": "label_regexes"})]
"""Label name -> an anchored regex (re.fullmatch), checked when read."""


class MaintenanceOnce(Section, frozen=True):
    """`at:` a one-off maintenance window."""

    start: Annotated[float, Meta(extra={"read": "instant"})]
    """An ISO date-time with its UTC offset: 2026-03-01T02:00:00Z."""
    end: Annotated[float, Meta(extra={"read": "instant"})]
    """Likewise; after start."""


class MaintenanceEvery(Section, frozen=True):
    """`every:` a recurring maintenance window."""

    from_: Annotated[int, Meta(extra={"read": "clock"})] = msgspec.field(name="from")
    """Opens at this time of day, "HH:MM" (minutes after midnight once read)."""
    to: Annotated[int, Meta(extra={"read": "clock"})]
    """Closes at this time of day; at or before from: on the next day."""
    days: Annotated[tuple[str, ...], Meta(extra={"read": "weekdays"})] = WEEKDAYS
    """The days it opens on: mon … sun; default every day."""
    tz: Annotated[str, Meta(extra={"read": "tz"})] = "UTC"
    """The IANA time zone the times are in: Europe/Paris."""


class MaintenanceWindow(Section, frozen=True):
    """`alerting.maintenance[]`: matching alerts are silenced while it is open."""

    name: str
    """Unique among the windows; the silence is made by "maintenance:<name>"."""
    match: StrMap = ()
    """Label -> value the alert must have: service: auth."""
    match_re: LabelRegexes = ()
    """Label -> anchored regex the value must match."""
    at: MaintenanceOnce | None = None
    """A one-off window (give at or every)."""
    every: MaintenanceEvery | None = None
    """A recurring window (give at or every)."""


class RouteConfig(Section, frozen=True):
    """`alerting.route` and its `routes`: the routing tree (notify/routes.py). A setting
    left out is inherited from the parent route."""

    match: StrMap = ()
    """Label -> value the alert must have: severity: critical (not on the root)."""
    match_re: LabelRegexes = ()
    """Label -> anchored regex the value must match (not on the root)."""
    channels: tuple[str, ...] | None = None
    """notifications.channels names; the root's default: every active channel."""
    continue_: bool = msgspec.field(default=False, name="continue")
    """Also try the next sibling routes after this one matched (not on the root)."""
    group_by: tuple[str, ...] | None = None
    """Labels whose values make one group, one incident (service, rule, severity, kind);
    root only, default [service]."""
    group_wait: AnyDuration | None = None
    """Wait before a group's first notification; root default 5s."""
    group_interval: Duration | None = None
    """Wait before notifying a group's later changes; root default 1m."""
    repeat_interval: AnyDuration | None = None
    """Re-send an unchanged open group this often; root default 0 (never)."""
    routes: Annotated[tuple[RouteConfig, ...], Meta(extra={"read": "routes"})] = ()
    """Child routes, tried in order."""


class AlertingSettings(Section, frozen=True):
    """The `alerting:` section."""

    burn_rate: BurnRateSettings = BurnRateSettings()
    """Multiwindow, multi-burn-rate alerts."""
    flapping: FlappingSettings = FlappingSettings()
    """Flap detection."""
    maintenance: tuple[MaintenanceWindow, ...] = ()
    """Maintenance windows: virtual silences."""
    route: RouteConfig | None = None
    """The routing tree; None: every active channel gets every alert."""


class Config(Section, frozen=True):
    """The whole of services.yaml; a dotted name is a key one mapping down."""

    source: Annotated[str, NotInFile]
    """The file read."""
    server: ServerSettings = ServerSettings()
    intervals: Intervals = Intervals()
    thresholds: Thresholds = Thresholds()
    health: HealthSettings = HealthSettings()
    history: History = History()
    retention: Retention = Retention()
    scaling: Scaling = Scaling()
    custom_metrics: CustomMetrics = CustomMetrics()
    """Caps on pushed metrics (POST /api/metrics)."""
    predictions: PredictionSettings = PredictionSettings()
    scrape: ScrapeSettings = ScrapeSettings()
    tui: TuiSettings = TuiSettings()
    api_keys: tuple[ApiKey, ...] = msgspec.field(default=(), name="auth.keys")
    """API keys and their roles (more are managed with /api/keys and `keys`)."""
    anonymous_read: bool = msgspec.field(default=False, name="auth.anonymous_read")
    """Reads open to anyone even off loopback (logged as a warning at start)."""
    scrape_token: Annotated[str | None, Meta(extra={"read": "api_key"}), Nullable] = msgspec.field(
        default=None, name="auth.scrape_token"
    )
    """A token accepted on /metrics only (Prometheus `authorization`); 16+ characters."""
    session_secret: Annotated[str | None, Meta(extra={"read": "api_key"}), Nullable] = (
        msgspec.field(default=None, name="auth.session_secret")
    )
    """Signs dashboard sessions (JWT); none: random per process (DEVMENTOR_SESSION_SECRET)."""
    session_ttl: Annotated[Duration, Meta(ge=5, le=86400)] = msgspec.field(
        default=900.0, name="auth.session_ttl"
    )
    """How long a dashboard session lasts (5s-24h)."""
    write_rate: Rate = msgspec.field(default=20.0, name="auth.write_rate")
    """Writes and actions a second per API key (token bucket); past it a 429 with
    Retry-After. 0: no limit."""
    write_burst: Burst = msgspec.field(default=40, name="auth.write_burst")
    """Writes one API key may make at once before auth.write_rate applies."""
    push_rate: Rate = msgspec.field(default=200.0, name="auth.push_rate")
    """Pushes (POST /api/metrics, heartbeats) a second per API key; 0: no limit."""
    push_burst: Burst = msgspec.field(default=400, name="auth.push_burst")
    """Pushes one API key may make at once before auth.push_rate applies."""
    rules: tuple[RuleConfig, ...] | None = msgspec.field(default=None, name="alerts.rules")
    """None: the built-in rules."""
    disabled_rules: tuple[str, ...] = msgspec.field(default=(), name="alerts.disable")
    """Built-in rules turned off, by name."""
    data_dir: str | None = msgspec.field(default=None, name="storage.data_dir")
    """None: $XDG_STATE_HOME/devmentor-monitor."""
    storage_url: Annotated[
        str | None,
        Meta(extra={"read": "url", "schemes": ("postgresql", "postgres")}),
        Nullable,
    ] = msgspec.field(default=None, name="storage.url")
    """A PostgreSQL database several instances share (DATABASE_URL); None: SQLite in the
    data dir. A password in it is a secret: masked wherever the URL is shown."""
    notifications: NotifySettings = NotifySettings()
    redis_url: Annotated[
        str | None, Meta(extra={"read": "url", "schemes": ("redis", "rediss", "unix")}), Nullable
    ] = msgspec.field(default=None, name="redis.url")
    """Where events come from; None: no event source."""
    cluster: ClusterSettings = ClusterSettings()
    """Several instances as one fleet through Redis (cluster/)."""
    events: EventSettings = EventSettings()
    auto_discover: bool = msgspec.field(default=False, name="discovery.auto")
    """Find services on the host without listing them."""
    docker: DockerSettings = DockerSettings()
    kubernetes: KubeSettings = KubeSettings()
    alert_channels: tuple[str, ...] = msgspec.field(default=(), name="alerts.channels")
    """Notification channels used (names or types); none: all."""
    alerting: AlertingSettings = AlertingSettings()
    """Burn rates, flapping, maintenance windows and the route tree."""
    services: tuple[ServiceConfig, ...] = ()
    overrides: Annotated[tuple[str, ...], NotInFile] = ()
    """What the environment and flags changed: "MONITORING_PORT=3010", "--port"."""
    found_by: Annotated[str, NotInFile] = ""
    """Which step of the lookup order chose the file (config/locate.py)."""

    def service(self, name: str) -> ServiceConfig | None:
        return next((s for s in self.services if s.name == name), None)


# --------------------------------------------------------------------------- reading


def _parse(root: Node, source: str) -> Config:
    """Read every section; all the problems found are raised together at the end."""
    r = Reader(source, collect=True)
    return r.done(r.attempt(lambda: _config(r, root, source), None))


def _config(r: Reader, root: Node, source: str) -> Config:
    """Each section's problems are noted on their own, and it reads as its defaults."""
    top = Fields(r, Config, root if root.value is not None else Node({}, 1), "")

    def section(name: str, read: Callable[[Node | None], Any] | None = None) -> Any:
        default = top.fields[name].default
        if read is None and isinstance(default, msgspec.Struct):
            return r.attempt(lambda: read_struct(r, type(default), top.node(name), name), default)
        if read is None:
            return r.attempt(lambda: top.read(name), default)
        return r.attempt(lambda: read(top.node(name)), default)

    intervals: Intervals = section("intervals")
    health: HealthSettings = section("health", lambda n: _health(r, n, intervals))
    no_services: tuple[tuple[ServiceConfig, ...], set[str]] = ((), set())
    services, names = r.attempt(
        lambda: _services(r, top.node("services"), intervals, health), no_services
    )
    noted = len(r.errors)
    notifications: NotifySettings = section("notifications", lambda n: parse_notifications(r, n))
    channel_names = {c.name for c in notifications.channels} if len(r.errors) == noted else None
    alerting: AlertingSettings = section("alerting", lambda n: _alerting(r, n, channel_names))
    metrics = rule_metrics(alerting.burn_rate)
    scrape: ScrapeSettings = section("scrape")
    scrape_node = top.node("scrape")
    if scrape_node is not None and isinstance(scrape_node.value, dict):
        scrape_node = scrape_node.value.get("max_series", scrape_node)
    services = r.attempt(lambda: _scrape_caps(r, services, scrape, scrape_node), services)
    scraping = {s.name for s in services if s.metrics is not None}
    return Config(
        source=source,
        server=section("server"),
        intervals=intervals,
        thresholds=section("thresholds", lambda n: _thresholds(r, n)),
        health=health,
        history=section("history"),
        retention=section("retention"),
        scaling=section("scaling", lambda n: _scaling(r, n)),
        custom_metrics=section("custom_metrics"),
        tui=section("tui"),
        redis_url=section("redis_url"),
        cluster=section("cluster", lambda n: _cluster(r, n)),
        events=section("events", lambda n: _events(r, n)),
        auto_discover=section("auto_discover"),
        alert_channels=section("alert_channels"),
        services=services,
        api_keys=section("api_keys", lambda n: _named(r, n, "auth.keys", "key", ApiKey)),
        anonymous_read=section("anonymous_read"),
        scrape_token=section("scrape_token"),
        session_secret=section("session_secret"),
        session_ttl=section("session_ttl"),
        write_rate=section("write_rate"),
        write_burst=section("write_burst"),
        push_rate=section("push_rate"),
        push_burst=section("push_burst"),
        rules=section("rules", lambda n: None if n is None else _rules(r, n, metrics, scraping)),
        disabled_rules=section("disabled_rules"),
        data_dir=section("data_dir"),
        storage_url=section("storage_url"),
        notifications=notifications,
        docker=section("docker", lambda n: _workloads(r, n, DockerSettings, "containers", names)),
        kubernetes=section(
            "kubernetes", lambda n: _workloads(r, n, KubeSettings, "selectors", names)
        ),
        predictions=section("predictions"),
        scrape=scrape,
        alerting=alerting,
    )


def _thresholds(r: Reader, node: Node | None) -> Thresholds:
    """Each level's problem is noted on its own; that level keeps its default."""
    f = Fields(r, Thresholds, node, "thresholds")
    d = Thresholds()
    levels = {
        name: r.attempt(partial(_level, r, name, child, getattr(d, name)), getattr(d, name))
        for name in f.fields
        if (child := f.node(name)) is not None
    }
    return Thresholds(**levels)


def _level(r: Reader, name: str, node: Node, default: Level) -> Level:
    r.mapping(node, f"thresholds.{name}", None)
    level = read_struct(
        r, type(default), node, f"thresholds.{name}", defaults=msgspec.structs.asdict(default)
    )
    if level.warn > level.alert:
        raise r.fail(
            node, f"thresholds.{name}", f"warn ({level.warn:g}) is above alert ({level.alert:g})"
        )
    return level


def _health(r: Reader, node: Node | None, intervals: Intervals) -> HealthSettings:
    health = read_struct(r, HealthSettings, node, "health")
    written = node.value.get("timeout") if node is not None and node.value else None
    if written is not None and health.timeout >= intervals.health:  # inherited by services
        raise r.fail(
            written,
            "health.timeout",
            f"must be shorter than intervals.health ({intervals.health:g}s), "
            f"got {show_value(written.value)}",
        )
    return health


def _scaling(r: Reader, node: Node | None) -> Scaling:
    scaling = read_struct(r, Scaling, node, "scaling")
    if scaling.min_replicas > scaling.max_replicas:
        raise r.fail(node, "scaling", "min_replicas is above max_replicas")
    return scaling


W = TypeVar("W", DockerSettings, KubeSettings)


def _workloads(
    r: Reader, node: Node | None, cls: type[W], service_map: str, services: set[str]
) -> W:
    """docker / kubernetes: a section written is enabled unless it says otherwise; its
    map of service names (containers, selectors) names only known services."""
    if node is None:
        return cls()
    section = "docker" if cls is DockerSettings else "kubernetes"
    settings = read_struct(r, cls, node, section, defaults={"enabled": True})
    written = node.value.get(service_map) if isinstance(node.value, dict) else None
    for name, child in written.value.items() if written is not None else ():
        if name not in services:
            raise r.fail(child, f"{section}.{service_map}.{name}", f"unknown service {name!r}")
    return settings


CLUSTER_ID = re.compile(r"[A-Za-z0-9._:@-]{1,100}")


def _cluster(r: Reader, node: Node | None) -> ClusterSettings:
    """cluster.id: a short name without spaces; the lease outlasts two beats (it is
    renewed at a third of itself, and a beat must see a leader change in time)."""
    c = read_struct(r, ClusterSettings, node, "cluster")
    keys = node.value if node is not None and isinstance(node.value, dict) else {}
    if c.id is not None and not CLUSTER_ID.fullmatch(c.id):
        raise r.fail(
            keys.get("id", node),
            "cluster.id",
            f"letters, digits and ._:@- only, 1-100, not {c.id!r}",
        )
    if c.heartbeat < 0.05:
        raise r.fail(keys.get("heartbeat", node), "cluster.heartbeat", "must be 50ms or more")
    if c.lease < 2 * c.heartbeat:
        raise r.fail(
            keys.get("lease", node),
            "cluster.lease",
            f"must be at least twice cluster.heartbeat ({c.heartbeat:g}s), got {c.lease:g}s",
        )
    return c


def _events(r: Reader, node: Node | None) -> EventSettings:
    s = {} if node is None or node.value is None else r.mapping(node, "events", None)
    rules = _named(r, s.get("rules"), "events.rules", "rule", EventRule)
    return read_struct(r, EventSettings, node, "events", rules=rules)


N = TypeVar("N", EventRule, ApiKey)


def _named(r: Reader, node: Node | None, section: str, what: str, cls: type[N]) -> tuple[N, ...]:
    """A list of named entries, each read by its declaration; each one's problem is noted
    on its own."""
    out: list[N] = []
    for name, key, item, _ in r.named_items(node, section, what):
        missing = "missing {}" if cls is ApiKey else "missing required key '{}'"
        with r.noting():
            out.append(read_struct(r, cls, item, key, missing=missing, name=name))
    return tuple(out)


@reads("api_key")
def _api_key(r: Reader, node: Node, key: str, meta: Meta, extra: dict[str, Any]) -> str:
    secret = r.string(node, key)
    if len(secret) < 16:
        raise r.fail(
            node, key, "too short: use at least 16 characters (e.g. `openssl rand -hex 16`)"
        )
    return secret


@reads("argv")
def _argv(r: Reader, node: Node, key: str, meta: Meta, extra: dict[str, Any]) -> tuple[str, ...]:
    try:
        return tuple(shlex.split(r.string(node, key)))
    except ValueError as exc:
        raise r.fail(node, key, f"cannot split: {exc}") from None


@reads("status")
def _status(r: Reader, node: Node, key: str, meta: Meta, extra: dict[str, Any]) -> tuple[int, ...]:
    """An HTTP status, or a list of them."""
    items = node.value if isinstance(node.value, list) else [node]
    return tuple(r.integer(x, key, lo=100, hi=599) for x in items)


RULE_METRICS: tuple[str, ...] = (
    "down",
    "latency",
    "error_rate",
    "cert_days",
    "cpu",
    "memory",
    "disk",
    "load",
)
# Fed by the prediction engine (predictions/engine.py): seconds to exhaustion, anomaly score.
RULE_METRICS += ("disk_exhaustion_s", "memory_exhaustion_s", "budget_exhaustion_s", "anomaly_score")
SCRAPED = "scraped"  # a series scraped from a service's own metrics, named by `series`
RULE_METRICS += (SCRAPED,)


def burn_metric(pair: str) -> str:
    """The rule metric of a burn-rate pair: burn_fast for the pair fast."""
    return f"burn_{pair}"


def rule_metrics(burn: BurnRateSettings) -> tuple[str, ...]:
    """What a rule may watch: RULE_METRICS and one burn_<name> per configured pair."""
    return RULE_METRICS + tuple(burn_metric(p.name) for p in burn.pairs)


def _rules(
    r: Reader, node: Node, metrics: tuple[str, ...], scraping: set[str]
) -> tuple[RuleConfig, ...]:
    """``scraping``: the services that declare metrics (what a scraped rule may name)."""
    out: list[RuleConfig] = []
    for name, key, item, m in r.named_items(node, "alerts.rules", "rule"):
        with r.noting():
            out.append(_rule(r, name, key, item, m, metrics, scraping))
    return tuple(out)


def _rule(
    r: Reader,
    name: str,
    key: str,
    item: Node,
    m: dict[str, Node],
    metrics: tuple[str, ...],
    scraping: set[str],
) -> RuleConfig:
    f = Fields(r, RuleConfig, item, key, also=("above", "below"))
    if "metric" not in m:
        raise r.fail(item, key, "missing required key 'metric'")
    metric = r.string(m["metric"], f"{key}.metric")
    if metric not in metrics:
        raise r.fail(
            m["metric"],
            f"{key}.metric",
            f"unknown metric {metric!r} (one of {', '.join(metrics)})",
        )
    if ("above" in m) == ("below" in m):
        raise r.fail(item, key, "give exactly one of 'above' or 'below'")
    bound = "above" if "above" in m else "below"
    severity = f.read("severity")
    services = f.read("services")
    series = _rule_series(r, f, key, item, m, metric, services, scraping)
    read = r.duration if metric == "latency" or metric.endswith("_s") else r.number
    return RuleConfig(
        name=name,
        metric=metric,
        above=bound == "above",
        threshold=read(m[bound], f"{key}.{bound}"),
        clear=read(m["clear"], f"{key}.clear") if "clear" in m else None,
        for_s=f.read("for_s"),
        severity=severity,
        services=services,
        series=series,
    )


def _rule_series(
    r: Reader,
    f: Fields,
    key: str,
    item: Node,
    m: dict[str, Node],
    metric: str,
    services: tuple[str, ...] | None,
    scraping: set[str],
) -> Selector | None:
    """A scraped rule's `series` (required there, nowhere else), over services that
    declare metrics."""
    if metric != SCRAPED:
        if "series" in m:
            raise r.fail(m["series"], f"{key}.series", f"only for metric {SCRAPED}")
        return None
    if "series" not in m:
        raise r.fail(
            item, key, "missing required key 'series' (the scraped series, e.g. node_load1)"
        )
    for svc in services or ():
        if svc not in scraping:
            raise r.fail(
                m["services"],
                f"{key}.services",
                f"{svc!r} has no metrics: section, so nothing of it is scraped",
            )
    if services is None and not scraping:
        raise r.fail(m["metric"], f"{key}.metric", "no service declares metrics: to scrape")
    selector: Selector = f.read("series")
    return selector


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
        out.append(ApiKey(pieces[0], pieces[2], cast(Role, pieces[1])))
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
    def timing(_: Fields) -> dict[str, float]:
        _probe(r, key, item, m)
        interval, timeout = _timing(r, key, m, intervals, health)
        return {"interval": interval, "timeout": timeout}

    inherited = {
        # A heartbeat's grace is its tolerance already: one missed grace is down.
        "failure_threshold": 1 if "heartbeat" in m else health.failure_threshold,
        "success_threshold": health.success_threshold,
    }
    return read_struct(
        r,
        ServiceConfig,
        item,
        key,
        missing="missing required key '{}'",
        defaults=inherited,
        then=timing,
        name=name,
    )


def _probe(r: Reader, key: str, item: Node, m: dict[str, Node]) -> None:
    """Exactly one of url (checked over HTTP) and heartbeat (pushed); the HTTP settings
    only with a url."""
    if "url" in m and "heartbeat" in m:
        raise r.fail(
            m["heartbeat"], f"{key}.heartbeat", "give either 'url' or 'heartbeat', not both"
        )
    if "url" not in m and "heartbeat" not in m:
        name = key.rpartition(".")[2]
        raise r.fail(
            item,
            key,
            "missing required key 'url' (or 'heartbeat: {grace: 10m}' for a job that "
            f"pushes beats to POST /api/heartbeat/{name})",
        )
    if "heartbeat" in m:
        for field in HTTP_ONLY:
            if field in m:
                raise r.fail(
                    m[field], f"{key}.{field}", "only for a service with a url, not a heartbeat"
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


@reads("metrics")
def _metrics(r: Reader, node: Node, key: str, meta: Meta, extra: dict[str, Any]) -> MetricsScrape:
    """`metrics:` of a service; its timeout below its interval, as a check's is."""

    def timing(f: Fields) -> dict[str, float]:
        interval = f.read("interval")
        written = f.node("timeout")
        if written is None:
            return {"interval": interval, "timeout": min(f.read("timeout"), interval * 0.8)}
        timeout = r.duration(written, f"{key}.timeout")
        if timeout >= interval:
            raise r.fail(
                written,
                f"{key}.timeout",
                f"must be shorter than the interval ({interval:g}s), "
                f"got {show_value(written.value)}",
            )
        return {"interval": interval, "timeout": timeout}

    r.mapping(node, key, None)
    return read_struct(
        r, MetricsScrape, node, key, missing="missing required key '{}'", then=timing
    )


@reads("selectors")
def _selectors(
    r: Reader, node: Node, key: str, meta: Meta, extra: dict[str, Any]
) -> tuple[Selector, ...]:
    """A list of series selectors (scrape/model.py has the grammar)."""
    if not isinstance(node.value, list):
        raise r.fail(node, key, f"must be a list of selectors, got {kind_of(node.value)}")
    return tuple(_selector(r, item, f"{key}[{i}]") for i, item in enumerate(node.value))


@reads("selector")
def _read_selector(r: Reader, node: Node, key: str, meta: Meta, extra: dict[str, Any]) -> Selector:
    return _selector(r, node, key)


def _selector(r: Reader, node: Node, key: str) -> Selector:
    try:
        return parse_selector(r.string(node, key))
    except ValueError as exc:
        raise r.fail(node, key, str(exc)) from None


def _scrape_caps(
    r: Reader, services: tuple[ServiceConfig, ...], scrape: ScrapeSettings, node: Node | None
) -> tuple[ServiceConfig, ...]:
    """Each scraping service's series cap, fixed at start: its own metrics.max_series, or
    an equal share of what scrape.max_series leaves. The total never exceeds it."""
    scraping = [s for s in services if s.metrics is not None]
    own = {s.name: s.metrics.max_series for s in scraping if s.metrics and s.metrics.max_series}
    left = scrape.max_series - sum(own.values())
    shared = len(scraping) - len(own)
    if left < 0 or (shared and left < shared):
        given = ", ".join(f"{k} {v}" for k, v in own.items())
        raise r.fail(
            node,
            "scrape.max_series",
            f"{scrape.max_series} is too small: the services' own metrics.max_series take "
            f"{sum(own.values())} ({given})"
            + (f" and {shared} more services scrape too" if shared else ""),
        )
    share = left // shared if shared else 0
    out = []
    for svc in services:
        if svc.metrics is not None and svc.metrics.max_series is None:
            svc = replace(svc, metrics=replace(svc.metrics, max_series=share))
        out.append(svc)
    return tuple(out)


@reads("recovery")
def _recovery(r: Reader, node: Node, key: str, meta: Meta, extra: dict[str, Any]) -> Recovery:
    def one_of(f: Fields) -> dict[str, Any]:
        if sum(f.node(k) is not None for k in ("command", "webhook", "action")) != 1:
            raise r.fail(node, key, "give exactly one of 'command', 'webhook' or 'action'")
        return {}

    r.mapping(node, key, None)
    return read_struct(r, Recovery, node, key, then=one_of)


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


def _alerting(r: Reader, node: Node | None, channels: set[str] | None) -> AlertingSettings:
    """`alerting:`; each part's problem is noted on its own, and it keeps its default.
    ``channels``: the configured channel names (None: unknown, notifications is wrong)."""

    def parts(f: Fields) -> dict[str, Any]:
        no_windows: tuple[MaintenanceWindow, ...] = ()
        return {
            "flapping": r.attempt(partial(_flapping, r, f.node("flapping")), FlappingSettings()),
            "maintenance": r.attempt(partial(_maintenance, r, f.node("maintenance")), no_windows),
            "route": r.attempt(partial(_route, r, f.node("route"), channels), None),
            "burn_rate": r.attempt(partial(_burn_rate, r, f.node("burn_rate")), BurnRateSettings()),
        }

    if node is None or node.value is None:
        return AlertingSettings()
    return read_struct(r, AlertingSettings, node, "alerting", then=parts)


def _burn_rate(r: Reader, node: Node | None) -> BurnRateSettings:
    if node is None:
        return BurnRateSettings()
    r.mapping(node, "alerting.burn_rate", None)
    return read_struct(r, BurnRateSettings, node, "alerting.burn_rate")


@reads("burn_pairs")
def _burn_pairs(
    r: Reader, node: Node, key: str, meta: Meta, extra: dict[str, Any]
) -> tuple[BurnPair, ...]:
    """Each pair's problem is noted on its own."""
    out: list[BurnPair] = []
    for name, pair_key, item, m in r.named_items(node, key, "burn-rate pair"):
        with r.noting():
            out.append(_burn_pair(r, name, pair_key, item, m))
    return tuple(out)


def _burn_pair(r: Reader, name: str, key: str, item: Node, m: dict[str, Node]) -> BurnPair:
    p = read_struct(r, BurnPair, item, key, missing="missing required key '{}'", name=name)
    for window, seconds in (("long", p.long), ("short", p.short)):
        if not MIN_BURN_WINDOW <= seconds <= MAX_BURN_WINDOW:
            raise r.fail(
                m[window],
                f"{key}.{window}",
                f"must be between 1m and 7d (what the check counters keep), "
                f"got {format_duration(seconds)}",
            )
    if p.short >= p.long:
        raise r.fail(
            m["short"],
            f"{key}.short",
            f"must be shorter than long ({format_duration(p.long)}), "
            f"got {format_duration(p.short)}",
        )
    return p


def _route(r: Reader, node: Node | None, channels: set[str] | None) -> RouteConfig | None:
    if node is None or node.value is None:
        return None
    m = r.mapping(node, "alerting.route", None)
    for key in ("match", "match_re", "continue"):
        if key in m:
            raise r.fail(
                m[key],
                f"alerting.route.{key}",
                "the root route matches every alert; put it on one of its routes",
            )
    route = read_struct(r, RouteConfig, node, "alerting.route")
    if channels is not None:
        _check_route_channels(r, route, node, "alerting.route", channels)
    return route


def _check_route_channels(
    r: Reader, route: RouteConfig, node: Node, key: str, channels: set[str]
) -> None:
    """Every channel a route names is configured; the first one that is not raises."""
    m = node.value
    for i, name in enumerate(route.channels or ()):
        if name not in channels:
            known = ", ".join(sorted(channels)) or "none"
            raise r.fail(
                m["channels"].value[i],
                f"{key}.channels[{i}]",
                f"unknown channel {name!r} (notifications.channels configures: {known})",
            )
    for i, (child, child_node) in enumerate(
        zip(route.routes, m.get("routes", Node([], 0)).value, strict=False)
    ):
        _check_route_channels(r, child, child_node, f"{key}.routes[{i}]", channels)


@reads("routes")
def _routes(
    r: Reader, node: Node, key: str, meta: Meta, extra: dict[str, Any]
) -> tuple[RouteConfig, ...]:
    if not isinstance(node.value, list):
        raise r.fail(node, key, f"must be a list of routes, got {kind_of(node.value)}")
    out = []
    for i, item in enumerate(node.value):
        m = r.mapping(item, f"{key}[{i}]", None)
        if "group_by" in m:
            raise r.fail(
                m["group_by"],
                f"{key}[{i}].group_by",
                "grouping is one for all routes (an incident is one group): "
                "set group_by on alerting.route itself",
            )
        out.append(read_struct(r, RouteConfig, item, f"{key}[{i}]"))
    return tuple(out)


def _flapping(r: Reader, node: Node | None) -> FlappingSettings:
    if node is None:
        return FlappingSettings()
    r.mapping(node, "alerting.flapping", None)
    s = read_struct(r, FlappingSettings, node, "alerting.flapping")
    if s.low >= s.high:
        raise r.fail(node, "alerting.flapping", f"low ({s.low:g}) must be below high ({s.high:g})")
    if s.min_checks > s.window:
        raise r.fail(
            node,
            "alerting.flapping",
            f"min_checks ({s.min_checks}) must not exceed window ({s.window})",
        )
    return s


def _maintenance(r: Reader, node: Node | None) -> tuple[MaintenanceWindow, ...]:
    """Each window's problem is noted on its own."""
    out: list[MaintenanceWindow] = []
    for name, key, item, m in r.named_items(node, "alerting.maintenance", "maintenance window"):
        with r.noting():
            out.append(_maintenance_window(r, name, key, item, m))
    return tuple(out)


def _maintenance_window(
    r: Reader, name: str, key: str, item: Node, m: dict[str, Node]
) -> MaintenanceWindow:
    def checks(f: Fields) -> dict[str, Any]:
        if (f.node("at") is None) == (f.node("every") is None):
            raise r.fail(item, key, "give exactly one of 'at' or 'every'")
        if f.node("match") is None and f.node("match_re") is None:
            raise r.fail(item, key, "give 'match' or 'match_re': what the window silences")
        return {}

    w = read_struct(
        r, MaintenanceWindow, item, key, missing="missing required key '{}'", then=checks, name=name
    )
    if w.at is not None and w.at.end <= w.at.start:
        raise r.fail(m["at"], f"{key}.at", "end must be after start")
    if w.every is not None and w.every.from_ == w.every.to:
        raise r.fail(m["every"], f"{key}.every", "from and to must differ")
    try:
        Maintenance.from_config(w)
        Silence("check", matchers_from(w.match, w.match_re), 0.0, 1.0, "config", "", 0.0)
    except ValueError as exc:
        raise r.fail(item, key, str(exc)) from None
    return w


@reads("label_regexes")
def _label_regexes(
    r: Reader, node: Node, key: str, meta: Meta, extra: dict[str, Any]
) -> tuple[tuple[str, str], ...]:
    out = []
    for label, child in r.mapping(node, key, None).items():
        pattern = r.string(child, f"{key}.{label}")
        try:
            compile_label_regex(pattern)
        except ValueError as exc:
            raise r.fail(child, f"{key}.{label}", str(exc)) from None
        out.append((label, pattern))
    return tuple(out)


@reads("instant")
def _instant(r: Reader, node: Node, key: str, meta: Meta, extra: dict[str, Any]) -> float:
    try:
        return parse_instant(node.value)
    except ValueError as exc:
        raise r.fail(node, key, str(exc)) from None


@reads("clock")
def _clock(r: Reader, node: Node, key: str, meta: Meta, extra: dict[str, Any]) -> int:
    if isinstance(node.value, int) and not isinstance(node.value, bool):
        # YAML 1.1 reads an unquoted 02:00 as sexagesimal 120.
        raise r.fail(node, key, f'write the time of day in quotes: "HH:MM", got {node.value}')
    try:
        return parse_clock(r.string(node, key))
    except ValueError as exc:
        raise r.fail(node, key, str(exc)) from None


@reads("tz")
def _tz(r: Reader, node: Node, key: str, meta: Meta, extra: dict[str, Any]) -> str:
    name = r.string(node, key)
    try:
        time_zone(name)
    except (KeyError, ValueError):  # ZoneInfoNotFoundError is a KeyError
        raise r.fail(
            node, key, f"unknown time zone {name!r} (an IANA name: Europe/Paris)"
        ) from None
    return name


@reads("weekdays")
def _weekdays(
    r: Reader, node: Node, key: str, meta: Meta, extra: dict[str, Any]
) -> tuple[str, ...]:
    days = r.str_list(node, key) if isinstance(node.value, list) else (r.string(node, key),)
    for i, day in enumerate(days):
        if day.lower() not in WEEKDAYS:
            where = node.value[i] if isinstance(node.value, list) else node
            raise r.fail(
                where, f"{key}[{i}]", f"unknown day {day!r} (one of {', '.join(WEEKDAYS)})"
            )
    if not days:
        raise r.fail(node, key, "name at least one day")
    return tuple(d.lower() for d in days)


# --------------------------------------------------------------------------- entry points


def data_dir(config: Config) -> Path:
    """Where the monitor keeps its files: --data-dir / storage.data_dir, else
    $XDG_STATE_HOME/devmentor-monitor (~/.local/state/devmentor-monitor)."""
    if config.data_dir:
        return Path(config.data_dir)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "devmentor-monitor"


def load_config(
    path: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    *,
    host: str | None = None,
    port: int | None = None,
    read_only: bool = False,
) -> Config:
    """Read, expand, validate and override. Raises ConfigError on any problem."""
    env = os.environ if env is None else env
    located = locate_config(str(path) if path else None, env)
    file = located.path
    source = str(file)
    text = _read(file, source)
    # The port is known before expansion, so ${MONITORING_PORT} in URLs follows --port.
    variables = dict(env)
    if "MONITORING_PORT" in env:  # checked before it lands in a URL and is blamed there
        env_int("MONITORING_PORT", env["MONITORING_PORT"], 1, 65535)
    if port is not None:
        variables["MONITORING_PORT"] = str(port)
    root = load_yaml(expand(text, variables, source), source)
    cfg = _parse(root, source)
    cfg = apply_environment(cfg, env)
    if cfg.cluster.enabled and cfg.redis_url is None:  # REDIS_URL may have given it
        raise ConfigError(
            source,
            _line_of(root, "cluster", "enabled"),
            "cluster.enabled",
            "needs redis.url (or REDIS_URL): the fleet meets in Redis",
        )
    if cfg.cluster.enabled and not (cfg.storage_url or "").startswith(("postgresql:", "postgres:")):
        raise ConfigError(  # each instance's own file: /api/incidents would differ by instance
            source,
            _line_of(root, "cluster", "enabled"),
            "cluster.enabled",
            "needs a shared store: storage.url (or DATABASE_URL) postgresql://...",
        )
    flags: list[str] = []
    if host is not None:
        cfg = replace(cfg, server=replace(cfg.server, host=host))
        flags.append("flag --host")
    if port is not None:
        cfg = replace(cfg, server=replace(cfg.server, port=port))
        flags.append("flag --port")
    if read_only:
        cfg = replace(cfg, server=replace(cfg.server, read_only=True))
        flags.append("flag --read-only")
    try:
        active_channels(cfg.notifications, cfg.alert_channels)
    except ValueError as exc:
        origin = "environment ALERT_CHANNELS" if "ALERT_CHANNELS" in env else source
        raise ConfigError(
            origin, None, "" if "ALERT_CHANNELS" in env else "alerts.channels", str(exc)
        ) from None
    return replace(cfg, overrides=cfg.overrides + tuple(flags), found_by=located.found_by)


def _line_of(root: Node, *path: str) -> int | None:
    """The line of a key in the file (None: not written there)."""
    node: Node | None = root
    for part in path:
        if node is None or not isinstance(node.value, dict):
            return None
        node = node.value.get(part)
    return node.where if node is not None else None


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
