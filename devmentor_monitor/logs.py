"""Structured log lines (logfmt) on stderr, with secrets masked before they are written.

The formatter masks every part of a record (message, fields, error, stack) with
`devmentor_monitor.masking.mask`, so no logger anywhere needs to remember to; `mask` and
`mask_url` are re-exported here for the modules that import them from logs."""

from __future__ import annotations

import logging
import re
import sys
import time
from typing import TextIO

from devmentor_monitor.masking import MASK, mask, mask_url, secret_key, secret_param

__all__ = ["MASK", "LogfmtFormatter", "mask", "mask_url", "secret_param", "setup_logging"]

_BARE = re.compile(r"^[A-Za-z0-9_./:@+-]+$")


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
            parts.append(f"{key}={MASK if secret_key(key) else _quote(value)}")
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
