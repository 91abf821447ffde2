"""What a notification says and how each channel type sends it.

Every sender raises `DeliveryError` with a short reason that is safe to log and show
("HTTP 503 Service Unavailable", "connection refused", "SMTP 535"): never a URL, a
header, a routing key or a password.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import re
import socket
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from devmentor_monitor.asyncio_ssl import ssl_error
from devmentor_monitor.incidents.model import Incident
from devmentor_monitor.logs import mask
from devmentor_monitor.notify.settings import ChannelSettings
from devmentor_monitor.units import format_duration

if TYPE_CHECKING:  # imported by the first send (the outbox loads it off the loop); email
    from email.message import EmailMessage  # by the first mail (~0.5 MiB RSS in `ultra`)

    from devmentor_monitor.aio import aiohttp

USER_AGENT = "devmentor-monitor"
PD_SEVERITY = {"low": "info", "medium": "warning", "high": "error", "critical": "critical"}
PD_ACTION = {
    "open": "trigger",
    "escalation": "trigger",
    "acknowledged": "acknowledge",
    "resolved": "resolve",
}
_VERB = {
    "open": "opened",
    "escalation": "escalated",
    "acknowledged": "acknowledged",
    "resolved": "resolved",
}
_SLACK_ICON = {
    "open": ":red_circle:",
    "escalation": ":rotating_light:",
    "acknowledged": ":eyes:",
    "resolved": ":white_check_mark:",
}
_PERMANENT_HTTP = {400, 401, 403, 410, 413, 422}  # the same request will fail again
# Alertmanager forgets an alert that is not re-sent within its resolve_timeout (5m by
# default) and resolves it on its own. Prometheus re-sends on every evaluation; the outbox
# posts once, so a firing alert says how long it holds: until our resolved post ends it,
# or this long if that never comes (the monitor gone for good).
ALERTMANAGER_HOLD = 7 * 86400.0
ALERTMANAGER_PATH = "/api/v2/alerts"
_APPRISE_TYPE = {"open": "failure", "escalation": "failure", "acknowledged": "info"}


class DeliveryError(Exception):
    """A send failed. ``reason`` is short and secret-free; ``permanent`` means do not retry."""

    def __init__(
        self, reason: str, *, permanent: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.retry_after = retry_after


def _opened_severity(incident: Incident) -> str:
    """The severity the incident opened with: its earliest signal's (its own first)."""
    own = [s for s in incident.signals if s.service == incident.service]
    first = own or list(incident.signals)
    if not first:
        return incident.severity.value
    return min(first, key=lambda s: s.first_at).severity.value


