"""services.yaml + environment + flags → Config: the shipped file, every error, every override."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from devmentor_monitor.config.locate import packaged_config
from devmentor_monitor.config.schema import ConfigError, load_config

DEFAULT_CONFIG = packaged_config()


def write(tmp_path: Path, text: str, name: str = "services.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def config_error(path: Path, env: dict[str, str] | None = None, **flags) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(path, env={} if env is None else env, **flags)
    return info.value


# --------------------------------------------------------------------------- shipped file


def test_shipped_file_is_the_default_and_loads():
    assert DEFAULT_CONFIG.is_relative_to(Path(__file__).resolve().parents[2] / "devmentor_monitor")
    cfg = load_config(None, env={"XDG_CONFIG_HOME": "/nonexistent"})
    assert cfg.source == str(DEFAULT_CONFIG)
    assert cfg.found_by == "the packaged default"
    assert [s.name for s in cfg.services] == [
        "auth",
        "memory",
        "ai-gateway",
        "project",
        "monitoring",
    ]
    assert cfg.overrides == ()


@pytest.mark.parametrize(
    ("name", "uptime", "response_time", "error_rate"),
    [
        ("auth", 99.9, 0.200, 0.1),
        ("memory", 99.5, 0.100, 0.5),
        ("ai-gateway", 99.0, 2.000, 1.0),
        ("project", 99.5, 0.500, 0.5),
        ("monitoring", 99.99, 0.100, 0.01),
    ],
)
def test_shipped_slos(name, uptime, response_time, error_rate):
    slo = load_config(None, env={}).service(name).slo
    assert slo is not None
    assert (slo.uptime, slo.response_time, slo.error_rate) == pytest.approx(
        (uptime, response_time, error_rate)
    )


def test_shipped_thresholds_and_intervals():
    cfg = load_config(None, env={})
    t = cfg.thresholds
    assert (t.cpu.warn, t.cpu.alert) == (70, 80)
    assert (t.memory.warn, t.memory.alert) == (80, 90)
    assert (t.disk.warn, t.disk.alert) == (75, 85)
    assert (t.latency.warn, t.latency.alert) == pytest.approx((0.050, 0.100))
    assert (cfg.intervals.health, cfg.intervals.system) == (10.0, 5.0)
    assert cfg.service("monitoring").url == "http://127.0.0.1:3006/health"
    assert cfg.service("ai-gateway").depends_on == ("auth", "memory")


# --------------------------------------------------------------------------- file errors

SVC = """\
services:
  - name: auth
    url: http://127.0.0.1:3002/health
