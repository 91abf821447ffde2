"""Notifications end to end: real HTTP receivers and a real SMTP server on loopback,
a real SQLite outbox in tmp_path. Nothing is mocked."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from msgspec.structs import replace
from support.http import Receiver
from support.notifying import incident, resolve, rows, running, settings
from support.waiting import eventually

from devmentor_monitor.demo.fleet import free_port
from devmentor_monitor.incidents.model import IncidentState, Severity
from devmentor_monitor.logs import LogfmtFormatter
from devmentor_monitor.notify.outbox import Outbox
from devmentor_monitor.notify.settings import (
    ChannelSettings,
    active_channels,
    describe,
)
from devmentor_monitor.storage.db import Database

pytestmark = pytest.mark.integration
# Each test using `db` runs on SQLite and on PostgreSQL (tests/conftest.py).
BOTH_STORES = True

SLACK_TOKEN = "T0SECRET/B0SECRET/slacktokenSECRET"
HOOK_TOKEN = "hooktokenSECRET"
HEADER_SECRET = "headervalueSECRET"
ROUTING_KEY = "routingkeySECRET0123456789abcdef"
PASSWORD = "smtppasswordSECRET"
SECRETS = (SLACK_TOKEN, "slacktokenSECRET", HOOK_TOKEN, HEADER_SECRET, ROUTING_KEY, PASSWORD)
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


# --------------------------------------------------------------------------- receivers


class Mailbox:
    """aiosmtpd handler: keeps every message; LOGIN/PLAIN checked against one user."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], Message]] = []
        self.logins: list[tuple[str, bool]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(
            (envelope.mail_from, list(envelope.rcpt_tos), message_from_bytes(envelope.content))
        )
        return "250 OK"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == b"monitor"
            and auth_data.password == PASSWORD.encode()
        )
        self.logins.append((mechanism, ok))
        return AuthResult(success=ok, handled=False)  # a failure answers 535


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = free_port()
    ctl = Controller(
        box, hostname="127.0.0.1", port=port, authenticator=box.authenticate, auth_require_tls=False
    )
    ctl.start()
    yield box, port
    ctl.stop()


# --------------------------------------------------------------------------- helpers


def webhook(r: Receiver, name: str = "ops") -> ChannelSettings:
    return ChannelSettings(
        name=name,
        type="webhook",
        url=f"{r.base}/hook/{HOOK_TOKEN}",
        headers=(("X-Token", HEADER_SECRET),),
        timeout=2,
    )


def slack(r: Receiver) -> ChannelSettings:
    return ChannelSettings(
        name="slack", type="slack", url=f"{r.base}/services/{SLACK_TOKEN}", timeout=2
    )


def pagerduty(r: Receiver) -> ChannelSettings:
    return ChannelSettings(
        name="pd",
        type="pagerduty",
        url=f"{r.base}/v2/enqueue",
        routing_key=ROUTING_KEY,
        timeout=2,
        events=("open", "escalation", "acknowledged", "resolved"),
    )


def email(port: int, password: str = PASSWORD) -> ChannelSettings:
    return ChannelSettings(
        name="mail",
        type="email",
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_from="monitor@devmentor.test",
        smtp_to=("oncall@devmentor.test",),
        username="monitor",
        password=password,
        timeout=2,
    )


# --------------------------------------------------------------------------- payloads


async def test_webhook_payload_and_headers(db, receiver):
    ch = webhook(receiver)
    outbox = Outbox(db, [ch], settings(ch, monitor_url="http://127.0.0.1:3006/dashboard"))
    inc = incident()
    async with running(outbox):
        assert await outbox.notify(inc, "open") == 1
        await eventually(lambda: outbox.counts()[("ops", "sent")], what="the webhook")
    (req,) = receiver.requests
    assert req.path == f"/hook/{HOOK_TOKEN}"
    assert req.headers["X-Token"] == HEADER_SECRET
    assert req.headers["Content-Type"].startswith("application/json")
    body = req.body
    assert abs(body.pop("ts") - time.time()) < 10
    assert body == {
        "kind": "open",
        "incident_id": "inc-1",
        "service": "auth",
        "severity": "critical",
        "title": "service down",
        "description": "3 checks failed: connection refused",
        "state": "open",
        "rule": "health",
        "opened_at": inc.opened_at,
        "acknowledged_by": None,
        "resolved_at": None,
        "time_to_recover": None,
        "dedup_key": "devmentor-inc-1",
        "monitor_url": "http://127.0.0.1:3006/dashboard",
        "summary": "[CRITICAL] auth: service down (opened)",
    }
    assert outbox.counts() == {("ops", "sent"): 1, ("ops", "retry"): 0, ("ops", "failed"): 0}
    assert rows(db) == [("inc-1", "ops", "open", "sent", 1, None)]


