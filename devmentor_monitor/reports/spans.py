"""A report's period (`report --since`, `since=`): its bounds and its parser.

Apart from model.py so that the command line, built at every start, need not import the
report records (~9 ms of dataclasses before `ultra`'s first frame).
"""

from __future__ import annotations

from devmentor_monitor.units import parse_duration

MIN_SPAN = 60.0  # --since / since=: a minute ...
MAX_SPAN = 366 * 86400.0  # ... to a year; the hour rollups hold retention.metrics (30 d)
SPAN_WORDS = ("1m", "366d")


def parse_span(text: str) -> float:
    """``7d``, ``24h``... as seconds, within [MIN_SPAN, MAX_SPAN]; ValueError says why."""
    seconds = parse_duration(text)
    if not MIN_SPAN <= seconds <= MAX_SPAN:
        raise ValueError(f"must be between {SPAN_WORDS[0]} and {SPAN_WORDS[1]}, got {text!r}")
    return seconds