"""

ERRORS = [
    # id, yaml, line, key, message fragment
    ("yaml-syntax", "server:\n  port: 3006\n bad: 1\n", 3, "", "YAML syntax error"),
    ("unknown-top-key", "server: {}\nbogus: 1\n", 2, "bogus", "unknown key"),
    ("unknown-service-key", SVC + "    colour: red\n", 4, "services.auth.colour", "unknown key"),
    ("port-not-int", 'server:\n  port: "abc"\n', 2, "server.port", "must be an integer, got 'abc'"),
    ("port-range", "server:\n  port: 70000\n", 2, "server.port", "between 1 and 65535"),
    ("interval-list", "intervals:\n  health: [1]\n", 2, "intervals.health", "expected a duration"),
    (
        "bool-not-string",
        SVC + '    tls_verify: "yes"\n',
        4,
        "services.auth.tls_verify",
        "must be true or false",
    ),
    (
        "duplicate-service",
        SVC + "  - name: auth\n    url: http://x/\n",
        4,
        "services.auth",
        "duplicate service (first defined on line 2)",
    ),
    ("duplicate-key", "server:\n  port: 1\n  port: 2\n", 3, "server.port", "duplicate key"),
    (
        "interval-zero",
        "intervals:\n  health: 0s\n",
        2,
        "intervals.health",
        "must be a positive duration, got '0s'",
    ),
    (
        "interval-negative",
        SVC + "    interval: -5\n",
        4,
        "services.auth.interval",
        "must be a positive duration, got -5",
    ),
    (
        "duration-malformed",
        "intervals:\n  system: 10 parsecs\n",
        2,
        "intervals.system",
        "malformed duration '10 parsecs'",
    ),
    (
        "url-no-scheme",
        "services:\n  - name: a\n    url: localhost:3002/health\n",
        3,
        "services.a.url",
        "scheme must be http or https",
    ),
    (
        "url-ftp",
        "services:\n  - name: a\n    url: ftp://host/x\n",
        3,
        "services.a.url",
        "scheme must be http or https",
    ),
    (
        "url-no-host",
        "services:\n  - name: a\n    url: http:///health\n",
        3,
        "services.a.url",
        "no host",
    ),
    (
        "redis-url-scheme",
        "redis:\n  url: http://localhost:6379\n",
        2,
        "redis.url",
        "scheme must be redis",
    ),
    (
        "storage-url-scheme",
        "storage:\n  url: mysql://db:3306/monitor\n",
        2,
        "storage.url",
        "scheme must be postgresql or postgres",
    ),
    (
        "unknown-depends-on",
        SVC + "    depends_on: [nosuch]\n",
        4,
        "services.auth.depends_on",
        "unknown service 'nosuch'",
    ),
    (
        "warn-above-alert",
        "thresholds:\n  cpu: {warn: 90, alert: 80}\n",
        2,
        "thresholds.cpu",
        "warn (90) is above alert (80)",
    ),
    (
        "latency-warn-above-alert",
        "thresholds:\n  latency: {warn: 200ms, alert: 100ms}\n",
        2,
        "thresholds.latency",
        "is above alert",
    ),
    (
        "missing-name",
        "services:\n  - url: http://x/\n",
        2,
        "services[0]",
        "missing required key 'name'",
    ),
    ("missing-url", "services:\n  - name: a\n", 2, "services.a", "missing required key 'url'"),
    (
        "url-and-heartbeat",
        "services:\n  - name: a\n    url: http://x/\n    heartbeat: {grace: 10m}\n",
        4,
        "services.a.heartbeat",
        "give either 'url' or 'heartbeat', not both",
    ),
    (
        "heartbeat-with-http-setting",
        "services:\n  - name: a\n    heartbeat: {grace: 10m}\n    headers: {X: y}\n",
        4,
        "services.a.headers",
        "only for a service with a url, not a heartbeat",
    ),
    (
        "heartbeat-without-grace",
        "services:\n  - name: a\n    heartbeat: {}\n",
        3,
        "services.a.heartbeat",
        "missing grace",
    ),
    (
        "heartbeat-zero-grace",
        "services:\n  - name: a\n    heartbeat: {grace: 0s}\n",
        3,
        "services.a.heartbeat.grace",
        "must be a positive duration",
    ),
    (
        "custom-metrics-cap",
        "custom_metrics: {max_series: 0}\n",
        1,
        "custom_metrics.max_series",
        "must be between 1 and 100000",
    ),
    (
        "slo-missing-field",
        SVC + "    slo: {uptime: 99, error_rate: 1}\n",
        4,
        "services.auth.slo",
        "missing response_time",
    ),
    (
        "scaling-min-above-max",
        "scaling:\n  min_replicas: 5\n  max_replicas: 2\n",
        1,
        "scaling",
        "min_replicas is above max_replicas",
    ),
]


@pytest.mark.parametrize(
    ("text", "line", "key", "fragment"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS]
)
def test_file_error_names_file_line_and_key(tmp_path, text, line, key, fragment):
    path = write(tmp_path, text)
    err = config_error(path)
    assert (err.source, err.line, err.key) == (str(path), line, key)
    assert fragment in err.message
    prefix = f"{path}:{line}: {key}: " if key else f"{path}:{line}: "
    assert str(err) == prefix + err.message


def test_missing_file(tmp_path):
    err = config_error(tmp_path / "missing.yaml")
    assert (err.source, err.line, err.message) == (
        str(tmp_path / "missing.yaml"),
        None,
        "file not found",
    )


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ("    headers: [Authorization]\n", "services.auth.headers"),
        ("    expect: {body: [ok]}\n", "services.auth.expect.body"),
        ("    expect: {body: 5}\n", "services.auth.expect.body"),
    ],
)
def test_non_mapping_headers_or_body_is_a_config_error(tmp_path, extra, key):
    path = write(tmp_path, SVC + extra)
    err = config_error(path)
    assert (err.line, err.key) == (4, key)
    assert "must be a mapping" in err.message


# --------------------------------------------------------------------------- environment

BASE = """\
server:
  host: 127.0.0.1
  port: 3006
retention:
  events: 7d
  metrics: 30d
redis:
  url: null
discovery:
  auto: false
alerts:
  channels: [log]
notifications:
  channels:
    - {name: log, type: webhook, url: "http://127.0.0.1:9/hook"}
    - {name: team, type: slack, url: "https://hooks.slack.com/services/T/B/x"}
    - {name: oncall, type: email, host: 127.0.0.1, from: mon@x.test, to: [a@x.test]}
scaling:
  enabled: false
  min_replicas: 1
  max_replicas: 10
