"""Small rich renderers (bars, sparklines, status words, ellipses) used by the panes.

Pure functions. Durations, bytes and percents are formatted in ``units``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.text import Text

from devmentor_monitor.config.schema import Level
from devmentor_monitor.model import Health

SPARKS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float], width: int) -> str:
    """The last ``width`` values as block characters, scaled to their own range."""
    values = list(values)[-width:] if width > 0 else []
    if not values:
        return ""
    lo, hi = min(values), max(values)
    span = hi - lo
    if span <= 0:
        return SPARKS[0 if hi == 0 else 3] * len(values)
    return "".join(SPARKS[min(7, int((v - lo) / span * 7.999))] for v in values)


def level_style(value: float, level: Level, colors: Mapping[str, str]) -> str:
    if value >= level.alert:
        return colors.get("meter-alert", "red")
    if value >= level.warn:
        return colors.get("meter-warn", "yellow")
    return colors.get("meter-ok", "green")


def bar(percent: float, width: int, level: Level, colors: Mapping[str, str]) -> Text:
    """A meter like ``█████░░░░░``; colour from the thresholds, shape alone in monochrome."""
    width = max(1, width)
    filled = max(0, min(width, round(percent / 100 * width)))
    text = Text("█" * filled, style=level_style(percent, level, colors))
    text.append("░" * (width - filled), style=colors.get("meter-empty", "grey37"))
    return text


def status_text(status: Health, colors: Mapping[str, str]) -> Text:
    """The status word, always present, so it reads without colour too."""
    word = {"up": "UP", "degraded": "SLOW", "down": "DOWN", "unknown": "…"}[status.value]
    style = colors.get(f"status-{status.value}", "")
    return Text(word, style=f"bold {style}" if status is not Health.UNKNOWN else style)


def ellipsize(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def short_reason(error: str | None, width: int) -> str:
    """The gist of a failed check for a narrow cell: 'refused', 'timeout 2 s', 'HTTP 503'."""
    if not error:
        return "failed"
    if error == "connection refused":
        text = "refused"
    elif error.startswith("timeout after "):
        text = "timeout " + error.removeprefix("timeout after ")
    elif error.startswith("HTTP "):
        text = " ".join(error.split()[:2])
    else:
        text = error
    return ellipsize(text, width)
