"""Parsing of durations, and the one place that formats durations, bytes and percents.

Shared by config, API, notifications, predictions and views; pure functions, no imports
beyond the standard library.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_FACTORS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def parse_duration(value: object) -> float:
    """Seconds from ``10s``, ``250ms``, ``5m``, ``7d`` or a bare number of seconds.

    Raises ValueError with a short reason on anything else.
    """
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 10s, 500ms, 5m or 7d")
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str):
        raise ValueError("expected a duration such as 10s, 500ms, 5m or 7d")
    match = _DURATION.match(value)
    if not match:
        raise ValueError(f"malformed duration {value!r} (use e.g. 10s, 500ms, 5m, 7d)")
    number, unit = match.groups()
    return float(number) * _FACTORS[unit or "s"]


_UNIX_TIME = r"[0-9]{1,12}(\.[0-9]{1,6})?"
_AGO = r"[0-9]{1,9}(\.[0-9]{1,6})?(ms|s|m|h|d|w)"
_ISO_TIME = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})?)?"
)
# What `parse_since` takes, as the API's OpenAPI document states it.
SINCE_PATTERN = f"^({_UNIX_TIME}|{_AGO}|{_ISO_TIME})$"
SINCE_WORDS = "a Unix time (1700000000), an ISO 8601 time (2026-03-01T02:00:00Z; UTC unless "
SINCE_WORDS += "it has an offset) or a duration ago (15m, 1h, 7d)"


def parse_since(text: str, now: float) -> float:
    """Epoch seconds from a Unix time, an ISO 8601 date or date-time, or a duration before
    ``now``; ValueError saying what is expected otherwise."""
    if re.fullmatch(_UNIX_TIME, text, re.ASCII):
        return float(text)
    if re.fullmatch(_AGO, text, re.ASCII):
        return now - parse_duration(text)
    if re.fullmatch(_ISO_TIME, text, re.ASCII):
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:  # the shape is right, the date is not (2026-02-30)
            raise ValueError(f"no such time: {text!r}") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.timestamp()
    raise ValueError(f"expected {SINCE_WORDS}, got {text!r}")


def format_duration(seconds: float) -> str:
    """Short human form: 250ms, 10s, 5m, 2h, 7d, 1h30m."""
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:g}s" if seconds == int(seconds) else f"{seconds:.1f}s"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            whole, rest = divmod(int(seconds), size)
            if rest == 0 or unit == "m":
                return f"{whole}{unit}" + (f"{rest}s" if unit == "m" and rest else "")
            sub = {"d": ("h", 3600), "h": ("m", 60)}[unit]
            return f"{whole}{unit}{rest // sub[1]}{sub[0]}"
    return f"{seconds:.0f}s"  # pragma: no cover


def format_bytes(value: float) -> str:
    """1.5 GiB style, for screens and tables."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} PiB"  # pragma: no cover


def human_duration(seconds: float) -> str:
    """`1 h 40 m`, `3 d 2 h`, `45 s`: two units at most, for explanations."""
    s = max(0, round(seconds))
    for unit, size, sub, subsize in (
        ("d", 86400, "h", 3600),
        ("h", 3600, "m", 60),
        ("m", 60, "s", 1),
    ):
        if s >= size:
            whole, rest = divmod(s, size)
            part = rest // subsize
            return f"{whole} {unit} {part} {sub}" if part else f"{whole} {unit}"
    return f"{s} s"


def format_age(seconds: float | None) -> str:
    """`5m ago`, `now`, `never`: how long since something happened."""
    if seconds is None:
        return "never"
    if seconds < 1:
        return "now"
    return f"{format_duration(round(seconds))} ago"


def coarse_age(seconds: float) -> str:
    """`<10s`, `20s`, `3m`, `5h`, `2d`: an age in steps, as k9s's AGE column shows it.

    For table cells redrawn every second: a service checked every 10 s reads `<10s`
    between checks, so its row is not redrawn each tick for an age that moved by one
    (at 1,000 services the headless tick cost ~24% less: 93 -> 71 ms median,
    bench/tui_fleet_tick.py visible_fine_age vs visible).
    Each step is the whole tens of seconds, minutes, hours or days passed."""
    if seconds < 10:
        return "<10s"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds // 10) * 10}s"


def format_rate(bytes_per_s: float | None) -> str:
    """`1.5 MiB/s`, or `–` when unknown."""
    return "–" if bytes_per_s is None else f"{format_bytes(bytes_per_s)}/s"


def format_ms(seconds: float | None) -> str:
    """A latency in milliseconds: `12 ms`, `1.5 ms`, or `–` when unknown."""
    if seconds is None:
        return "–"
    value = seconds * 1000
    return f"{value:.0f} ms" if value >= 10 else f"{value:.1f} ms"


def format_percent(value: float | None, digits: int = 2) -> str:
    """`99.95 %`, or `–` when unknown."""
    return "–" if value is None else f"{value:.{digits}f} %"
