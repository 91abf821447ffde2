"""Structured log lines (logfmt) on stderr, with secrets masked before they are written."""

from __future__ import annotations

import logging
import re
import sys
import time
from typing import TextIO
from urllib.parse import unquote, urlsplit, urlunsplit

_URL = re.compile(r"[a-z][a-z0-9+.-]*://[^\s\"'<>]*[^\s\"'<>.,;:!?)\]}]", re.I)
_SECRET_URL = re.compile(
    r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@/\s]+)@", re.I
)
_SECRET_KV = re.compile(
    r"(?P<k>(?:password|passwd|secret|token|api[_-]?key|authorization|routing[_-]?key)"
    r"[\"']?\s*[=:]\s*[\"']?)(?!\*\*\*)(?P<v>[^\s\"',&]+)",
    re.I,
)
_BARE = re.compile(r"^[A-Za-z0-9_./:@+-]+$")

# Query parameters whose value is a credential: exact names, and words inside a name
# (access_token, client_secret, X-Amz-Signature, private_key, ...).
_SECRET_PARAMS = frozenset({"key", "sig", "pass", "pw", "code", "jwt", "sid"})
_SECRET_WORDS = (
    "token",
    "secret",
    "passw",
    "pwd",
    "auth",
    "signature",
    "credential",
    "apikey",
    "api_key",
    "api-key",
    "private",
    "session",
)
MASK = "***"


def mask(text: str) -> str:
    """Hide credentials in free text: every URL as `mask_url` shows it, then key=value
    pairs (password=..., token: ...), so a log line or error leaks neither."""
    text = _URL.sub(lambda m: mask_url(m[0]), text)
    return _SECRET_KV.sub(lambda m: f"{m['k']}{MASK}", text)


def mask_url(url: str, *, path: bool = False) -> str:
    """A URL fit to show anyone: the password (or a lone user name, often a token) and
    token-like query values become ***; the scheme, host, port and path stay, so a reader
    still sees where it points. ``path=True`` hides the path as well: a webhook's path
    is its token (https://hooks.example/T0/B0/XXXX)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a malformed port, like every reader will
    except ValueError:  # still hide what can be found
        head, q, query = _SECRET_URL.sub(
            lambda m: f"{m['scheme']}{m['user']}:{MASK}@", url
        ).partition("?")
        return head + q + _mask_params(query)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user, colon, _ = userinfo.partition(":")
        netloc = f"{user}:{MASK}@{hostport}" if colon else f"{MASK}@{hostport}"
    shown_path = f"/{MASK}" if path and parts.path.strip("/") else parts.path
    query = (MASK if parts.query else "") if path else _mask_params(parts.query)
    return urlunsplit((parts.scheme, netloc, shown_path, query, _mask_params(parts.fragment)))


def _mask_params(query: str) -> str:
    """a=1&token=xyz → a=1&token=***, each pair kept as it was written otherwise."""
    if "=" not in query:
        return query
    out = []
    for pair in query.split("&"):
        name, eq, value = pair.partition("=")
        out.append(f"{name}={MASK}" if eq and value and secret_param(name) else pair)
    return "&".join(out)


def secret_param(name: str) -> bool:
    """Whether a query parameter (or header) named so carries a credential."""
    low = unquote(name).strip().lower()
    return (
        low in _SECRET_PARAMS
        or low.endswith(("_key", "-key", ".key"))
        or any(word in low for word in _SECRET_WORDS)
    )


def _quote(value: object) -> str:
    text = mask(str(value))
    if text and _BARE.match(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


class LogfmtFormatter(logging.Formatter):
    """ts=… level=… logger=… msg="…" key=value … (one line per record)."""

    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        parts = [
            f"ts={ts}.{int(record.msecs):03d}Z",
            f"level={record.levelname.lower()}",
            f"logger={record.name.removeprefix('devmentor_monitor.')}",
            f"msg={_quote(record.getMessage())}",
        ]
        for key, value in (getattr(record, "fields", None) or {}).items():
            parts.append(f"{key}={_quote(value)}")
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            parts.append(f"error={_quote(f'{type(exc).__name__}: {exc}')}")
            if record.levelno >= logging.ERROR:
                stack = self.formatException(record.exc_info)
                parts.append(f"stack={_quote(stack)}")
        return " ".join(parts)


def setup_logging(level: str = "info", stream: TextIO | None = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(LogfmtFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("httpx", "httpcore", "aiohttp.access", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