async def test_slack_payload(db, receiver):
    ch = slack(receiver)
    outbox = Outbox(db, [ch], settings(ch))
    inc = incident(title="latency <p95> & errors")
    async with running(outbox):
        await outbox.notify(inc, "open")
        await eventually(lambda: receiver.requests, what="slack")
        await outbox.notify(resolve(inc, after=240), "resolved")
        await eventually(lambda: len(receiver.requests) == 2, what="slack resolved")
    opened, resolved = receiver.bodies()
    assert receiver.requests[0].path == f"/services/{SLACK_TOKEN}"
    assert set(opened) == {"text", "blocks"}
    assert (
        opened["text"] == ":red_circle: [CRITICAL] auth: latency &lt;p95&gt; &amp; errors (opened)"
    )
    assert opened["blocks"][0] == {
        "type": "section",
        "text": {
            "type": "mrkdwn",
            "text": ":red_circle: *[CRITICAL] auth: latency &lt;p95&gt; &amp; errors (opened)*",
        },
    }
    assert {"type": "mrkdwn", "text": "*Service:* auth"} in opened["blocks"][1]["fields"]
    assert opened["blocks"][2]["text"]["text"] == "3 checks failed: connection refused"
    assert resolved["text"] == (
        ":white_check_mark: [CRITICAL] auth: latency &lt;p95&gt; &amp; errors (resolved after 4m)"
    )
    assert {"type": "mrkdwn", "text": "*Recovered in:* 4m"} in resolved["blocks"][1]["fields"]


async def test_pagerduty_trigger_escalate_acknowledge_resolve_share_one_dedup_key(db, receiver):
    ch = pagerduty(receiver)
    outbox = Outbox(db, [ch], settings(ch, escalate_after=600))
    inc = incident("inc-42", opened_ago=700)
    async with running(outbox):
        await outbox.notify(inc, "open")
        assert await outbox.escalate([inc]) == ["inc-42"]
        assert await outbox.escalate([inc]) == []  # once only
        inc = replace(inc, state=IncidentState.ACKNOWLEDGED, acknowledged_by="ana")
        await outbox.notify(inc, "acknowledged")
        await outbox.notify(resolve(inc), "resolved")
        await eventually(lambda: len(receiver.requests) == 4, what="four PagerDuty events")
    trigger, escalation, ack, res = receiver.bodies("/v2/enqueue")
    assert {b["dedup_key"] for b in (trigger, escalation, ack, res)} == {"devmentor-inc-42"}
    assert {b["routing_key"] for b in (trigger, escalation, ack, res)} == {ROUTING_KEY}
    assert [b["event_action"] for b in (trigger, escalation, ack, res)] == [
        "trigger",
        "trigger",
        "acknowledge",
        "resolve",
    ]
    assert ISO.match(trigger["payload"].pop("timestamp"))
    assert trigger == {
        "routing_key": ROUTING_KEY,
        "event_action": "trigger",
        "dedup_key": "devmentor-inc-42",
        "client": "devmentor-monitor",
        "payload": {
            "summary": "[CRITICAL] auth: service down (opened)",
            "source": "auth",
            "severity": "critical",
            "component": "auth",
            "class": "health",
            "custom_details": {
                "incident_id": "inc-42",
                "title": "service down",
                "description": "3 checks failed: connection refused",
                "state": "open",
                "kind": "open",
                "opened_at": trigger["payload"]["custom_details"]["opened_at"],
            },
        },
    }
    assert escalation["payload"]["summary"].startswith(
        "[CRITICAL] auth: service down (unacknowledged for 11m"
    )
    assert ack == {
        "routing_key": ROUTING_KEY,
        "event_action": "acknowledge",
        "dedup_key": "devmentor-inc-42",
    }
    assert res == {
        "routing_key": ROUTING_KEY,
        "event_action": "resolve",
        "dedup_key": "devmentor-inc-42",
    }


