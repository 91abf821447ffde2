"""The `notifications:` section: parsing, every error with line and key, selection, describe."""

from __future__ import annotations

import textwrap

import pytest

from devmentor_monitor.config.reader import Reader
from devmentor_monitor.config.yaml_lines import ConfigError, load_yaml
from devmentor_monitor.notify.settings import (
    PAGERDUTY_URL,
    ChannelSettings,
    NotifySettings,
    active_channels,
    describe,
    parse_notifications,
    unknown_channels,
)

SLACK_TOKEN = "T000/B000/XXXXsecretslacktoken"
FULL = f"""\
notifications:
  escalate_after: 15m
  retry: {{base: 2s, max: 5m, attempts: 10}}
  monitor_url: http://127.0.0.1:3006/dashboard
  channels:
    - {{name: ops, type: webhook, url: "https://hooks.example/x?token=hooksecret", headers: {{X-Token: abc123secret}}}}
    - {{name: slack, type: slack, url: "https://hooks.slack.com/services/{SLACK_TOKEN}"}}
    - {{name: pd, type: pagerduty, routing_key: "R0UTINGKEYsecret"}}
    - {{name: mail, type: email, host: 127.0.0.1, port: 2525, from: monitor@x.io, to: [oncall@x.io, sre@x.io], username: u, password: "p4ssw0rdsecret", starttls: false}}
"""  # noqa: E501
SECRETS = (
    "hooksecret",
    "abc123secret",
    SLACK_TOKEN,
    "XXXXsecretslacktoken",
    "R0UTINGKEYsecret",
    "p4ssw0rdsecret",
)


def parse(text: str) -> NotifySettings:
    root = load_yaml(textwrap.dedent(text), "services.yaml")
    return parse_notifications(Reader("services.yaml"), root.value.get("notifications"))


