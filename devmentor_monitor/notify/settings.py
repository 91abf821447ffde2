"""The `notifications:` section of services.yaml → typed, validated channel settings.

Secrets (webhook URLs, header values, routing keys, passwords) are kept out of every
repr and every error message: a config error names the line and the key, never the value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ..config_reader import Reader
from ..yamlsource import Node

TYPES = ("webhook", "slack", "pagerduty", "email")
KINDS = ("open", "escalation", "acknowledged", "resolved")
PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"
# What each channel type is sent unless `events:` says otherwise. PagerDuty also gets
# acknowledgements so its incident follows ours; people are not paged for them.
DEFAULT_EVENTS = {
    "webhook": ("open", "escalation", "resolved"),
    "slack": ("open", "escalation", "resolved"),
    "pagerduty": ("open", "escalation", "acknowledged", "resolved"),
    "email": ("open", "escalation", "resolved"),
}

_COMMON_KEYS = {"name", "type", "timeout", "events"}
_TYPE_KEYS = {
    "webhook": {"url", "headers"},
    "slack": {"url"},
    "pagerduty": {"routing_key", "url"},
    "email": {"host", "port", "from", "to", "username", "password", "starttls"},
}
_TOP_KEYS = {"escalate_after", "retry", "channels", "monitor_url"}


@dataclass(frozen=True, slots=True)
class ChannelSettings:
    """One configured destination. Fields holding secrets are left out of repr()."""

    name: str
    type: str  # webhook | slack | pagerduty | email
    url: str | None = field(default=None, repr=False)
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    routing_key: str | None = field(default=None, repr=False)
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str | None = None
    smtp_to: tuple[str, ...] = ()
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = False
    timeout: float = 10.0
    events: tuple[str, ...] = ("open", "escalation", "resolved")

    def wants(self, kind: str) -> bool:
        return kind in self.events

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every secret this channel holds (for tests and for scrubbing text)."""
        out = [v for v in (self.routing_key, self.password) if v]
        out += [v for _, v in self.headers if v]
        if self.url:
            parts = urlsplit(self.url)
            out += [p for p in (parts.path.strip("/"), parts.query, parts.password) if p]
        return tuple(out)


@dataclass(frozen=True, slots=True)
class NotifySettings:
    channels: tuple[ChannelSettings, ...] = ()
    escalate_after: float = 900.0  # seconds an incident may stay unacknowledged; 0 = never
    retry_base: float = 2.0
    retry_max: float = 300.0
    max_attempts: int = 10
    monitor_url: str | None = None  # link put into notifications (the dashboard), optional

    def channel(self, name: str) -> ChannelSettings | None:
        return next((c for c in self.channels if c.name == name), None)


# --------------------------------------------------------------------------- parsing


def parse_notifications(r: Reader, node: Node | None) -> NotifySettings:
    """Validate a top-level `notifications:` section (None or empty → no channels)."""
    if node is None or node.value is None:
        return NotifySettings()
    top = r.mapping(node, "notifications", _TOP_KEYS)
    escalate_after = 900.0
    if "escalate_after" in top:
        escalate_after = r.duration(
            top["escalate_after"], "notifications.escalate_after", positive=False
        )
    base, cap, attempts = 2.0, 300.0, 10
    if "retry" in top and top["retry"].value is not None:
        rm = r.mapping(top["retry"], "notifications.retry", {"base", "max", "attempts"})
        if "base" in rm:
            base = r.duration(rm["base"], "notifications.retry.base")
        if "max" in rm:
            cap = r.duration(rm["max"], "notifications.retry.max")
        if "attempts" in rm:
            attempts = r.integer(rm["attempts"], "notifications.retry.attempts", lo=1, hi=1000)
        if base > cap:
            raise r.fail(
                top["retry"], "notifications.retry", f"base ({base:g}s) is above max ({cap:g}s)"
            )
    monitor_url = None
    if "monitor_url" in top and top["monitor_url"].value is not None:
        monitor_url = r.url(top["monitor_url"], "notifications.monitor_url")
    channels = _channels(r, top.get("channels"))
    return NotifySettings(
        channels=channels,
        escalate_after=escalate_after,
        retry_base=base,
        retry_max=cap,
        max_attempts=attempts,
        monitor_url=monitor_url,
    )


