"""The routing tree: match, match_re, continue, inheritance, the default; alerting.route."""

from __future__ import annotations

import textwrap

import pytest

from devmentor_monitor.config.schema import ConfigError, load_config, parse_text
from devmentor_monitor.notify.routes import (
    DEFAULT_GROUP_BY,
    DEFAULT_GROUP_INTERVAL,
    DEFAULT_GROUP_WAIT,
    DEFAULT_REPEAT_INTERVAL,
    Route,
    RouteMatch,
    build_route,
    default_route,
    route_for,
    routes_from_config,
)

CRIT_AUTH = {"service": "auth", "severity": "critical", "team": "core"}
LOW_MEM = {"service": "memory", "severity": "low", "team": "payments"}


def channels(root: Route, labels: dict[str, str]) -> list[tuple[str, ...]]:
    return [m.channels for m in route_for(root, labels)]


def test_match_on_equality():
    root = Route(
        channels=("webhook",), routes=(Route(match={"severity": "critical"}, channels=("pd",)),)
    )
    assert channels(root, CRIT_AUTH) == [("pd",)]
    assert channels(root, LOW_MEM) == [("webhook",)]  # no child matches: the root handles it
    assert route_for(root, CRIT_AUTH)[0].path == (0,)
    assert route_for(root, LOW_MEM)[0].path == ()


def test_all_matchers_of_a_route_must_hold_and_missing_labels_read_empty():
    child = Route(match={"severity": "critical", "team": "core"}, channels=("pd",))
    root = Route(channels=("webhook",), routes=(child,))
    assert channels(root, CRIT_AUTH) == [("pd",)]
    assert channels(root, {**CRIT_AUTH, "team": "x"}) == [("webhook",)]
    assert channels(root, {"severity": "critical"}) == [("webhook",)]
    empty = Route(channels=("w",), routes=(Route(match={"region": ""}, channels=("r",)),))
    assert channels(empty, CRIT_AUTH) == [("r",)]


def test_match_re_is_anchored():
    root = Route(
        channels=("webhook",),
        routes=(Route(match_re={"service": "auth|memory"}, channels=("ops",)),),
    )
    assert channels(root, CRIT_AUTH) == [("ops",)]
    assert channels(root, LOW_MEM) == [("ops",)]
    assert channels(root, {"service": "authz"}) == [("webhook",)]  # fullmatch, not search
    assert channels(root, {"service": "xauth"}) == [("webhook",)]
    with pytest.raises(ValueError, match=r"bad regex '\(auth'"):
        Route(match_re={"service": "(auth"})
    with pytest.raises(ValueError, match="at most"):
        Route(match_re={"service": "a" * 1001})


def test_first_matching_child_wins_unless_continue():
    crit = Route(match={"severity": "critical"}, channels=("pd",))
    core = Route(match={"team": "core"}, channels=("slack",))
    root = Route(channels=("webhook",), routes=(crit, core))
    assert channels(root, CRIT_AUTH) == [("pd",)]  # core also matches, but crit won
    crit_cont = Route(match={"severity": "critical"}, channels=("pd",), continue_=True)
    root = Route(channels=("webhook",), routes=(crit_cont, core))
    assert channels(root, CRIT_AUTH) == [("pd",), ("slack",)]
    assert [m.path for m in route_for(root, CRIT_AUTH)] == [(0,), (1,)]
    # continue on a route that matched, but no later sibling matches: just the one.
    assert channels(root, {"severity": "critical", "team": "x"}) == [("pd",)]
    # a continue route that does not match does not count.
    assert channels(root, {"team": "core"}) == [("slack",)]


def test_depth_first_and_nested_fallback():
    nested = Route(
        match={"team": "payments"},
        channels=("email",),
        routes=(Route(match={"severity": "critical"}, channels=("pd-payments",)),),
    )
    root = Route(channels=("webhook",), routes=(nested,))
    assert channels(root, {"team": "payments", "severity": "critical"}) == [("pd-payments",)]
    assert route_for(root, {"team": "payments", "severity": "critical"})[0].path == (0, 0)
    assert channels(root, {"team": "payments", "severity": "low"}) == [("email",)]
    assert channels(root, {"team": "core", "severity": "critical"}) == [("webhook",)]


def test_children_inherit_the_parents_settings():
    leaf = Route(match={"severity": "critical"}, group_wait=0.0)
    mid = Route(match={"team": "core"}, channels=("slack",), group_by=("service", "kind"),
                routes=(leaf,))  # fmt: skip
    root = Route(channels=("webhook",), group_interval=120.0, repeat_interval=3600.0,
                 routes=(mid,))  # fmt: skip
    (m,) = route_for(root, CRIT_AUTH)
    assert m == RouteMatch(
        channels=("slack",),
        group_by=("service", "kind"),
        group_wait=0.0,
        group_interval=120.0,
        repeat_interval=3600.0,
        path=(0, 0),
    )
    (m,) = route_for(root, {"team": "core"})
    assert (m.channels, m.group_wait, m.path) == (("slack",), DEFAULT_GROUP_WAIT, (0,))
    (m,) = route_for(root, {})
    assert (m.group_by, m.group_wait, m.group_interval) == (
        DEFAULT_GROUP_BY,
        DEFAULT_GROUP_WAIT,
        120.0,
    )


