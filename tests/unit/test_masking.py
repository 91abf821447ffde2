"""Secrets masking (devmentor_monitor/masking.py): what is hidden, what is kept as written,
and that the log formatter, the event log and the disk apply it."""

from __future__ import annotations

import io
import json
import logging

import pytest

from devmentor_monitor.events.model import Event, EventSeverity, parse_event
from devmentor_monitor.logs import LogfmtFormatter
from devmentor_monitor.masking import mask, mask_data, mask_lines, mask_url, secret_key

# (text, how a reader must see it)
MASKED = [
    # by key name, in key=value and key: value text
    ("password=hunter2 user=bob", "password=*** user=bob"),
    ("passwd: s3cr3t", "passwd: ***"),
    ("DB_PASSWORD=hunter2", "DB_PASSWORD=***"),
    ("client_secret=abc&x=1", "client_secret=***&x=1"),
    ("access_token: abc.def", "access_token: ***"),
    (
        "api_key=k1 apikey=k2 apiKey=k3 X-Api-Key: k4",
        "api_key=*** apikey=*** apiKey=*** X-Api-Key: ***",
    ),
    ("private_key=abc", "private_key=***"),
    ("AWS_ACCESS_KEY_ID=abc", "AWS_ACCESS_KEY_ID=***"),
    ("session=abc123; theme=dark", "session=***; theme=dark"),
    ("session_id=abc123", "session_id=***"),
    ("Cookie: sid=abc; theme=dark", "Cookie: ***; theme=dark"),
    ("credentials=bob:pw", "credentials=***"),
    ("auth=abc", "auth=***"),
    # headers keep the scheme
    ("Authorization: Bearer abcdef0123456789abcdef", "Authorization: Bearer ***"),
    ("authorization=Basic dXNlcjpwYXNz", "authorization=Basic ***"),
    ("Authorization: token ghx123456", "Authorization: token ***"),
    # JSON and Python reprs, at any depth, escaped inside a JSON string too
    ('{"password": "hunter2", "user": "bob"}', '{"password": "***", "user": "bob"}'),
    ('{"a": {"b": {"token": "t0k"}}}', '{"a": {"b": {"token": "***"}}}'),
    ("{'secret': 'x1'}", "{'secret': '***'}"),
    ('{"msg": "{\\"token\\": \\"abc\\"}"}', '{"msg": "{\\"token\\": \\"***\\"}"}'),
    # token shapes in free text
    ("curl -H 'x: Bearer abcdef0123456789'", "curl -H 'x: Bearer ***'"),
    ("sent Basic dXNlcjpwYXNzd29yZA== upstream", "sent Basic *** upstream"),
    ("key id AKIAIOSFODNN7EXAMPLE used", "key id AKIA*** used"),
    ("temp ASIAIOSFODNN7EXAMPLE", "temp ASIA***"),
    (
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "aws_secret_access_key = ***",
    ),
    ("slack xoxb-123456789012-abcdefghijkl posted", "slack xoxb-*** posted"),
    ("xoxp-1-2-3-abcdefabcdef", "xoxp-***"),
    (
        "POST https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXX failed",
        "POST https://hooks.slack.com/services/*** failed",
    ),
    ("routing_key=0123456789abcdef0123456789abcdef", "routing_key=***"),
    ('{"integration_key": "0123456789abcdef0123456789abcdef"}', '{"integration_key": "***"}'),
    ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl ok", "jwt eyJ*** ok"),
    ("gh ghp_abcdefghijklmnopqrstuvwxyz0123 x", "gh ghp_*** x"),
    ("gho_abcdefghijklmnopqrstuvwxyz0123", "gho_***"),
    ("ghs_abcdefghijklmnopqrstuvwxyz0123", "ghs_***"),
    # URLs: userinfo password and secret-looking query parameters
    ("connect postgres://u:pw@db:5432/x failed", "connect postgres://u:***@db:5432/x failed"),
    (
        "GET http://h/x?token=1&key=2&sig=3&signature=4&password=5&page=6",
        "GET http://h/x?token=***&key=***&sig=***&signature=***&password=***&page=6",
    ),
    # a private key block, whole or cut by a tail, line count kept
    (
        "k:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nAbCd==\n-----END RSA PRIVATE KEY-----\nok",
        "k:\n-----BEGIN RSA PRIVATE KEY-----\n***\n***\n-----END RSA PRIVATE KEY-----\nok",
    ),
    (
        "-----BEGIN PRIVATE KEY-----\nMIIEow\nAbCd",
        "-----BEGIN PRIVATE KEY-----\n***\n***",
    ),
    (
        "MIIEowIBAAKCAQEAabcdefgh\nAbCdEfGhIjKlMnOpQrStUv==\n-----END PRIVATE KEY-----\nnext",
        "***\n***\n-----END PRIVATE KEY-----\nnext",
    ),
]

