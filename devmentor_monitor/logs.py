"""Structured log lines (logfmt) on stderr, with secrets masked before they are written."""

from __future__ import annotations

import logging
import re
import sys
import time

_SECRET_URL = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@/\s]+)@",
                         re.I)
_SECRET_KV = re.compile(
    r"(?P<k>(?:password|passwd|secret|token|api[_-]?key|authorization|routing[_-]?key)"
    r"[\"']?\s*[=:]\s*[\"']?)(?P<v>[^\s\"',&]+)", re.I)
_BARE = re.compile(r"^[A-Za-z0-9_./:@+-]+$")


def mask(text: str) -> str:
    """Hide credentials in URLs and key=value pairs: redis://:s3cret@h → redis://:***@h."""
    text = _SECRET_URL.sub(lambda m: f"{m['scheme']}{m['user']}:***@", text)
    return _SECRET_KV.sub(lambda m: f"{m['k']}***", text)


def _quote(value: object) -> str:
    text = mask(str(value))
    if text and _BARE.match(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


class LogfmtFormatter(logging.Formatter):
    """ts=… level=… logger=… msg="…" key=value … (one line per record)."""

    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        parts = [f"ts={ts}.{int(record.msecs):03d}Z", f"level={record.levelname.lower()}",
                 f"logger={record.name.removeprefix('devmentor_monitor.')}",
                 f"msg={_quote(record.getMessage())}"]
        for key, value in (getattr(record, "fields", None) or {}).items():
            parts.append(f"{key}={_quote(value)}")
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            parts.append(f"error={_quote(f'{type(exc).__name__}: {exc}')}")
            if record.levelno >= logging.ERROR:
                stack = self.formatException(record.exc_info)
                parts.append(f"stack={_quote(stack)}")
        return " ".join(parts)


def setup_logging(level: str = "info", stream=None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(LogfmtFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("httpx", "httpcore", "aiohttp.access", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
