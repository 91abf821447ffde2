"""The `notifications:` section of services.yaml → typed, validated channel settings.

Secrets (webhook URLs, header values, routing keys, passwords) are kept out of every
repr and every error message: a config error names the line and the key, never the value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Annotated, Any
from urllib.parse import urlsplit

import msgspec
from msgspec import Meta

from devmentor_monitor.config.reader import (
    AnyDuration,
    Duration,
    Fields,
    Nullable,
    Reader,
    read_struct,
    reads,
)
from devmentor_monitor.config.yaml_lines import Node

TYPES = ("webhook", "slack", "pagerduty", "email", "alertmanager", "apprise")
KINDS = ("open", "escalation", "acknowledged", "resolved")
PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"
# What each channel type is sent unless `events:` says otherwise. PagerDuty also gets
# acknowledgements so its incident follows ours; people are not paged for them.
DEFAULT_EVENTS = {
    "webhook": ("open", "escalation", "resolved"),
    "slack": ("open", "escalation", "resolved"),
    "pagerduty": ("open", "escalation", "acknowledged", "resolved"),
    "email": ("open", "escalation", "resolved"),
    "alertmanager": ("open", "escalation", "resolved"),
    "apprise": ("open", "escalation", "resolved"),
}
_APPRISE_URL = re.compile(r"^[a-z][a-z0-9+.-]*://\S+$", re.I)

_SECRET = frozenset({"url", "headers", "routing_key", "password"})


def _for(*types: str, read: str | None = None) -> Meta:
    """A channel key only these channel types may write (and how it is read)."""
    return Meta(extra={"for": types} | ({"read": read} if read else {}))


class ChannelSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One configured destination. Fields holding secrets are left out of repr()."""

    name: str
    """Unique among the channels."""
    type: str
    """webhook | slack | pagerduty | email | alertmanager | apprise."""
    url: Annotated[
        str | None,
        _for("webhook", "slack", "pagerduty", "alertmanager", "apprise", read="secret_url"),
    ] = None
    """Where to post; PagerDuty: its events API; Alertmanager: its base URL; apprise: an
    apprise URL (tgram://..., ntfy://..., json://...), all of it secret."""
    headers: Annotated[tuple[tuple[str, str], ...], _for("webhook", read="secrets"), Nullable] = ()
    """Sent with every post (secret values)."""
    routing_key: Annotated[str | None, _for("pagerduty", read="secret")] = None
    """The PagerDuty integration key."""
    smtp_host: Annotated[str | None, _for("email")] = msgspec.field(default=None, name="host")
    """The SMTP server."""
    smtp_port: Annotated[int, Meta(ge=1, le=65535), _for("email")] = msgspec.field(
        default=25, name="port"
    )
    """Default: 587 with starttls, else 25."""
    smtp_from: Annotated[str | None, _for("email")] = msgspec.field(default=None, name="from")
    """The sender's address."""
    smtp_to: Annotated[tuple[str, ...], _for("email", read="one_or_many")] = msgspec.field(
        default=(), name="to"
    )
    """An address or a list of them."""
    username: Annotated[str | None, _for("email"), Nullable] = None
    """SMTP login; goes with password."""
    password: Annotated[str | None, _for("email", read="secret"), Nullable] = None
    """SMTP password; goes with username."""
    starttls: Annotated[bool, _for("email")] = False
    """Upgrade the connection with STARTTLS."""
    timeout: Duration = 10.0
    """A send is given up after this long (and retried)."""
    events: Annotated[tuple[str, ...], Meta(extra={"read": "kinds"})] = (
        "open",
        "escalation",
        "resolved",
    )
    """What is sent; default by type (DEFAULT_EVENTS)."""

    def __repr__(self) -> str:  # secrets (url, headers, routing_key, password) left out
        shown = [f"{k}={getattr(self, k)!r}" for k in self.__struct_fields__ if k not in _SECRET]
        return f"ChannelSettings({', '.join(shown)})"

    def wants(self, kind: str) -> bool:
        return kind in self.events

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every secret this channel holds (for tests and for scrubbing text)."""
        out = [v for v in (self.routing_key, self.password) if v]
        out += [v for _, v in self.headers if v]
        if self.url and self.type == "apprise":  # tokens sit anywhere after the scheme
            out.append(self.url.partition("://")[2])
        if self.url:
            parts = urlsplit(self.url)
            out += [p for p in (parts.path.strip("/"), parts.query, parts.password) if p]
        return tuple(out)


class NotifySettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The `notifications:` section."""

    channels: tuple[ChannelSettings, ...] = ()
    """Where notifications go."""
    escalate_after: AnyDuration = 900.0
    """An incident unacknowledged this long is escalated; 0 = never."""
    retry_base: Duration = msgspec.field(default=2.0, name="retry.base")
    """The first retry's wait; it doubles up to retry.max."""
    retry_max: Duration = msgspec.field(default=300.0, name="retry.max")
    """The longest wait between retries."""
    max_attempts: Annotated[int, Meta(ge=1, le=1000)] = msgspec.field(
        default=10, name="retry.attempts"
    )
    """Sends tried at most."""
    monitor_url: Annotated[str | None, Meta(extra={"read": "url"}), Nullable] = None
    """A link put into notifications (the dashboard), optional."""

    def channel(self, name: str) -> ChannelSettings | None:
        return next((c for c in self.channels if c.name == name), None)