@dataclass(frozen=True, slots=True)
class Notification:
    """One thing to tell people about an incident; stored as JSON in the outbox row."""

    kind: str  # open | escalation | acknowledged | resolved
    incident_id: str
    service: str
    severity: str
    title: str
    description: str
    state: str
    rule: str
    opened_at: float
    ts: float  # when the notification was raised
    acknowledged_by: str | None = None
    resolved_at: float | None = None
    time_to_recover: float | None = None
    dedup_key: str = ""
    monitor_url: str | None = None
    opened_severity: str = ""  # the severity it opened with: Alertmanager's label

    @classmethod
    def from_incident(
        cls,
        incident: Incident,
        kind: str,
        *,
        now: float | None = None,
        monitor_url: str | None = None,
    ) -> Notification:
        return cls(
            kind=kind,
            incident_id=incident.id,
            service=incident.service,
            severity=incident.severity.value,
            title=incident.title,
            description=incident.description,
            state=incident.state.value,
            rule=incident.rule,
            opened_at=incident.opened_at,
            ts=time.time() if now is None else now,
            acknowledged_by=incident.acknowledged_by,
            resolved_at=incident.resolved_at,
            time_to_recover=incident.time_to_recover,
            dedup_key=f"devmentor-{incident.id}",
            monitor_url=monitor_url,
            opened_severity=_opened_severity(incident),
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Notification:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    # ---------------------------------------------------------------- wording
    @property
    def status(self) -> str:
        """'opened', 'unacknowledged for 15m', 'acknowledged by ana', 'resolved after 4m'."""
        if self.kind == "escalation":
            return f"unacknowledged for {format_duration(max(0.0, self.ts - self.opened_at))}"
        if self.kind == "acknowledged" and self.acknowledged_by:
            return f"acknowledged by {self.acknowledged_by}"
        if self.kind == "resolved" and self.time_to_recover is not None:
            return f"resolved after {format_duration(max(0.0, self.time_to_recover))}"
        return _VERB.get(self.kind, self.kind)

    @property
    def subject(self) -> str:
        """'[CRITICAL] auth: service down (opened)'."""
        return f"[{self.severity.upper()}] {self.service}: {self.title} ({_VERB[self.kind]})"

    @property
    def summary(self) -> str:
        return f"[{self.severity.upper()}] {self.service}: {self.title} ({self.status})"

    def body(self) -> str:
        lines = [
            self.summary,
            "",
            f"Service:     {self.service}",
            f"Severity:    {self.severity}",
            f"State:       {self.state}",
            f"Incident:    {self.incident_id}",
            f"Rule:        {self.rule}",
            f"Opened:      {_iso(self.opened_at)}",
        ]
        if self.acknowledged_by:
            lines.append(f"Acknowledged by: {self.acknowledged_by}")
        if self.resolved_at is not None:
            lines.append(f"Resolved:    {_iso(self.resolved_at)}")
        if self.time_to_recover is not None:
            lines.append(f"Recovered in: {format_duration(max(0.0, self.time_to_recover))}")
        if self.description:
            lines += ["", self.description]
        if self.monitor_url:
            lines += ["", f"Monitor: {self.monitor_url}"]
        return "\n".join(lines) + "\n"


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# --------------------------------------------------------------------------- payloads


def webhook_payload(n: Notification) -> dict[str, Any]:
    """The webhook's JSON: the notification as stored, less what only Alertmanager reads."""
    body = n.to_dict()
    del body["opened_severity"]
    return {**body, "summary": n.summary}


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(n: Notification) -> dict[str, Any]:
    icon = _SLACK_ICON.get(n.kind, "")
    text = f"{icon} {_slack_escape(n.summary)}".strip()
    facts = [
        f"*Service:* {_slack_escape(n.service)}",
        f"*Severity:* {n.severity}",
        f"*State:* {n.state}",
        f"*Incident:* `{_slack_escape(n.incident_id)}`",
    ]
    if n.time_to_recover is not None and n.kind == "resolved":
        facts.append(f"*Recovered in:* {format_duration(max(0.0, n.time_to_recover))}")
    headline = f"{icon} *{_slack_escape(n.summary)}*"
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": headline}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in facts]},
    ]
    if n.description:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": _slack_escape(n.description[:2900])},
            }
        )
    if n.monitor_url:
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"<{n.monitor_url}|Open the monitor>"}],
            }
        )
    return {"text": text, "blocks": blocks}


def pagerduty_payload(n: Notification, routing_key: str) -> dict[str, Any]:
    """Events API v2. Escalation re-triggers with the same dedup_key (PagerDuty merges it);
    acknowledge and resolve carry only the key, as the API documents."""
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": PD_ACTION[n.kind],
        "dedup_key": n.dedup_key,
    }
    if event["event_action"] == "trigger":
        event["payload"] = {
            "summary": n.summary[:1024],
            "source": n.service,
            "severity": PD_SEVERITY.get(n.severity, "error"),
            "timestamp": _iso(n.ts),
            "component": n.service,
            "class": n.rule,
            "custom_details": {
                "incident_id": n.incident_id,
                "title": n.title,
                "description": n.description,
                "state": n.state,
                "kind": n.kind,
                "opened_at": _iso(n.opened_at),
            },
        }
        event["client"] = USER_AGENT
        if n.monitor_url:
            event["client_url"] = n.monitor_url
    return event