@pytest.mark.parametrize(
    ("severity", "pd"),
    [
        (Severity.LOW, "info"),
        (Severity.MEDIUM, "warning"),
        (Severity.HIGH, "error"),
        (Severity.CRITICAL, "critical"),
    ],
)
async def test_pagerduty_severity_mapping(db, receiver, severity, pd):
    ch = pagerduty(receiver)
    outbox = Outbox(db, [ch], settings(ch))
    async with running(outbox):
        await outbox.notify(incident(severity=severity), "open")
        await eventually(lambda: receiver.requests, what="PagerDuty")
    assert receiver.bodies()[0]["payload"]["severity"] == pd


async def test_email_over_real_smtp(db, smtp):
    box, port = smtp
    ch = email(port)
    outbox = Outbox(db, [ch], settings(ch))
    inc = incident("inc-7")
    async with running(outbox):
        await outbox.notify(inc, "open")
        await eventually(lambda: box.messages, what="the opened email")
        await outbox.notify(resolve(inc, after=90), "resolved")
        await eventually(lambda: outbox.counts()[("mail", "sent")] == 2, what="the resolved email")
    (frm, to, opened), (_, _, resolved) = box.messages
    assert (frm, to) == ("monitor@devmentor.test", ["oncall@devmentor.test"])
    assert box.logins
    assert all(ok for _, ok in box.logins)
    assert opened["Subject"] == "[CRITICAL] auth: service down (opened)"
    assert opened["To"] == "oncall@devmentor.test"
    assert opened["Message-ID"] == "<devmentor-inc-7@devmentor-monitor>"
    body = opened.get_payload()
    assert "Service:     auth" in body
    assert "Incident:    inc-7" in body
    assert "3 checks failed: connection refused" in body
    assert resolved["Subject"] == "[CRITICAL] auth: service down (resolved)"
    assert resolved["In-Reply-To"] == "<devmentor-inc-7@devmentor-monitor>"
    assert "Recovered in: 1m30s" in resolved.get_payload()


async def test_email_wrong_password_fails_permanently_without_showing_it(db, smtp, caplog):
    caplog.set_level(logging.DEBUG)
    box, port = smtp
    ch = email(port, password="wrongpasswordSECRET")
    outbox = Outbox(db, [ch], settings(ch))
    async with running(outbox):
        await outbox.notify(incident(), "open")
        await eventually(lambda: outbox.counts()[("mail", "failed")] == 1, what="the give-up")
    assert box.messages == []
    assert outbox.last_errors == {"mail": "SMTP 535 authentication failed"}
    assert rows(db)[0][3:] == ("failed", 1, "SMTP 535 authentication failed")
    assert "wrongpasswordSECRET" not in logged(caplog)


# --------------------------------------------------------------------------- delivery


async def test_rows_are_on_disk_when_notify_returns_and_survive_a_restart(tmp_path, receiver):
    ch = webhook(receiver)
    first = Database(tmp_path / "m.db")
    first.open()
    outbox = Outbox(first, [ch], settings(ch))  # never runs: the process "dies" here
    assert await outbox.notify(incident("inc-9"), "open") == 1
    assert rows(first) == [("inc-9", "ops", "open", "pending", 0, None)]
    first.close()
    second = Database(tmp_path / "m.db")
    second.open()
    try:
        async with running(Outbox(second, [ch], settings(ch))):
            await eventually(lambda: rows(second)[0][3] == "sent", what="delivery after restart")
        assert receiver.bodies()[0]["incident_id"] == "inc-9"
        assert rows(second) == [("inc-9", "ops", "open", "sent", 1, None)]
    finally:
        second.close()


async def test_receiver_down_then_up_is_delivered_exactly_once(db):
    down = Receiver()  # its port is free and nothing listens: connection refused
    ch = webhook(down)
    outbox = Outbox(db, [ch], settings(ch, retry_base=0.05, retry_max=0.2))
    async with running(outbox):
        await outbox.notify(incident(), "open")
        await eventually(lambda: outbox.counts()[("ops", "retry")] >= 3, what="three retries")
        assert outbox.last_errors == {"ops": "connection refused"}
        ((_, _, _, state, attempts, error),) = rows(db)
        assert (state, error) == ("pending", "connection refused")
        assert attempts >= 3
        status = outbox.status()[0]
        assert (status.healthy, status.last_error) == (False, "connection refused")
        await down.start()
        try:
            await eventually(lambda: outbox.counts()[("ops", "sent")] == 1, what="the delivery")
            retries = outbox.counts()[("ops", "retry")]
            # nothing else is pending, so nothing more arrives
            await eventually(lambda: rows(db)[0][3] == "sent", what="row marked sent")
            assert len(down.requests) == 1
        finally:
            await down.stop()
    assert outbox.last_errors == {}
    assert outbox.status()[0].healthy
    assert rows(db)[0][3:5] == ("sent", retries + 1)