# --------------------------------------------------------------------------- parsing


def parse_notifications(r: Reader, node: Node | None) -> NotifySettings:
    """Validate a top-level `notifications:` section (None or empty → no channels)."""
    settings = read_struct(r, NotifySettings, node, "notifications", channels=())
    if settings.retry_base > settings.retry_max:
        assert node is not None
        base, cap = settings.retry_base, settings.retry_max
        raise r.fail(
            node.value["retry"], "notifications.retry", f"base ({base:g}s) is above max ({cap:g}s)"
        )
    if node is None or node.value is None:
        return settings
    channels = _channels(r, node.value.get("channels"))
    return msgspec.structs.replace(settings, channels=channels)


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
    f = Fields(  # unknown keys, for this type
        r, ChannelSettings, item, key, only=lambda meta: kind in meta.get("for", (kind,))
    )
    common = {
        "name": name,
        "type": kind,
        "timeout": f.read("timeout"),
        "events": f.read("events", DEFAULT_EVENTS[kind]),
    }
    return _PARSERS[kind](r, item, f, key, common)


def _require(r: Reader, item: Node, f: Fields, key: str, name: str, why: str = "") -> Any:
    node = f.node(name)
    if node is None or node.value is None:
        raise r.fail(item, key, f"missing required key '{f.fields[name].encode_name}'{why}")
    return f.read(name)


@reads("kinds")
def _kinds(r: Reader, node: Node, key: str, meta: Meta, extra: dict[str, Any]) -> tuple[str, ...]:
    names = r.str_list(node, key)
    for i, name in enumerate(names):
        if name not in KINDS:
            raise r.fail(
                node.value[i], f"{key}[{i}]", f"must be one of {', '.join(KINDS)}, got {name!r}"
            )
    return tuple(dict.fromkeys(names))


@reads("one_or_many")
def _one_or_many(
    r: Reader, node: Node, key: str, meta: Meta, extra: dict[str, Any]
) -> tuple[str, ...]:
    return (r.string(node, key),) if isinstance(node.value, str) else r.str_list(node, key)


@reads("secret")
def _secret(r: Reader, node: Node, key: str, meta: Meta, extra: dict[str, Any]) -> str:
    """A secret string; the error never repeats the value."""
    if isinstance(node.value, int | float) and not isinstance(node.value, bool):
        raise r.fail(node, key, "must be a string (quote it; value not shown)")
    if not isinstance(node.value, str) or not node.value.strip():
        raise r.fail(node, key, "must be a non-empty string")
    return node.value


@reads("secrets")
def _secrets(
    r: Reader, node: Node, key: str, meta: Meta, extra: dict[str, Any]
) -> tuple[tuple[str, str], ...]:
    hm = r.mapping(node, key, None)
    return tuple((h, _secret(r, v, f"{key}.{h}", meta, extra)) for h, v in hm.items())