def alertmanager_alerts(n: Notification) -> list[dict[str, Any]]:
    """`POST /api/v2/alerts` body: one alert, identified by its labels.

    Every kind posts the same labels, so Alertmanager keeps one alert per incident:
    - open: firing, endsAt ALERTMANAGER_HOLD ahead (see there);
    - escalation: the same labels again, still firing, with an `escalation` annotation.
      The severity label is not raised: a changed label is a second alert, which our
      resolved post would not end. Alertmanager's routes and repeat_interval decide who
      hears about it again; the re-post refreshes the alert's hold and annotations.
    - acknowledged (only if `events:` lists it): the same labels, an `acknowledged_by`
      annotation; silences are Alertmanager's way to quiet an alert;
    - resolved: the same labels with endsAt set, so Alertmanager resolves it.
    """
    labels = {
        "alertname": n.rule or "incident",
        "service": n.service,
        # the severity it opened with, on every post: a changed label is a second alert
        "severity": n.opened_severity or n.severity,
        "incident": n.incident_id,
        "instance": _instance(n.monitor_url),
    }
    annotations = {
        "summary": n.summary,
        "title": n.title,
        "state": n.state,
        "severity": n.severity,
    }
    if n.description:
        annotations["description"] = n.description
    if n.kind == "escalation":
        annotations["escalation"] = n.status
    if n.acknowledged_by:
        annotations["acknowledged_by"] = n.acknowledged_by
    if n.time_to_recover is not None and n.kind == "resolved":
        annotations["recovered_in"] = format_duration(max(0.0, n.time_to_recover))
    ends = (
        max(n.opened_at, n.resolved_at if n.resolved_at is not None else n.ts)
        if n.kind == "resolved"
        else max(n.ts, n.opened_at) + ALERTMANAGER_HOLD
    )
    alert: dict[str, Any] = {
        "labels": labels,
        "annotations": annotations,
        "startsAt": _rfc3339(n.opened_at),
        "endsAt": _rfc3339(ends),
    }
    if n.monitor_url:
        alert["generatorURL"] = n.monitor_url
    return [alert]


def _instance(monitor_url: str | None) -> str:
    """The `instance` label: which monitor raised it. Derived from config (not the host
    name, which a restarted container changes) so open and resolved carry the same one."""
    if monitor_url:
        try:
            parts = urlsplit(monitor_url)
            if parts.hostname:
                return f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname
        except ValueError:
            pass
    return USER_AGENT


def _rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def email_message(n: Notification, channel: ChannelSettings) -> EmailMessage:
    from email.message import EmailMessage
    from email.utils import formatdate, make_msgid

    msg = EmailMessage()
    msg["Subject"] = " ".join(n.subject.split())  # a title with a newline stays one header
    msg["From"] = channel.smtp_from
    msg["To"] = ", ".join(channel.smtp_to)
    msg["Date"] = formatdate(n.ts, usegmt=True)
    thread = f"<{n.dedup_key}@devmentor-monitor>"  # mail clients thread one incident together
    if n.kind == "open":
        msg["Message-ID"] = thread
    else:
        msg["Message-ID"] = make_msgid(domain="devmentor-monitor")
        msg["In-Reply-To"] = thread
        msg["References"] = thread
    msg["X-Devmentor-Incident"] = n.incident_id
    msg["X-Devmentor-Kind"] = n.kind
    msg.set_content(n.body())
    return msg


# --------------------------------------------------------------------------- senders

Sender = Callable[["aiohttp.ClientSession", ChannelSettings, Notification], Awaitable[None]]


async def _post(
    session: aiohttp.ClientSession,
    channel: ChannelSettings,
    payload: dict[str, Any] | list[Any],
    headers: dict[str, str] | None = None,
    url: str | None = None,
) -> None:
    from devmentor_monitor.aio import aiohttp

    url = url or channel.url
    assert url is not None
    all_headers = {"User-Agent": USER_AGENT, **(headers or {})}
    try:
        async with session.post(
            url,
            json=payload,
            headers=all_headers,
            allow_redirects=False,
            timeout=aiohttp.ClientTimeout(total=channel.timeout),
        ) as resp:
            await resp.read()
            if 200 <= resp.status < 300:
                return
            raise DeliveryError(
                f"HTTP {resp.status} {resp.reason or ''}".strip(),
                permanent=resp.status in _PERMANENT_HTTP,
                retry_after=_retry_after(resp.headers.get("Retry-After")),
            )
    except DeliveryError:
        raise
    except TimeoutError:
        raise DeliveryError(f"timeout after {format_duration(channel.timeout)}") from None
    except aiohttp.ClientError as exc:
        raise DeliveryError(http_reason(exc)) from None
    except OSError as exc:
        raise DeliveryError(os_reason(exc)) from None


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def http_reason(exc: BaseException) -> str:
    """A short, secret-free reason for an aiohttp failure (no URL, no host path)."""
    from devmentor_monitor.aio import aiohttp

    dns = getattr(aiohttp, "ClientConnectorDNSError", None)
    if dns is not None and isinstance(exc, dns):
        return "DNS lookup failed"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return "TLS certificate not trusted"
    if isinstance(exc, aiohttp.ClientSSLError):
        return "TLS error"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return os_reason(exc.os_error)
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "server disconnected"
    if isinstance(exc, aiohttp.InvalidURL):
        return "invalid URL"
    if isinstance(exc, aiohttp.ClientPayloadError | aiohttp.ClientResponseError):
        return "bad response"
    return type(exc).__name__