UNTOUCHED = [
    "token bucket refilled: 20 tokens",
    "author: Jane Doe",
    "keyboard=us layout",
    "max_tokens=100 prompt_tokens: 50 token_count=5",
    "auth_method=oauth session_timeout=30s",
    "Basic plan selected; Bearer authentication required",
    "monkey key lime pie",
    "password=*** already masked",
    "password: null",
    '{"token": null, "secret": ""}',
    '{"auth": {"keys": [], "anonymous_read": false}}',  # an object under a secret-ish key
    "auth=[a, b]",
    "GET /api/users?page=2 200",
    "https://example.com/docs/api-keys",
    "AKIA is a prefix",
    "eyJ alone is not a JWT",
    'level=info msg="check ok" service=auth latency_ms=12',
    "",
]


@pytest.mark.parametrize(("text", "expected"), MASKED, ids=[t[:40] for t, _ in MASKED])
def test_secrets_are_masked(text, expected):
    assert mask(text) == expected
    assert mask(expected) == expected  # masking twice changes nothing


@pytest.mark.parametrize("text", UNTOUCHED)
def test_non_secrets_stay_as_written(text):
    assert mask(text) is text


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("password", True),
        ("db_password", True),
        ("X-Api-Key", True),
        ("apiKey", True),
        ("sessionId", True),
        ("aws_secret_access_key", True),
        ("routing_key", True),
        ("Set-Cookie", True),
        ("Proxy-Authorization", True),
        ("author", False),
        ("keyboard", False),
        ("max_tokens", False),
        ("token_count", False),
        ("auth_method", False),
        ("key", False),
        ("monkey", False),
    ],
)
def test_secret_key_names(name, secret):
    assert secret_key(name) is secret


def test_mask_data_hides_by_key_at_any_depth_and_shapes_in_values():
    data = {
        "user": "bob",
        "nested": [{"password": "hunter2", "n": 1}],
        "credentials": {"user": "u", "pin": 1234, "ok": True},
        "note": "called with Authorization: Bearer abcdef0123456789abcdef",
        "max_tokens": 100,
        "token": None,
    }
    assert mask_data(data) == {
        "user": "bob",
        "nested": [{"password": "***", "n": 1}],
        "credentials": {"user": "***", "pin": "***", "ok": True},
        "note": "called with Authorization: Bearer ***",
        "max_tokens": 100,
        "token": None,
    }
    plain = {"service": "auth", "tokens": [1, 2], "author": "jane"}
    assert mask_data(plain) is plain  # nothing secret: the same object, no copy


def test_mask_url_hides_slack_webhook_path_and_keeps_the_rest():
    assert mask_url("https://hooks.slack.com/services/T0/B0/XXX") == (
        "https://hooks.slack.com/services/***"
    )
    assert (
        mask_url("https://discord.com/api/webhooks/1/abc") == "https://discord.com/api/webhooks/***"
    )
    assert mask_url("https://example.com/hook?x=1") == "https://example.com/hook?x=1"


def big_tail() -> list[str]:
    """~1 MB of log lines, one in ten with a bearer token (the figure in masking.py)."""
    plain = 'ts=2026-01-01T00:00:00Z level=info msg="GET /api/users 200 12ms" user=bob'
    secret = 'ts=2026-01-01T00:00:00Z level=info msg="upstream" Authorization: Bearer abc0123456789'
    return ([plain] * 9 + [secret]) * 1400


def test_a_big_tail_keeps_its_lines_and_hides_every_token():
    lines = big_tail()
    out = mask_lines(lines)
    assert len(out) == len(lines)
    assert not any("abc0123456789" in line for line in out)
    assert sum(line.endswith("Bearer ***") for line in out) == 1400
    assert out[0] == lines[0]


def test_log_records_are_masked_in_message_fields_and_errors():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(LogfmtFormatter())
    logger = logging.getLogger("devmentor_monitor.test_masking")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning(
            "calling with Authorization: Bearer abcdef0123456789abcdef",
            extra={"fields": {"token": "t0ps3cret", "url": "http://u:pw9@h/x?token=zz"}},
        )
        try:
            raise ValueError("bad password=hunter2")
        except ValueError as exc:
            logger.error("failed", exc_info=exc)
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    for secret in ("abcdef0123456789abcdef", "t0ps3cret", "pw9", "zz", "hunter2"):
        assert secret not in text
    assert "Bearer ***" in text
    assert "token=***" in text
    assert "password=***" in text


def test_events_are_masked_before_anyone_reads_them():
    raw = json.dumps(
        {
            "type": "auth.login",
            "service": "auth",
            "severity": "info",
            "message": "login with Authorization: Bearer abcdef0123456789abcdef",
            "ts": 1_700_000_000,
            "data": {"headers": {"Authorization": "Bearer abcdef0123456789abcdef"}, "n": 1},
        }
    ).encode()
    event = parse_event(raw, "redis:events", 65536)
    event.mask_secrets()
    assert event.message == "login with Authorization: Bearer ***"
    assert event.data == {"headers": {"Authorization": "***"}, "n": 1}
    assert event.raw is None  # the disk gets the masked event, not the wire bytes
    assert b"abcdef0123456789abcdef" not in event.wire()
    plain = Event(1.0, "deploy.finished", "auth", EventSeverity.INFO, "v2 out", {"v": 2})
    plain.raw = b"{}"
    plain.mask_secrets()
    assert plain.raw == b"{}"  # nothing hidden: stored as it arrived