def _channels(r: Reader, node: Node | None) -> tuple[ChannelSettings, ...]:
    out: list[ChannelSettings] = []
    for name, key, item, m in r.named_items(node, "notifications.channels", "channel"):
        with r.noting():  # the next channel is still checked
            out.append(_channel(r, name, key, item, m))
    return tuple(out)


def _channel(r: Reader, name: str, key: str, item: Node, m: dict[str, Node]) -> ChannelSettings:
    if "type" not in m:
        raise r.fail(item, key, f"missing required key 'type' (one of {', '.join(TYPES)})")
    kind = r.string(m["type"], f"{key}.type")
    if kind not in TYPES:
        raise r.fail(m["type"], f"{key}.type", f"must be one of {', '.join(TYPES)}, got {kind!r}")
    r.mapping(item, key, _COMMON_KEYS | _TYPE_KEYS[kind])  # unknown keys, for this type
    common = {
        "name": name,
        "type": kind,
        "timeout": r.duration(m["timeout"], f"{key}.timeout") if "timeout" in m else 10.0,
        "events": _events(r, m["events"], f"{key}.events")
        if "events" in m
        else DEFAULT_EVENTS[kind],
    }
    return _PARSERS[kind](r, item, m, key, common)


def _events(r: Reader, node: Node, key: str) -> tuple[str, ...]:
    names = r.str_list(node, key)
    for i, name in enumerate(names):
        if name not in KINDS:
            raise r.fail(
                node.value[i], f"{key}[{i}]", f"must be one of {', '.join(KINDS)}, got {name!r}"
            )
    return tuple(dict.fromkeys(names))


def _require(r: Reader, item: Node, m: dict[str, Node], key: str, name: str, why: str = "") -> Node:
    node = m.get(name)
    if node is None or node.value is None:
        raise r.fail(item, key, f"missing required key '{name}'{why}")
    return node


def _secret(r: Reader, node: Node, key: str) -> str:
    """A secret string; the error never repeats the value."""
    if isinstance(node.value, int | float) and not isinstance(node.value, bool):
        raise r.fail(node, key, "must be a string (quote it; value not shown)")
    if not isinstance(node.value, str) or not node.value.strip():
        raise r.fail(node, key, "must be a non-empty string")
    return node.value


def _secret_url(r: Reader, node: Node, key: str) -> str:
    """An http(s) URL that may carry a token; errors name the problem, not the URL."""
    text = _secret(r, node, key)
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:
        raise r.fail(node, key, "malformed URL (value not shown)") from None
    if parts.scheme not in ("http", "https"):
        raise r.fail(node, key, "malformed URL: scheme must be http or https (value not shown)")
    if not parts.hostname:
        raise r.fail(node, key, "malformed URL: no host (value not shown)")
    if port == 0:
        raise r.fail(node, key, "malformed URL: port 0")
    return text.strip()


def _webhook(
    r: Reader, item: Node, m: dict[str, Node], key: str, common: dict[str, Any]
) -> ChannelSettings:
    url = _secret_url(r, _require(r, item, m, key, "url"), f"{key}.url")
    headers: tuple[tuple[str, str], ...] = ()
    if "headers" in m and m["headers"].value is not None:
        hm = r.mapping(m["headers"], f"{key}.headers", None)
        headers = tuple((h, _secret(r, v, f"{key}.headers.{h}")) for h, v in hm.items())
    return ChannelSettings(url=url, headers=headers, **common)


def _slack(
    r: Reader, item: Node, m: dict[str, Node], key: str, common: dict[str, Any]
) -> ChannelSettings:
    url = _secret_url(
        r,
        _require(r, item, m, key, "url", " (the incoming-webhook URL, e.g. ${SLACK_WEBHOOK_URL})"),
        f"{key}.url",
    )
    return ChannelSettings(url=url, **common)


def _pagerduty(
    r: Reader, item: Node, m: dict[str, Node], key: str, common: dict[str, Any]
) -> ChannelSettings:
    routing_key = _secret(
        r,
        _require(r, item, m, key, "routing_key", " (the integration key, e.g. ${PD_ROUTING_KEY})"),
        f"{key}.routing_key",
    )
    url = _secret_url(r, m["url"], f"{key}.url") if "url" in m else PAGERDUTY_URL
    return ChannelSettings(url=url, routing_key=routing_key.strip(), **common)