def os_reason(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError) or getattr(exc, "errno", None) == errno.ECONNREFUSED:
        return "connection refused"
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timeout"
    if isinstance(exc, socket.gaierror):
        return "DNS lookup failed"
    if isinstance(exc, ConnectionResetError):
        return "connection reset"
    if isinstance(exc, ssl_error()):
        return "TLS error"
    code = getattr(exc, "errno", None)
    if code in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return "host unreachable"
    return mask(getattr(exc, "strerror", None) or type(exc).__name__)


async def send_webhook(
    session: aiohttp.ClientSession, channel: ChannelSettings, n: Notification
) -> None:
    await _post(session, channel, webhook_payload(n), dict(channel.headers))


async def send_slack(
    session: aiohttp.ClientSession, channel: ChannelSettings, n: Notification
) -> None:
    await _post(session, channel, slack_payload(n))


async def send_pagerduty(
    session: aiohttp.ClientSession, channel: ChannelSettings, n: Notification
) -> None:
    assert channel.routing_key is not None
    await _post(session, channel, pagerduty_payload(n, channel.routing_key))


async def send_alertmanager(
    session: aiohttp.ClientSession, channel: ChannelSettings, n: Notification
) -> None:
    assert channel.url is not None
    await _post(session, channel, alertmanager_alerts(n), url=alertmanager_url(channel.url))


def alertmanager_url(base: str) -> str:
    """The alerts endpoint under a base URL (which may have a path prefix of its own)."""
    parts = urlsplit(base)
    path = parts.path.rstrip("/")
    if not path.endswith(ALERTMANAGER_PATH):
        path += ALERTMANAGER_PATH
    return urlunsplit(parts._replace(path=path))


# apprise's own small pool: a hung plugin holds one of these, never a worker of the
# default pool that the rest of the monitor's blocking work (database, email) needs
_APPRISE_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="apprise")


async def send_apprise(
    session: aiohttp.ClientSession, channel: ChannelSettings, n: Notification
) -> None:
    # apprise blocks (requests, smtplib...), and its first Apprise().add() loads ~190
    # plugins (a third of a second): all of it runs in a worker thread of its own pool
    # (_APPRISE_POOL). apprise's async_notify was not used: the Apprise object would
    # still be built on the event loop, and it sends through apprise's own process-wide
    # executors, which no one shuts down. notify(timeout=) bounds the send (checked:
    # a server that never answers gives TIMEOUT after ~1.4 s at timeout 1 s); the
    # backstop here covers a plugin that ignores it (its thread then finishes in the
    # background, as with email).
    try:
        async with asyncio.timeout(channel.timeout * 3):
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(_APPRISE_POOL, _apprise_send, channel, n)
    except TimeoutError:
        raise DeliveryError(f"timeout after {format_duration(channel.timeout)}") from None


def _quiet_apprise() -> None:
    """apprise's logger stops at itself: its debug and warning lines carry URLs and
    tokens; what went wrong comes back as the DeliveryError instead. urllib3 (under
    requests, which apprise sends with) logs each request's path at debug level, and
    the path is often the token: it is held to warnings, as logs.py does for httpx."""
    log = logging.getLogger("apprise")
    if log.propagate:
        log.addHandler(logging.NullHandler())  # not Python's last-resort stderr handler
        log.propagate = False
        logging.getLogger("urllib3").setLevel(logging.WARNING)