services:
  - name: monitoring
    url: http://127.0.0.1:${MONITORING_PORT:-3006}/health
"""


@pytest.mark.parametrize(
    ("var", "value", "get", "expected"),
    [
        ("MONITORING_PORT", "3010", lambda c: c.server.port, 3010),
        (
            "REDIS_URL",
            "redis://localhost:6379/1",
            lambda c: c.redis_url,
            "redis://localhost:6379/1",
        ),
        (
            "DATABASE_URL",
            "postgresql://m:pw@db:5432/monitor",
            lambda c: c.storage_url,
            "postgresql://m:pw@db:5432/monitor",
        ),
        ("EVENT_RETENTION", "2d", lambda c: c.retention.events, 2 * 86400.0),
        ("METRICS_RETENTION", "90d", lambda c: c.retention.metrics, 90 * 86400.0),
        ("AUTO_DISCOVER", "true", lambda c: c.auto_discover, True),
        ("ALERT_CHANNELS", "slack, email,", lambda c: c.alert_channels, ("slack", "email")),
        ("AUTO_SCALE_ENABLED", "yes", lambda c: c.scaling.enabled, True),
        ("MIN_REPLICAS", "3", lambda c: c.scaling.min_replicas, 3),
        ("MAX_REPLICAS", "20", lambda c: c.scaling.max_replicas, 20),
    ],
)
def test_environment_overrides_file(tmp_path, var, value, get, expected):
    path = write(tmp_path, BASE)
    assert get(load_config(path, env={})) != expected
    cfg = load_config(path, env={var: value})
    assert get(cfg) == expected
    assert cfg.overrides == (f"env {var}",)


def test_services_config_selects_the_file(tmp_path):
    path = write(tmp_path, "services:\n  - name: only-one\n    url: http://h/\n", "mine.yaml")
    cfg = load_config(None, env={"SERVICES_CONFIG": str(path)})
    assert cfg.source == str(path)
    assert [s.name for s in cfg.services] == ["only-one"]
    # an explicit path wins over SERVICES_CONFIG
    other = write(tmp_path, "services: []\n", "other.yaml")
    assert load_config(other, env={"SERVICES_CONFIG": str(path)}).source == str(other)


@pytest.mark.parametrize(
    ("var", "value", "fragment"),
    [
        ("MONITORING_PORT", "abc", "must be an integer from 1 to 65535, got 'abc'"),
        ("MONITORING_PORT", "70000", "must be an integer from 1 to 65535"),
        ("EVENT_RETENTION", "soon", "malformed duration 'soon'"),
        ("METRICS_RETENTION", "0", "must be a positive duration"),
        ("AUTO_DISCOVER", "maybe", "must be true or false"),
        ("REDIS_URL", "http://localhost:6379", "scheme must be redis"),
        ("DATABASE_URL", "sqlite:///x.db", "scheme must be postgresql or postgres"),
    ],
)
def test_bad_environment_value_names_the_variable(tmp_path, var, value, fragment):
    err = config_error(write(tmp_path, BASE), env={var: value})
    assert err.source == f"environment {var}"
    assert err.line is None
    assert fragment in err.message
    assert str(err).startswith(f"environment {var}: ")


@pytest.mark.parametrize("value", ["abc", "70000"])
def test_bad_monitoring_port_named_even_when_used_in_a_url(value):
    err = config_error(DEFAULT_CONFIG, env={"MONITORING_PORT": value})
    assert err.source == "environment MONITORING_PORT"
    assert "must be an integer from 1 to 65535" in err.message


def test_env_min_replicas_above_max(tmp_path):
    err = config_error(write(tmp_path, BASE), env={"MIN_REPLICAS": "8", "MAX_REPLICAS": "4"})
    assert "MIN_REPLICAS (8) is above MAX_REPLICAS (4)" in str(err)


def test_precedence_flags_over_env_over_file(tmp_path):
    path = write(tmp_path, BASE)
    assert load_config(path, env={}).server.port == 3006
    assert load_config(path, env={"MONITORING_PORT": "3010"}).server.port == 3010
    cfg = load_config(path, env={"MONITORING_PORT": "3010"}, host="0.0.0.0", port=3020)
    assert (cfg.server.host, cfg.server.port) == ("0.0.0.0", 3020)
    assert cfg.overrides == ("env MONITORING_PORT", "flag --host", "flag --port")


@pytest.mark.parametrize(
    ("env", "port", "expected"),
    [
        ({}, None, 3006),
        ({"MONITORING_PORT": "3010"}, None, 3010),
        ({}, 4000, 4000),
        ({"MONITORING_PORT": "3010"}, 4000, 4000),
    ],
)
def test_placeholder_port_follows_env_and_flag(tmp_path, env, port, expected):
    cfg = load_config(write(tmp_path, BASE), env=env, port=port)
    assert cfg.service("monitoring").url == f"http://127.0.0.1:{expected}/health"
    assert cfg.server.port == expected


def test_placeholder_from_environment(tmp_path):
    path = write(tmp_path, SVC + "    headers: {Authorization: Bearer ${TOKEN}}\n")
    cfg = load_config(path, env={"TOKEN": "abc123"})
    assert cfg.service("auth").headers == (("Authorization", "Bearer abc123"),)


def test_unset_placeholder_without_default_names_the_line(tmp_path):
    path = write(tmp_path, SVC + "  - name: b\n    url: http://${B_HOST}/health\n")
    err = config_error(path)
    assert (err.source, err.line, err.key) == (str(path), 5, "B_HOST")
    assert "not set and has no default" in err.message
    assert str(err).startswith(f"{path}:5: B_HOST: ")


def test_placeholder_in_comment_is_ignored(tmp_path):
    path = write(tmp_path, "# export ${API_TOKEN} before starting\n" + SVC)
    assert load_config(path, env={}).service("auth") is not None


def test_dependency_on_itself_or_a_cycle_is_an_error(tmp_path):
    path = write(
        tmp_path,
        """services:
  - name: a
    url: http://127.0.0.1:1/health
    depends_on: [b]
  - name: b
    url: http://127.0.0.1:2/health
    depends_on: [a]
