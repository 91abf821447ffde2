"""The alertmanager payload and the apprise failure reasons, without a server."""

from __future__ import annotations

from datetime import datetime

import pytest

from devmentor_monitor.notify.channels import (
    ALERTMANAGER_HOLD,
    Notification,
    alertmanager_alerts,
    alertmanager_url,
    apprise_error,
)

T0 = 1_800_000_000.0


def note(kind: str, **kw: object) -> Notification:
    base: dict[str, object] = {
        "kind": kind,
        "incident_id": "inc-7",
        "service": "auth",
        "severity": "high",
        "title": "service down",
        "description": "",
        "state": "open",
        "rule": "service_down",
        "opened_at": T0,
        "ts": T0 + 60,
    }
    return Notification(**{**base, **kw})  # type: ignore[arg-type]


def ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_every_kind_posts_the_same_labels_and_resolved_ends_the_alert():
    kinds = ("open", "escalation", "acknowledged", "resolved")
    alerts = {
        k: alertmanager_alerts(
            note(k, acknowledged_by="ana", resolved_at=T0 + 120, time_to_recover=120.0)
        )
        for k in kinds
    }
    assert all(len(a) == 1 for a in alerts.values())
    labels = {k: a[0]["labels"] for k, a in alerts.items()}
    assert len({tuple(sorted(v.items())) for v in labels.values()}) == 1
    assert labels["open"] == {
        "alertname": "service_down",
        "service": "auth",
        "severity": "high",
        "incident": "inc-7",
        "instance": "devmentor-monitor",
    }
    assert ts(alerts["open"][0]["startsAt"]) == T0
    assert ts(alerts["open"][0]["endsAt"]) == T0 + 60 + ALERTMANAGER_HOLD
    assert ts(alerts["resolved"][0]["endsAt"]) == T0 + 120
    assert alerts["resolved"][0]["annotations"]["recovered_in"] == "2m"
    assert alerts["escalation"][0]["annotations"]["escalation"] == "unacknowledged for 1m"
    assert alerts["acknowledged"][0]["annotations"]["acknowledged_by"] == "ana"
    assert "generatorURL" not in alerts["open"][0]


def test_instance_and_generator_url_come_from_monitor_url():
    (alert,) = alertmanager_alerts(note("open", monitor_url="https://mon.example:8443/d"))
    assert alert["labels"]["instance"] == "mon.example:8443"
    assert alert["generatorURL"] == "https://mon.example:8443/d"


@pytest.mark.parametrize(
    ("base", "url"),
    [
        ("http://am:9093", "http://am:9093/api/v2/alerts"),
        ("http://am:9093/", "http://am:9093/api/v2/alerts"),
        ("https://u:p@h.example/alertmanager/", "https://u:p@h.example/alertmanager/api/v2/alerts"),
        ("http://am:9093/api/v2/alerts", "http://am:9093/api/v2/alerts"),
    ],
)
def test_alertmanager_url(base, url):
    assert alertmanager_url(base) == url


@pytest.mark.parametrize(
    ("messages", "reason", "permanent"),
    [
        (
            ["Failed to send JSON POST notification: Servers are overloaded., error=503."],
            "JSON: HTTP 503",
            False,
        ),
        (
            ["Failed to send Telegram notification to 12345: Unauthorized, error=401."],
            "JSON: HTTP 401",
            True,
        ),
        (
            ["A Connection error occurred sending JSON notification to h.example."],
            "JSON: connection error",
            False,
        ),
        (["Request to chat SECRETCHAT timed out"], "JSON: timeout", False),
        (["Something about token SECRETCHAT"], "JSON: not delivered", False),
        ([], "JSON: not delivered", False),
    ],
)
def test_apprise_reasons_never_repeat_the_log_line(messages, reason, permanent):
    err = apprise_error("JSON", messages)
    assert (err.reason, err.permanent) == (reason, permanent)
    assert "SECRETCHAT" not in err.reason
    assert "12345" not in err.reason


def test_alertmanager_keeps_the_opening_severity_label_through_an_escalation():
    from msgspec.structs import replace as _replace

    from devmentor_monitor.incidents.model import Incident as _Incident
    from devmentor_monitor.incidents.model import IncidentState as _State
    from devmentor_monitor.incidents.model import Severity as _Severity
    from devmentor_monitor.incidents.signals import make_signal
    from devmentor_monitor.notify.channels import Notification as _N
    from devmentor_monitor.notify.channels import alertmanager_alerts as _am

    first = make_signal("latency_slo", "auth", "auth", _Severity.MEDIUM, True, 1e9)
    down = make_signal("service_down", "auth", "auth", _Severity.CRITICAL, True, 1e9 + 20)
    inc = _Incident(
        id="inc-1",
        service="auth",
        rule="latency_slo",
        severity=_Severity.MEDIUM,
        title="t",
        description="d",
        state=_State.OPEN,
        opened_at=1e9,
        updated_at=1e9,
        signals=(first,),
    )
    worse = _replace(inc, severity=_Severity.CRITICAL, signals=(first, down))
    done = _replace(worse, state=_State.RESOLVED, resolved_at=1e9 + 60)
    posts = [
        _am(_N.from_incident(i, kind, now=1e9 + 30))[0]
        for kind, i in [("open", inc), ("escalation", worse), ("resolved", done)]
    ]
    assert {p["labels"]["severity"] for p in posts} == {"medium"}
    assert [p["annotations"]["severity"] for p in posts] == ["medium", "critical", "critical"]


async def test_apprise_runs_in_its_own_pool_not_the_default_one(monkeypatch):
    import threading

    from devmentor_monitor.notify import channels as ch

    names: list[str] = []
    monkeypatch.setattr(
        ch, "_apprise_send", lambda c, n: names.append(threading.current_thread().name)
    )

    class _C:
        timeout = 1.0

    await ch.send_apprise(None, _C(), None)  # type: ignore[arg-type]
    assert names
    assert names[0].startswith("apprise")