def _apprise_send(channel: ChannelSettings, n: Notification) -> None:
    _quiet_apprise()
    import apprise  # on first use: not at start-up (headless sys.modules tests)

    assert channel.url is not None
    obj = apprise.Apprise()
    scheme = channel.url.partition("://")[0].lower()
    if not obj.add(channel.url):
        raise DeliveryError(f"apprise cannot use this {scheme}:// URL", permanent=True)
    try:
        result = obj.notify(
            body=n.body(),
            title=n.subject,
            notify_type=_APPRISE_TYPE.get(n.kind, "success"),
            timeout=channel.timeout,
        )
    except Exception as exc:  # a plugin's own bug: name it, never its message
        raise DeliveryError(f"apprise {scheme}: internal error ({type(exc).__name__})") from None
    if result:
        return
    if result.status == apprise.AppriseResultStatus.TIMEOUT:
        raise DeliveryError(f"timeout after {format_duration(channel.timeout)}")
    service = next((r.name for r in result), None) or scheme
    raise apprise_error(
        service, [e.message for e in result.logs() if e.level in ("WARNING", "ERROR")]
    )


_HTTP_CODE = re.compile(r"\berror=(\d{3})\b")


def apprise_error(service: str, messages: list[str]) -> DeliveryError:
    """A DeliveryError from apprise's log lines, without repeating them (they may name a
    chat id, a topic or a token): an HTTP status, a connection error, or just the service."""
    text = " ".join(messages)
    if m := _HTTP_CODE.search(text):
        code = int(m[1])
        return DeliveryError(f"{service}: HTTP {code}", permanent=code in _PERMANENT_HTTP)
    low = text.lower()
    if "connection error" in low or "connection refused" in low:
        return DeliveryError(f"{service}: connection error")
    if "timed out" in low or "timeout" in low:
        return DeliveryError(f"{service}: timeout")
    return DeliveryError(f"{service}: not delivered")


async def send_email(
    session: aiohttp.ClientSession, channel: ChannelSettings, n: Notification
) -> None:
    msg = email_message(n, channel)
    try:
        # smtplib blocks: it runs in a thread, bounded by its socket timeout, with a
        # backstop here in case a server trickles bytes forever.
        async with asyncio.timeout(channel.timeout * 3):
            await asyncio.to_thread(_smtp_send, channel, msg)
    except TimeoutError:
        raise DeliveryError(f"timeout after {format_duration(channel.timeout)}") from None


def _smtp_send(channel: ChannelSettings, msg: EmailMessage) -> None:
    import smtplib  # here: only an email channel needs it (~0.2 MiB at start otherwise)

    assert channel.smtp_host is not None
    try:
        with smtplib.SMTP(channel.smtp_host, channel.smtp_port, timeout=channel.timeout) as smtp:
            smtp.ehlo()
            if channel.starttls:
                import ssl  # smtplib has imported it

                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if channel.username is not None and channel.password is not None:
                smtp.login(channel.username, channel.password)
            smtp.send_message(msg)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = sorted({code for code, _ in exc.recipients.values()})
        raise DeliveryError(
            f"SMTP recipients refused ({', '.join(map(str, codes))})",
            permanent=all(c >= 500 for c in codes),
        ) from None
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryError(f"SMTP {exc.smtp_code} authentication failed", permanent=True) from None
    except smtplib.SMTPResponseException as exc:
        raise DeliveryError(
            f"SMTP {exc.smtp_code} {_smtp_text(exc.smtp_error)}".strip(),
            permanent=exc.smtp_code >= 500,
        ) from None
    except smtplib.SMTPNotSupportedError:
        raise DeliveryError("SMTP server does not offer STARTTLS or AUTH", permanent=True) from None
    except smtplib.SMTPServerDisconnected:
        raise DeliveryError("SMTP server disconnected") from None
    except smtplib.SMTPException as exc:
        raise DeliveryError(f"SMTP error ({type(exc).__name__})") from None
    except OSError as exc:
        raise DeliveryError(os_reason(exc)) from None


def _smtp_text(raw: bytes | str) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    first = text.splitlines()[0] if text else ""
    return mask(first[:80])


SENDERS: dict[str, Sender] = {
    "webhook": send_webhook,
    "slack": send_slack,
    "pagerduty": send_pagerduty,
    "email": send_email,
    "alertmanager": send_alertmanager,
    "apprise": send_apprise,
}