""",
    )
    err = config_error(path, env={})
    assert (err.line, err.key) == (4, "services.a.depends_on")
    assert "dependency cycle: a -> b -> a" in err.message
    selfdep = write(
        tmp_path, "services:\n  - name: a\n    url: http://127.0.0.1:1/h\n    depends_on: [a]\n"
    )
    assert "cannot depend on itself" in config_error(selfdep, env={}).message


def test_alert_channels_must_name_configured_channels(tmp_path):
    path = write(tmp_path, BASE)
    assert load_config(path, env={"ALERT_CHANNELS": "slack,oncall"}).alert_channels == (
        "slack",
        "oncall",
    )
    err = config_error(path, env={"ALERT_CHANNELS": "slack,pagerduty"})
    assert err.source == "environment ALERT_CHANNELS"
    assert "pagerduty" in err.message
    assert "does not configure" in err.message


def test_alert_rules_and_api_keys_from_the_file(tmp_path):
    path = write(
        tmp_path,
        """alerts:
  rules:
    - {name: cpu_hot, metric: cpu, above: 90, clear: 80, for: 1m, severity: critical}
    - {name: slow_auth, metric: latency, above: 300ms, services: [auth]}
auth:
  keys: [{name: ops, key: "0123456789abcdef0", role: operator}]
services: []
""",
    )
    cfg = load_config(path, env={})
    hot, slow = cfg.rules
    assert (hot.metric, hot.above, hot.threshold, hot.clear, hot.for_s, hot.severity) == (
        "cpu",
        True,
        90,
        80,
        60.0,
        "critical",
    )
    assert (slow.threshold, slow.services, slow.severity) == (0.3, ("auth",), "high")
    assert [(k.name, k.role) for k in cfg.api_keys] == [("ops", "operator")]


@pytest.mark.parametrize(
    ("text", "line", "key", "fragment"),
    [
        (
            "alerts:\n  rules:\n    - {name: a, metric: cpu, above: 1}\n"
            "    - {name: a, metric: cpu, above: 2}\n",
            4,
            "alerts.rules.a",
            "duplicate rule",
        ),
        (
            "alerts:\n  rules:\n    - {name: a, metric: gpu, above: 1}\n",
            3,
            "alerts.rules.a.metric",
            "unknown metric 'gpu'",
        ),
        (
            "alerts:\n  rules:\n    - {name: a, metric: cpu}\n",
            3,
            "alerts.rules.a",
            "exactly one of 'above' or 'below'",
        ),
        (
            "auth:\n  keys: [{name: ops, key: short, role: operator}]\n",
            2,
            "auth.keys.ops.key",
            "too short",
        ),
        (
            "auth:\n  keys: [{name: ops, key: 0123456789abcdef0, role: root}]\n",
            2,
            "auth.keys.ops.role",
            "must be one of viewer, operator, admin",
        ),
    ],
)
def test_bad_rules_and_keys_name_line_and_key(tmp_path, text, line, key, fragment):
    err = config_error(write(tmp_path, text + "services: []\n"), env={})
    assert (err.line, err.key) == (line, key)
    assert fragment in err.message