def _email(
    r: Reader, item: Node, m: dict[str, Node], key: str, common: dict[str, Any]
) -> ChannelSettings:
    host = r.string(_require(r, item, m, key, "host"), f"{key}.host")
    sender = r.string(_require(r, item, m, key, "from"), f"{key}.from")
    to_node = _require(r, item, m, key, "to")
    to = (
        (r.string(to_node, f"{key}.to"),)
        if isinstance(to_node.value, str)
        else r.str_list(to_node, f"{key}.to")
    )
    if not to:
        raise r.fail(to_node, f"{key}.to", "must name at least one recipient")
    for i, addr in enumerate((sender, *to)):
        if "@" not in addr or any(c in addr for c in "\r\n"):
            what = f"{key}.from" if i == 0 else f"{key}.to"
            raise r.fail(
                m["from"] if i == 0 else to_node, what, f"{addr!r} is not an email address"
            )
    username = (
        r.string(m["username"], f"{key}.username")
        if "username" in m and m["username"].value is not None
        else None
    )
    password = (
        _secret(r, m["password"], f"{key}.password")
        if "password" in m and m["password"].value is not None
        else None
    )
    if (username is None) != (password is None):
        raise r.fail(item, key, "username and password go together (give both or neither)")
    starttls = r.boolean(m["starttls"], f"{key}.starttls") if "starttls" in m else False
    port = (
        r.integer(m["port"], f"{key}.port", lo=1, hi=65535)
        if "port" in m
        else (587 if starttls else 25)
    )
    return ChannelSettings(
        smtp_host=host,
        smtp_port=port,
        smtp_from=sender,
        smtp_to=to,
        username=username,
        password=password,
        starttls=starttls,
        **common,
    )


_Parser = Callable[[Reader, Node, dict[str, Node], str, dict[str, Any]], ChannelSettings]
_PARSERS: dict[str, _Parser] = {
    "webhook": _webhook,
    "slack": _slack,
    "pagerduty": _pagerduty,
    "email": _email,
}


# --------------------------------------------------------------------------- selection


def unknown_channels(settings: NotifySettings, names: Iterable[str]) -> tuple[str, ...]:
    """Entries of ALERT_CHANNELS that match no configured channel name or type."""
    return tuple(n for n in names if not any(n in (c.name, c.type) for c in settings.channels))


def active_channels(
    settings: NotifySettings, alert_channels: Iterable[str] = ()
) -> tuple[ChannelSettings, ...]:
    """The channels to use: all configured ones, or those ALERT_CHANNELS names.

    Each ALERT_CHANNELS entry is a channel name or a type ("slack,email"). An entry
    matching nothing raises ValueError with a message fit to show as it is.
    """
    wanted = tuple(n.strip() for n in alert_channels if n.strip())
    if not wanted:
        return settings.channels
    unknown = unknown_channels(settings, wanted)
    if unknown:
        configured = ", ".join(f"{c.name} ({c.type})" for c in settings.channels) or "none"
        plural = "s" if len(unknown) > 1 else ""
        raise ValueError(
            f"ALERT_CHANNELS names channel{plural} {', '.join(unknown)} that "
            f"notifications.channels does not configure (configured: {configured})"
        )
    return tuple(c for c in settings.channels if c.name in wanted or c.type in wanted)


def describe(channel: ChannelSettings) -> str:
    """A line safe to show anywhere: name, type and host, never a path, key or password."""
    label = channel.type if channel.name == channel.type else f"{channel.name} ({channel.type})"
    if channel.type == "email":
        port = "" if channel.smtp_port == 25 else f":{channel.smtp_port}"
        tls = ", starttls" if channel.starttls else ""
        return f"{label} → {', '.join(channel.smtp_to)} via {channel.smtp_host}{port}{tls}"
    return f"{label} → {_host(channel.url)}"


def _host(url: str | None) -> str:
    if not url:
        return "?"
    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "?", parts.port
    except ValueError:
        return "?"
    return f"{host}:{port}" if port else host
