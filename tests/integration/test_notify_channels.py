"""The alertmanager and apprise channels end to end: a real Alertmanager (the Debian
package) and real HTTP receivers on loopback, a real SQLite outbox in tmp_path."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import headless
from support.alertmanager import ALERTMANAGER, Alertmanager
from support.notifying import incident, resolve, rows, running, settings
from support.waiting import eventually, wait_until

from devmentor_monitor.aio import aiohttp
from devmentor_monitor.demo.fleet import free_port
from devmentor_monitor.notify.channels import SENDERS, DeliveryError, Notification
from devmentor_monitor.notify.outbox import Outbox
from devmentor_monitor.notify.settings import ChannelSettings, describe

pytestmark = pytest.mark.integration

TOKEN = "apprisetokenSECRET"
AM_PASSWORD = "ampasswordSECRET"
needs_alertmanager = pytest.mark.skipif(
    ALERTMANAGER is None,
    reason="prometheus-alertmanager not installed (scripts/setup --test does)",
)


# --------------------------------------------------------------------------- servers


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[Alertmanager]:
    am = Alertmanager(tmp_path)
    yield am
    am.stop()


# --------------------------------------------------------------------------- helpers


def ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def ours(am: Alertmanager, inc_id: str) -> list[dict[str, Any]]:
    return [a for a in am.alerts() if a["labels"].get("incident") == inc_id]


# --------------------------------------------------------------------------- alertmanager


@needs_alertmanager
async def test_alertmanager_receives_then_resolves(db, alertmanager):
    channel = ChannelSettings(name="am", type="alertmanager", url=alertmanager.base, timeout=3)
    monitor = "http://127.0.0.1:3006/dashboard"
    outbox = Outbox(db, [channel], settings(channel, monitor_url=monitor))
    inc = incident(rule="service_down")
    async with running(outbox):
        assert await outbox.notify(inc, "open") == 1
        await eventually(lambda: rows(db)[-1][3] == "sent", 10, "the open to be delivered")
        alerts = await eventually(lambda: ours(alertmanager, inc.id), 10, "the alert")
        (alert,) = alerts
        assert alert["labels"] == {
            "alertname": "service_down",
            "service": "auth",
            "severity": "critical",
            "incident": "inc-1",
            "instance": "127.0.0.1:3006",
        }
        assert alert["annotations"]["summary"] == "[CRITICAL] auth: service down (opened)"
        assert alert["annotations"]["description"] == "3 checks failed: connection refused"
        assert alert["generatorURL"] == monitor
        assert alert["status"]["state"] == "active"
        assert abs(ts(alert["startsAt"]) - inc.opened_at) < 0.01
        # held well beyond Alertmanager's resolve_timeout (5m): only our resolved ends it
        assert ts(alert["endsAt"]) > time.time() + 86400

        # escalation: the same alert (same labels), not a second one
        await outbox.notify(inc, "escalation")
        await eventually(
            lambda: (
                [a["annotations"].get("escalation") for a in ours(alertmanager, inc.id)]
                == ["unacknowledged for 1m"]
            ),
            10,
            "the escalation annotation on the one alert",
        )

        await outbox.notify(resolve(inc, after=50.0), "resolved")
        await eventually(lambda: rows(db)[-1][3] == "sent", 10, "the resolved to be delivered")

        def resolved() -> bool:
            # The v2 API leaves resolved alerts out of its list; one still listed must
            # have its endsAt in the past.
            return all(ts(a["endsAt"]) <= time.time() for a in ours(alertmanager, inc.id))

        await eventually(resolved, 10, "Alertmanager to resolve the alert")
    assert [r[2:5] for r in rows(db)] == [
        ("open", "sent", 1),
        ("escalation", "sent", 1),
        ("resolved", "sent", 1),
    ]


@needs_alertmanager
async def test_alertmanager_url_with_credentials_and_prefix(db, alertmanager):
    # credentials and a trailing slash on the base URL: the alerts go to /api/v2/alerts
    # (Alertmanager itself ignores the basic auth); the password is shown nowhere
    url = f"http://monitor:{AM_PASSWORD}@127.0.0.1:{alertmanager.port}/"
    channel = ChannelSettings(name="am", type="alertmanager", url=url, timeout=3)
    outbox = Outbox(db, [channel], settings(channel))
    async with running(outbox):
        await outbox.notify(incident("inc-2", rule="service_down"), "open")
        await eventually(lambda: ours(alertmanager, "inc-2"), 10, "the alert")
    (alert,) = ours(alertmanager, "inc-2")
    assert alert["labels"]["instance"] == "devmentor-monitor"  # no monitor_url configured
    assert "generatorURL" not in alert or not alert["generatorURL"]
    assert describe(channel) == f"am (alertmanager) → 127.0.0.1:{alertmanager.port}"
    assert AM_PASSWORD not in describe(channel) + repr(channel) + repr(outbox.status())
    assert AM_PASSWORD in channel.secrets


async def test_alertmanager_errors_map_to_delivery_errors(receiver):
    note = Notification.from_incident(incident(rule="service_down"), "open")
    channel = ChannelSettings(name="am", type="alertmanager", url=receiver.base, timeout=2)
    dead = ChannelSettings(
        name="am", type="alertmanager", url=f"http://127.0.0.1:{free_port()}", timeout=2
    )
    receiver.statuses = [400, 503]
    async with aiohttp.ClientSession() as session:
        with pytest.raises(DeliveryError) as info:
            await SENDERS["alertmanager"](session, channel, note)
        assert (info.value.reason, info.value.permanent) == ("HTTP 400 Bad Request", True)
        with pytest.raises(DeliveryError) as info:
            await SENDERS["alertmanager"](session, channel, note)
        assert (info.value.reason, info.value.permanent) == ("HTTP 503 Service Unavailable", False)
        with pytest.raises(DeliveryError) as info:
            await SENDERS["alertmanager"](session, dead, note)
        assert info.value.reason == "connection refused"
    assert [r.path for r in receiver.requests] == ["/api/v2/alerts"] * 2
    assert isinstance(receiver.requests[0].body, list)


# --------------------------------------------------------------------------- apprise


async def test_apprise_json_delivers_to_a_loopback_endpoint(db, receiver):
    url = f"json://127.0.0.1:{receiver.port}/hook/{TOKEN}"
    channel = ChannelSettings(name="push", type="apprise", url=url, timeout=3)
    outbox = Outbox(db, [channel], settings(channel))
    inc = incident(rule="service_down")
    async with running(outbox):
        await outbox.notify(inc, "open")
        await eventually(lambda: rows(db)[-1][3] == "sent", 15, "the apprise send")
        await outbox.notify(resolve(inc, after=50.0), "resolved")
        await eventually(lambda: rows(db)[-1][3] == "sent", 15, "the resolved send")
    opened, done = receiver.requests
    assert opened.path == f"/hook/{TOKEN}"
    assert opened.body["title"] == "[CRITICAL] auth: service down (opened)"
    assert "Service:     auth" in opened.body["message"]
    assert "service down" in opened.body["message"]
    assert opened.body["type"] == "failure"
    assert (done.body["type"], done.body["title"]) == (
        "success",
        "[CRITICAL] auth: service down (resolved)",
    )
    assert describe(channel) == "push (apprise) → json://"
    assert any(TOKEN in secret for secret in channel.secrets)


async def test_apprise_dead_endpoint_reason_has_no_url(db, caplog):
    caplog.set_level(logging.DEBUG)
    port = free_port()  # nothing listens
    url = f"json://127.0.0.1:{port}/hook/{TOKEN}"
    channel = ChannelSettings(name="push", type="apprise", url=url, timeout=2)
    note = Notification.from_incident(incident(rule="service_down"), "open")
    with pytest.raises(DeliveryError) as info:
        await SENDERS["apprise"](None, channel, note)  # type: ignore[arg-type]
    assert info.value.reason == "JSON: connection error"
    assert not info.value.permanent

    outbox = Outbox(db, [channel], settings(channel, max_attempts=2))
    async with running(outbox):
        await outbox.notify(incident(rule="service_down"), "open")
        await eventually(lambda: rows(db)[-1][3] == "failed", 15, "the outbox to give up")
    (row,) = rows(db)
    assert row[4:] == (2, "JSON: connection error")
    shown = " ".join([caplog.text, *(str(v) for v in row), repr(outbox.status())])
    for secret in (TOKEN, url):
        assert secret not in shown


async def test_apprise_http_error_and_unknown_scheme(receiver, caplog):
    caplog.set_level(logging.DEBUG)
    note = Notification.from_incident(incident(rule="service_down"), "open")
    receiver.statuses = [503, 401]
    channel = ChannelSettings(
        name="push", type="apprise", url=f"json://127.0.0.1:{receiver.port}/{TOKEN}", timeout=2
    )
    with pytest.raises(DeliveryError) as info:
        await SENDERS["apprise"](None, channel, note)  # type: ignore[arg-type]
    assert (info.value.reason, info.value.permanent) == ("JSON: HTTP 503", False)
    with pytest.raises(DeliveryError) as info:
        await SENDERS["apprise"](None, channel, note)  # type: ignore[arg-type]
    assert (info.value.reason, info.value.permanent) == ("JSON: HTTP 401", True)

    unknown = ChannelSettings(name="x", type="apprise", url=f"nosuchservice://{TOKEN}")
    with pytest.raises(DeliveryError) as info:
        await SENDERS["apprise"](None, unknown, note)  # type: ignore[arg-type]
    assert info.value.permanent
    assert info.value.reason == "apprise cannot use this nosuchservice:// URL"
    assert TOKEN not in "".join(  # the receiver's own access log shows what it was sent
        r.getMessage() for r in caplog.records if r.name != "aiohttp.access"
    )


# --------------------------------------------------------------------------- start-up


def test_serve_with_alertmanager_channel_does_not_import_apprise(tmp_path, write_config):
    am = {"name": "am", "type": "alertmanager", "url": "http://127.0.0.1:9/"}
    cfg = write_config([], notifications={"channels": [am]})
    port = free_port()
    out = tmp_path / "modules.json"
    proc = headless.start(
        ["--serve", "--port", str(port), "-c", str(cfg)], out, headless.clean_env(tmp_path)
    )
    try:
        wait_until(
            lambda: (
                httpx.get(f"http://127.0.0.1:{port}/api/services", timeout=2).status_code == 200
            ),
            20,
            what="--serve to answer",
        )
    finally:
        modules = headless.stop(proc, out)
    assert headless.roots(modules, ("apprise",)) == []