def test_backoff_is_exponential_capped_and_jittered(db):
    s = settings(retry_base=2, retry_max=300)
    for rng, factor in ((lambda: 0.0, 0.8), (lambda: 0.5, 1.0), (lambda: 1.0, 1.2)):
        ob = Outbox(db, [], s, rng=rng)
        assert [round(ob.backoff(n), 6) for n in (1, 2, 3, 8, 9, 20)] == [
            round(v * factor, 6) for v in (2, 4, 8, 256, 300, 300)
        ]
    ob = Outbox(db, [], s, rng=lambda: 0.5)
    assert ob.backoff(1, retry_after=30) == 30  # a server's Retry-After wins
    assert ob.backoff(1, retry_after=9999) == 300  # within retry_max


async def test_gives_up_after_max_attempts(db, receiver):
    receiver.statuses = [503] * 10
    ch = webhook(receiver)
    outbox = Outbox(db, [ch], settings(ch, max_attempts=3))
    async with running(outbox):
        await outbox.notify(incident(), "open")
        await eventually(lambda: outbox.counts()[("ops", "failed")] == 1, what="the give-up")
    assert outbox.counts() == {("ops", "sent"): 0, ("ops", "retry"): 2, ("ops", "failed"): 1}
    assert len(receiver.requests) == 3
    assert rows(db)[0][3:] == ("failed", 3, "HTTP 503 Service Unavailable")
    assert outbox.status()[0].failed == 1


async def test_client_error_is_not_retried(db, receiver):
    receiver.statuses = [400]
    ch = slack(receiver)
    outbox = Outbox(db, [ch], settings(ch))
    async with running(outbox):
        await outbox.notify(incident(), "open")
        await eventually(lambda: outbox.counts()[("slack", "failed")] == 1, what="the give-up")
    assert len(receiver.requests) == 1
    assert outbox.last_errors == {"slack": "HTTP 400 Bad Request"}


async def test_one_incident_on_one_channel_goes_out_in_order(db, receiver):
    """A resolve must never overtake its trigger that is still being retried."""
    receiver.statuses = [500, 429, 502]
    ch = pagerduty(receiver)
    outbox = Outbox(db, [ch], settings(ch))
    inc = incident("inc-5")
    async with running(outbox):
        await outbox.notify(inc, "open")
        await outbox.notify(resolve(inc), "resolved")
        await eventually(lambda: outbox.counts()[("pd", "sent")] == 2, what="both events")
    assert [b["event_action"] for b in receiver.bodies()] == [
        "trigger",
        "trigger",
        "trigger",
        "trigger",
        "resolve",
    ]
    assert outbox.counts()[("pd", "retry")] == 3


async def test_a_retrying_incident_does_not_hold_up_another(db, receiver):
    down = Receiver()
    stuck, fine = webhook(down, "stuck"), webhook(receiver, "fine")
    outbox = Outbox(db, [stuck, fine], settings(stuck, fine))
    async with running(outbox):
        await outbox.notify(incident("a"), "open")
        await outbox.notify(incident("b"), "open")
        await eventually(lambda: len(receiver.requests) == 2, what="the healthy channel")
        assert outbox.counts()[("stuck", "sent")] == 0
    assert sorted(b["incident_id"] for b in receiver.bodies()) == ["a", "b"]


async def test_suppressed_is_not_sent_but_resolved_always_is(db, receiver):
    ch = webhook(receiver)
    outbox = Outbox(db, [ch], settings(ch, escalate_after=1))
    inc = incident("inc-s", opened_ago=100)
    async with running(outbox):
        assert await outbox.notify(inc, "open", suppressed=True) == 0
        assert await outbox.escalate([inc], suppressed=lambda i: True) == []
        assert rows(db) == []
        assert await outbox.notify(resolve(inc), "resolved", suppressed=True) == 1
        await eventually(lambda: receiver.requests, what="the resolved notification")
    assert [b["kind"] for b in receiver.bodies()] == ["resolved"]


