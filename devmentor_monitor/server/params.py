"""Query-parameter parsers shared by the API handlers (a ValueError becomes a 400)."""

from __future__ import annotations

import time
from collections.abc import Callable

from ..units import parse_duration


def since(raw: str) -> float:
    """A Unix time, or a duration meaning 'that long ago' (1h, 7d)."""
    try:
        return float(raw)
    except ValueError:
        return time.time() - parse_duration(raw)


def int_between(lo: int, hi: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        value = int(raw)
        if not lo <= value <= hi:
            raise ValueError(f"must be between {lo} and {hi}")
        return value
    return parse
