"""Small rich renderers (bars, sparklines, status words, ellipses) used by the panes.

Pure functions. Durations, bytes and percents are formatted in ``units``."""

from __future__ import annotations

import re
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


def status_text(status: Health, colors: Mapping[str, str], *, stale: bool = False) -> Text:
    """The status word, always present, so it reads without colour too; ``stale``: the
    last known one (no check yet since the start), dim."""
    word = {"up": "UP", "degraded": "SLOW", "down": "DOWN", "unknown": "…"}[status.value]
    style = colors.get(f"status-{status.value}", "")
    if stale:
        return Text(word, style=f"dim {style}".strip())
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


def flow(parts: Sequence[str | Text], width: int, *, sep: str = "  ", indent: str = "  ") -> Text:
    """``parts`` on one line, broken between parts (never inside one, so a figure such
    as `100.00 %` stays whole) where the next would pass ``width``; later lines are
    indented, a part too long for a line ends in an ellipsis. ``width`` 0: one line."""
    return _flow([(Text(p) if isinstance(p, str) else p, sep) for p in parts], width, indent)


def _flow(parts: Sequence[tuple[Text, str]], width: int, indent: str = "  ") -> Text:
    """`flow` with each part's own separator from the part before it."""
    out = Text()
    used = 0
    for part, sep in parts:
        piece = part.copy()
        gap = len(sep) if used else 0
        if width and used and used + gap + piece.cell_len > width:
            out.append("\n" + indent)
            used, gap = len(indent), 0
        if width and used + gap + piece.cell_len > width:
            piece.truncate(max(1, width - used - gap - 1))
            piece.append("…")
        if gap:
            out.append(sep)
        out.append_text(piece)
        used += gap + piece.cell_len
    return out


def reflow(text: Text, width: int) -> Text:
    """``text`` fitted to ``width`` line by line with `flow`: its parts are what two
    spaces separate (figures keep single spaces: `p95 14 ms`); a part wider than a line
    breaks between its words instead."""
    if width <= 0:
        return text
    out = Text()
    for n, line in enumerate(text.split("\n", allow_blank=True)):
        if n:
            out.append("\n")
        parts: list[tuple[Text, str]] = []
        for piece in _cut(line, r"  +"):
            if piece.cell_len > width:
                words = _cut(piece, " ")
                parts += [(w, "  " if i == 0 else " ") for i, w in enumerate(words)]
            else:
                parts.append((piece, "  "))
        out.append_text(_flow(parts, width))
    return out


def _cut(line: Text, gap: str) -> list[Text]:
    """``line`` split at the runs of spaces matching ``gap`` (styles kept, spaces gone)."""
    out: list[Text] = []
    start = 0
    for m in re.finditer(gap, line.plain):
        if m.start() > start:
            out.append(line[start : m.start()])
        start = m.end()
    if start < len(line.plain):
        out.append(line[start:])
    return out


def clamp(text: Text, width: int, lines: int) -> Text:
    """``text`` reflowed to ``width``, at most ``lines`` lines; the last one ends in an
    ellipsis if anything was left out."""
    rows = reflow(text, width).split("\n", allow_blank=True)
    if len(rows) <= lines:
        return Text("\n").join(rows)
    last = rows[lines - 1]
    if width and last.cell_len >= width:
        last.truncate(width - 1)
    last.append("…")
    return Text("\n").join([*rows[: lines - 1], last])