def test_default_is_every_active_channel():
    root = default_route(["webhook", "slack"])
    (m,) = route_for(root, CRIT_AUTH)
    assert m == RouteMatch(
        ("webhook", "slack"),
        DEFAULT_GROUP_BY,
        DEFAULT_GROUP_WAIT,
        DEFAULT_GROUP_INTERVAL,
        DEFAULT_REPEAT_INTERVAL,
        (),
    )
    assert build_route(None, ["a"]).channels == ("a",)
    assert channels(Route(), {}) == [()]


CHANNELS = """\
notifications:
  channels:
    - name: hook
      type: webhook
      url: http://127.0.0.1:9/hook
    - name: chat
      type: slack
      url: https://hooks.slack.com/services/T/B/X
    - name: pd
      type: pagerduty
      routing_key: 0123456789abcdef0123
"""


def load(tmp_path, text: str, env: dict[str, str] | None = None):
    path = tmp_path / "services.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return load_config(path, env={} if env is None else env)


def test_default_from_config_follows_active_channels(tmp_path):
    cfg = load(tmp_path, CHANNELS)
    assert cfg.alerting.route is None
    assert channels(routes_from_config(cfg), CRIT_AUTH) == [("hook", "chat", "pd")]
    cfg = load(tmp_path, CHANNELS, env={"ALERT_CHANNELS": "slack"})
    assert channels(routes_from_config(cfg), CRIT_AUTH) == [("chat",)]
    assert channels(routes_from_config(load(tmp_path, "server: {}\n")), CRIT_AUTH) == [()]


ROUTED = (
    CHANNELS
    + """\
alerting:
  route:
    group_by: [service, kind]
    group_wait: 10s
    repeat_interval: 4h
    routes:
      - match: {severity: critical}
        channels: [pd, chat]
        continue: true
        group_wait: 0s
      - match: {team: payments}
        channels: [hook]
      - match_re: {service: "auth|memory"}
        channels: [chat]
        routes:
          - match: {severity: low}
            group_interval: 5m
"""
)


def test_routed_config(tmp_path):
    cfg = load(tmp_path, ROUTED)
    root = routes_from_config(cfg)
    assert root.channels == ("hook", "chat", "pd")  # the root's default
    got = route_for(root, CRIT_AUTH)
    assert [(m.channels, m.group_wait, m.path) for m in got] == [
        (("pd", "chat"), 0.0, (0,)),
        (("chat",), 10.0, (2,)),
    ]
    (low,) = route_for(root, LOW_MEM)
    assert (low.channels, low.group_by, low.path) == (("hook",), ("service", "kind"), (1,))
    (low,) = route_for(root, {"service": "memory", "severity": "low"})
    assert (low.channels, low.group_interval, low.repeat_interval, low.path) == (
        ("chat",),
        300.0,
        4 * 3600.0,
        (2, 0),
    )
    (other,) = route_for(root, {"service": "project", "severity": "high"})
    assert (other.channels, other.path) == (("hook", "chat", "pd"), ())
    # ALERT_CHANNELS leaves the other channels out of every route.
    only = routes_from_config(load(tmp_path, ROUTED, env={"ALERT_CHANNELS": "chat,hook"}))
    assert channels(only, CRIT_AUTH) == [("chat",), ("chat",)]


R = CHANNELS + "alerting:\n  route:\n"  # the route's first key is on line 14


@pytest.mark.parametrize(
    ("text", "line", "key", "fragment"),
    [
        (
            R + "    channels: [hook, nope]\n",
            14,
            "alerting.route.channels[1]",
            "unknown channel 'nope' (notifications.channels configures: chat, hook, pd)",
        ),
        (
            R + "    routes:\n      - match: {severity: low}\n        routes:\n"
            "          - channels:\n              - chat\n              - gone\n",
            19,
            "alerting.route.routes[0].routes[0].channels[1]",
            "unknown channel 'gone'",
        ),
        (
            R + '    routes:\n      - match_re: {service: "(auth"}\n',
            15,
            "alerting.route.routes[0].match_re.service",
            "bad regex '(auth'",
        ),
        (
            R + "    match: {severity: low}\n",
            14,
            "alerting.route.match",
            "the root route matches every alert",
        ),
        (
            R + "    continue: true\n",
            14,
            "alerting.route.continue",
            "the root route matches every alert",
        ),
        (R + "    routes: 3\n", 14, "alerting.route.routes", "must be a list of routes"),
        (
            R + "    routes:\n      - colour: red\n",
            15,
            "alerting.route.routes[0].colour",
            "unknown key",
        ),
        (
            R + "    routes:\n      - group_wait: soon\n",
            15,
            "alerting.route.routes[0].group_wait",
            "duration",
        ),
        (
            R + "    routes:\n      - match: {severity: low}\n        group_by: [rule]\n",
            16,
            "alerting.route.routes[0].group_by",
            "set group_by on alerting.route itself",
        ),
        (
            R + "    routes:\n      - continue: maybe\n",
            15,
            "alerting.route.routes[0].continue",
            "true or false",
        ),
    ],
)
def test_route_config_errors_name_line_and_key(tmp_path, text, line, key, fragment):
    path = tmp_path / "services.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    err = info.value
    assert (err.source, err.line, err.key) == (str(path), line, key), str(err)
    assert fragment in err.message
    assert str(err).startswith(f"{path}:{line}: {key}: ")


def test_unknown_channels_not_blamed_when_notifications_is_wrong():
    text = "notifications:\n  channels: 3\nalerting:\n  route:\n    channels: [hook]\n"
    with pytest.raises(ConfigError) as info:
        parse_text(text, "services.yaml")
    assert [e.key for e in info.value.errors] == ["notifications.channels"]