async def test_escalation_is_remembered_across_restarts(db, receiver):
    ch = webhook(receiver)
    s = settings(ch, escalate_after=300)
    young, old = incident("young", opened_ago=10), incident("old", opened_ago=400)
    acked = incident("acked", opened_ago=400, state=IncidentState.ACKNOWLEDGED)
    outbox = Outbox(db, [ch], s)
    assert await outbox.escalate([young, old, acked]) == ["old"]
    assert await Outbox(db, [ch], s).escalate([young, old, acked]) == []  # a restart
    assert await Outbox(db, [ch], settings(ch, escalate_after=0)).escalate([young]) == []
    assert [(r[0], r[2]) for r in rows(db)] == [("old", "escalation")]


async def test_alert_channels_selects_who_is_told(db, receiver, smtp):
    box, port = smtp
    s = settings(webhook(receiver), slack(receiver), pagerduty(receiver), email(port))
    chosen = active_channels(s, ("slack", "email"))
    outbox = Outbox(db, chosen, s)
    async with running(outbox):
        assert await outbox.notify(incident(), "open") == 2
        await eventually(lambda: receiver.requests and box.messages, what="slack and email")
    assert [r.path for r in receiver.requests] == [f"/services/{SLACK_TOKEN}"]
    assert len(box.messages) == 1
    assert sorted({c for c, _ in outbox.counts()}) == ["mail", "slack"]


async def test_rows_for_a_channel_no_longer_active_fail_instead_of_looping(db, receiver):
    ch = webhook(receiver)
    await Outbox(db, [ch], settings(ch)).notify(incident(), "open")
    other = slack(receiver)
    outbox = Outbox(db, [other], settings(other))  # ALERT_CHANNELS changed on restart
    async with running(outbox):
        await eventually(lambda: rows(db)[0][3] == "failed", what="the orphan row to fail")
    assert receiver.requests == []
    assert "no longer configured" in rows(db)[0][5]


# --------------------------------------------------------------------------- secrets


# The receivers in this file log too (aiohttp's access log, aiosmtpd's protocol trace):
# they are the far end, not the monitor, so their records are left out.
RECEIVER_LOGGERS = ("aiohttp.access", "aiohttp.server", "aiohttp.web", "mail.log")


def logged(caplog: pytest.LogCaptureFixture) -> str:
    """Every record of the monitor's side as the real log handler writes it (with fields)."""
    fmt = LogfmtFormatter()
    mine = [r for r in caplog.records if not r.name.startswith(RECEIVER_LOGGERS)]
    assert mine, "nothing was logged"
    return "\n".join(f"{fmt.format(r)} | {r.name}: {r.getMessage()}" for r in mine)


async def test_no_secret_in_logs_describe_or_status(db, receiver, smtp, caplog):
    caplog.set_level(logging.DEBUG)
    box, port = smtp
    down = Receiver()  # failures produce warnings: those must be clean too
    channels = [webhook(receiver), slack(down), pagerduty(receiver), email(port)]
    receiver.statuses = [503]
    outbox = Outbox(db, channels, settings(*channels, max_attempts=2))
    async with running(outbox):
        await outbox.notify(incident(), "open")
        await eventually(
            lambda: (
                outbox.counts()[("slack", "failed")] == 1
                and outbox.counts()[("ops", "sent")] + outbox.counts()[("pd", "sent")] == 2
                and box.messages
            ),
            what="every channel to settle",
        )
    text = logged(caplog)
    assert "notification delivery failed" in text
    assert "notification sent" in text
    assert 'reason="connection refused"' in text or "reason=connection" in text
    shown = [
        text,
        *(describe(c) for c in channels),
        repr(channels),
        repr(outbox.status()),
        repr(outbox.last_errors),
        repr(outbox.counts()),
    ]
    for secret in SECRETS:
        for where in shown:
            assert secret not in where
    assert "/services/" not in text
    assert "/hook/" not in text


async def test_run_stops_when_cancelled_as_it_is_woken(db, receiver):
    """A cancel arriving in the same loop turn as a wake-up (a delivery finishing, a
    notify) must stop run(): asyncio.wait_for on 3.11 swallows it and run() hangs."""
    ch = webhook(receiver)

    async def once(n: int) -> None:
        outbox = Outbox(db, [ch], settings(ch))
        task = asyncio.create_task(outbox.run())
        await outbox.notify(incident(f"inc-c{n}"), "open")
        await eventually(lambda: outbox.counts()[("ops", "sent")] == 1, what="a send")
        await eventually(lambda: outbox._waiting and not outbox._inflight, what="run() idle")
        outbox._wake.set()
        task.cancel()
        async with asyncio.timeout(2):
            await asyncio.gather(task, return_exceptions=True)
        assert task.done()

    for n in range(5):
        await once(n)
    assert len(receiver.requests) == 5