@reads("secret_url")
def _secret_url(r: Reader, node: Node, key: str, meta: Meta, extra: dict[str, Any]) -> str:
    """An http(s) URL that may carry a token; errors name the problem, not the URL."""
    text: str = _secret(r, node, key, meta, extra)
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


def _webhook(r: Reader, item: Node, f: Fields, key: str, common: dict[str, Any]) -> ChannelSettings:
    url = _require(r, item, f, key, "url")
    return ChannelSettings(url=url, headers=f.read("headers"), **common)


def _slack(r: Reader, item: Node, f: Fields, key: str, common: dict[str, Any]) -> ChannelSettings:
    hint = " (the incoming-webhook URL, e.g. ${SLACK_WEBHOOK_URL})"
    return ChannelSettings(url=_require(r, item, f, key, "url", hint), **common)


def _pagerduty(
    r: Reader, item: Node, f: Fields, key: str, common: dict[str, Any]
) -> ChannelSettings:
    hint = " (the integration key, e.g. ${PD_ROUTING_KEY})"
    routing_key: str = _require(r, item, f, key, "routing_key", hint)
    url = f.read("url", PAGERDUTY_URL)
    return ChannelSettings(url=url, routing_key=routing_key.strip(), **common)


def _alertmanager(
    r: Reader, item: Node, f: Fields, key: str, common: dict[str, Any]
) -> ChannelSettings:
    hint = " (the Alertmanager's base URL, e.g. http://alertmanager:9093)"
    return ChannelSettings(url=_require(r, item, f, key, "url", hint), **common)


def _apprise(r: Reader, item: Node, f: Fields, key: str, common: dict[str, Any]) -> ChannelSettings:
    """Any apprise URL: its scheme names the service; whether apprise knows that scheme is
    found at the first send (importing apprise here would cost every start-up)."""
    node = f.node("url")
    if node is None or node.value is None:
        hint = " (an apprise URL, e.g. ${APPRISE_URL} = tgram://bottoken/chatid)"
        raise r.fail(item, key, f"missing required key 'url'{hint}")
    text = _secret(r, node, f"{key}.url", Meta(), {}).strip()
    if not _APPRISE_URL.match(text):
        why = "malformed apprise URL: expected scheme://... (value not shown)"
        raise r.fail(node, f"{key}.url", why)
    return ChannelSettings(url=text, **common)


def _email(r: Reader, item: Node, f: Fields, key: str, common: dict[str, Any]) -> ChannelSettings:
    host = _require(r, item, f, key, "smtp_host")
    sender = _require(r, item, f, key, "smtp_from")
    to = _require(r, item, f, key, "smtp_to")
    to_node = f.node("smtp_to")
    if not to:
        raise r.fail(to_node, f"{key}.to", "must name at least one recipient")
    for i, addr in enumerate((sender, *to)):
        if "@" not in addr or any(c in addr for c in "\r\n"):
            what = f"{key}.from" if i == 0 else f"{key}.to"
            raise r.fail(
                f.node("smtp_from") if i == 0 else to_node,
                what,
                f"{addr!r} is not an email address",
            )
    username, password = f.read("username"), f.read("password")
    if (username is None) != (password is None):
        raise r.fail(item, key, "username and password go together (give both or neither)")
    starttls = f.read("starttls")
    return ChannelSettings(
        smtp_host=host,
        smtp_port=f.read("smtp_port", 587 if starttls else 25),
        smtp_from=sender,
        smtp_to=to,
        username=username,
        password=password,
        starttls=starttls,
        **common,
    )


_Parser = Callable[[Reader, Node, Fields, str, dict[str, Any]], ChannelSettings]
_PARSERS: dict[str, _Parser] = {
    "webhook": _webhook,
    "slack": _slack,
    "pagerduty": _pagerduty,
    "email": _email,
    "alertmanager": _alertmanager,
    "apprise": _apprise,
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
    if channel.type == "apprise":  # after the scheme, even the "host" may be a token
        return f"{label} → {(channel.url or '?').partition('://')[0].lower()}://"
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