def error(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse(text)
    return info.value


def test_full_section_parses():
    s = parse(FULL)
    assert (s.escalate_after, s.retry_base, s.retry_max, s.max_attempts) == (900, 2, 300, 10)
    assert s.monitor_url == "http://127.0.0.1:3006/dashboard"
    ops, slack, pd, mail = s.channels
    assert (ops.name, ops.type, ops.url) == (
        "ops",
        "webhook",
        "https://hooks.example/x?token=hooksecret",
    )
    assert ops.headers == (("X-Token", "abc123secret"),)
    assert slack.url == f"https://hooks.slack.com/services/{SLACK_TOKEN}"
    assert (pd.routing_key, pd.url) == ("R0UTINGKEYsecret", PAGERDUTY_URL)
    assert pd.events == ("open", "escalation", "acknowledged", "resolved")
    assert slack.events == ("open", "escalation", "resolved")
    assert (mail.smtp_host, mail.smtp_port, mail.smtp_from, mail.smtp_to) == (
        "127.0.0.1",
        2525,
        "monitor@x.io",
        ("oncall@x.io", "sre@x.io"),
    )
    assert (mail.username, mail.password, mail.starttls) == ("u", "p4ssw0rdsecret", False)
    assert all(c.timeout == 10.0 for c in s.channels)


def test_absent_or_empty_section_means_no_channels():
    assert parse("server: {port: 3006}\n") == NotifySettings()
    assert parse("notifications:\n") == NotifySettings()
    assert parse("notifications: {channels: []}\n").channels == ()


def test_defaults_and_options():
    s = parse("""\
        notifications:
          escalate_after: 0
          channels:
            - name: mail
              type: email
              host: smtp.example
              from: a@example.com
              to: b@example.com
              starttls: true
              timeout: 3s
              events: [open, resolved]
        """)
    assert s.escalate_after == 0  # never escalate
    (mail,) = s.channels
    assert (mail.smtp_port, mail.smtp_to, mail.timeout) == (587, ("b@example.com",), 3.0)
    assert mail.events == ("open", "resolved")


@pytest.mark.parametrize(
    ("text", "line", "key", "words"),
    [
        (
            """\
     notifications:
       channels:
         - name: ops
           type: webhook
           url: https://h.example/x
           colour: red
     """,
            6,
            "notifications.channels.ops.colour",
            "unknown key",
        ),
        (
            """\
     notifications:
       channels:
         - name: s
           type: slack
           routing_key: abc
           url: https://h.example/x
     """,
            5,
            "notifications.channels.s.routing_key",
            "unknown key",
        ),
        (
            """\
     notifications:
       retry: {base: 1s, jitter: 3}
     """,
            2,
            "notifications.retry.jitter",
            "unknown key",
        ),
        (
            """\
     notifications:
       retries: 3
     """,
            2,
            "notifications.retries",
            "unknown key",
        ),
        (
            """\
     notifications:
       channels:
         - name: s
           type: slack
     """,
            3,
            "notifications.channels.s",
            "missing required key 'url'",
        ),
        (
            """\
     notifications:
       channels:
         - {name: pd, type: pagerduty}
     """,
            3,
            "notifications.channels.pd",
            "missing required key 'routing_key'",
        ),
        (
            """\
     notifications:
       channels:
         - {name: m, type: email, host: h, from: a@b.c}
     """,
            3,
            "notifications.channels.m",
            "missing required key 'to'",
        ),
        (
            """\
     notifications:
       channels:
         - {name: m, type: email, host: h, from: a@b.c, to: []}
     """,
            3,
            "notifications.channels.m.to",
            "at least one",
        ),
        (
            """\
     notifications:
       channels:
         - {name: t, type: teams, url: "https://x.example/"}
     """,
            3,
            "notifications.channels.t.type",
            "must be one of webhook, slack, pagerduty, email, alertmanager, apprise",
        ),
        (
            """\
     notifications:
       channels:
         - {name: a, type: slack, url: "https://x.example/1"}
         - {name: a, type: webhook, url: "https://x.example/2"}
     """,
            4,
            "notifications.channels.a",
            "duplicate channel (first defined on line 3)",
        ),
        (
            """\
     notifications:
       channels:
         - {type: slack, url: "https://x.example/1"}
     """,
            3,
            "notifications.channels[0]",
            "missing required key 'name'",
        ),
        (
            """\
     notifications:
       channels:
         - {name: Ops, type: slack, url: "https://x.example/1"}
     """,
            3,
            "notifications.channels[0].name",
            "lower-case",
        ),
        (
            """\
     notifications:
       channels:
         - {name: a, type: slack, url: "https://x.example/1", events: [open, paged]}
     """,
            3,
            "notifications.channels.a.events[1]",
            "must be one of open, escalation",
        ),
        (
            """\
     notifications:
       retry:
         base: 10m
         max: 1m
     """,
            2,
            "notifications.retry",
            "base (600s) is above max (60s)",
        ),
        (
            """\
     notifications:
       retry: {attempts: 0}
     """,
            2,
            "notifications.retry.attempts",
            "between 1 and 1000",
        ),
        (
            """\
     notifications:
       escalate_after: soon
     """,
            2,
            "notifications.escalate_after",
            "malformed duration",
        ),
        (
            """\
     notifications:
       channels:
         - {name: m, type: email, host: h, from: a@b.c, to: x@y.z, username: u}
     """,
            3,
            "notifications.channels.m",
            "username and password go together",
        ),
        (
            """\
     notifications:
       channels:
         - {name: m, type: email, host: h, from: a@b.c, to: nobody}
     """,
            3,
            "notifications.channels.m.to",
            "not an email address",
        ),
        (
            """\
     notifications:
       channels: {name: a}
     """,
            2,
            "notifications.channels",
            "must be a list",
        ),
        (
            """\
     notifications:
       channels:
         - name: am
           type: alertmanager
     """,
            3,
            "notifications.channels.am",
            "missing required key 'url' (the Alertmanager's base URL",
        ),
        (
            """\
     notifications:
       channels:
         - name: am
           type: alertmanager
           url: http://127.0.0.1:9093
           headers: {X-Scope: team}
     """,
            6,
            "notifications.channels.am.headers",
            "unknown key",
        ),
        (
            """\
     notifications:
       channels:
         - {name: am, type: alertmanager, url: "127.0.0.1:9093"}
     """,
            3,
            "notifications.channels.am.url",
            "malformed URL",
        ),
        (
            """\
     notifications:
       channels:
         - name: push
           type: apprise
           events: [open]
     """,
            3,
            "notifications.channels.push",
            "missing required key 'url' (an apprise URL",
        ),
        (
            """\
     notifications:
       channels:
         - name: push
           type: apprise
           url: tgram://bottoken/chat
           routing_key: abc
     """,
            6,
            "notifications.channels.push.routing_key",
            "unknown key",
        ),
        (
            """\
     notifications:
       channels:
         - name: push
           type: apprise
           url: "just words"
     """,
            5,
            "notifications.channels.push.url",
            "malformed apprise URL",
        ),
        (
            """\
     notifications:
       channels:
         - {name: push, type: apprise, url: 12345}
     """,
            3,
            "notifications.channels.push.url",
            "must be a string",
        ),
    ],
)
def test_errors_name_line_and_key(text, line, key, words):
    exc = error(text)
    assert (exc.source, exc.line, exc.key) == ("services.yaml", line, key), str(exc)
    assert words in exc.message


@pytest.mark.parametrize(
    "text",
    [
        # a malformed URL carrying a token: the message says what is wrong, not the URL
        """\
    notifications:
      channels:
        - {name: s, type: slack, url: "ftp://hooks.slack.com/services/T0/B0/SECRETVALUE"}
    """,
        """\
    notifications:
      channels:
        - {name: s, type: slack, url: "https:///services/T0/B0/SECRETVALUE"}
    """,
        """\
    notifications:
      channels:
        - {name: m, type: email, host: h, from: a@b.c, to: x@y.z, username: u, password: 123456}
    """,
        """\
    notifications:
      channels:
        - {name: pd, type: pagerduty, routing_key: 987654321}
    """,
        """\
    notifications:
      channels:
        - {name: p, type: apprise, url: "tgram:/SECRETVALUE/123456"}
    """,
        """\
    notifications:
      channels:
        - {name: am, type: alertmanager, url: "ftp://u:SECRETVALUE@am.example"}
    """,
    ],
)
def test_errors_never_repeat_secret_values(text):
    exc = error(text)
    assert "SECRETVALUE" not in str(exc)
    assert "123456" not in str(exc)
    assert "987654321" not in str(exc)
    assert "value not shown" in str(exc) or "string" in str(exc)


def test_repr_and_describe_hide_secrets():
    s = parse(FULL)
    shown = " ".join([repr(s), *(describe(c) for c in s.channels)])
    for secret in SECRETS:
        assert secret not in shown
    assert [describe(c) for c in s.channels] == [
        "ops (webhook) → hooks.example",
        "slack → hooks.slack.com",
        "pd (pagerduty) → events.pagerduty.com",
        "mail (email) → oncall@x.io, sre@x.io via 127.0.0.1:2525",
    ]
    assert "p4ssw0rdsecret" in s.channel("mail").secrets
    assert "R0UTINGKEYsecret" in s.channel("pd").secrets


def test_active_channels_by_name_or_type():
    s = parse(FULL)
    assert active_channels(s, ()) == s.channels
    assert [c.name for c in active_channels(s, ("slack", "email"))] == ["slack", "mail"]
    assert [c.name for c in active_channels(s, ("pagerduty", "ops"))] == ["ops", "pd"]
    assert [c.name for c in active_channels(s, (" mail ", ""))] == ["mail"]
    assert unknown_channels(s, ("slack", "teams", "sms")) == ("teams", "sms")


def test_active_channels_unknown_entry_is_a_clear_error():
    s = parse(FULL)
    with pytest.raises(ValueError, match="ALERT_CHANNELS names channel teams") as info:
        active_channels(s, ("slack", "teams"))
    msg = str(info.value)
    assert msg.startswith(
        "ALERT_CHANNELS names channel teams that notifications.channels does not configure"
    )
    assert "ops (webhook)" in msg
    for secret in SECRETS:
        assert secret not in msg
    with pytest.raises(ValueError, match="configured: none"):
        active_channels(NotifySettings(), ("slack",))


def test_alertmanager_and_apprise_channels():
    s = parse("""\
        notifications:
          channels:
            - name: am
              type: alertmanager
              url: "http://monitor:AMpassSECRET@alertmanager.internal:9093/"
            - name: push
              type: apprise
              url: " tgram://123456:BOTtokenSECRET/-100200300 "
              events: [open, resolved]
        """)
    am, push = s.channels
    assert (am.type, am.url, am.events) == (
        "alertmanager",
        "http://monitor:AMpassSECRET@alertmanager.internal:9093/",
        ("open", "escalation", "resolved"),
    )
    assert (push.type, push.url, push.events) == (
        "apprise",
        "tgram://123456:BOTtokenSECRET/-100200300",
        ("open", "resolved"),
    )
    shown = " ".join([repr(s), describe(am), describe(push)])
    assert "SECRET" not in shown
    assert describe(am) == "am (alertmanager) → alertmanager.internal:9093"
    assert describe(push) == "push (apprise) → tgram://"
    assert "AMpassSECRET" in am.secrets
    assert any("BOTtokenSECRET" in x for x in push.secrets)
    assert [c.name for c in active_channels(s, ("apprise",))] == ["push"]


def test_channel_settings_are_frozen():
    c = ChannelSettings(name="x", type="slack", url="https://h.example/T/secret")
    with pytest.raises(AttributeError):
        c.url = "other"  # type: ignore[misc]
    assert "secret" not in repr(c)
