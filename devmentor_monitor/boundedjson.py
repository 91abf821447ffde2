"""JSON decoding with limits on size and nesting, for everything that reads untrusted input.

``json.loads`` recurses once per level: a 20 KB ``[[[...]]]`` raises ``RecursionError``,
which is not a ``ValueError`` and so escaped every caller's ``except`` (a poison Redis
message dropped the subscriber; the same body was a 500 on the API). Here every failure
is one ``JSONRejected`` with a reason and a short detail, and depth is capped well below
the interpreter's recursion limit. The depth walk runs only when the text holds more
brackets than the cap, so ordinary small messages pay one ``bytes.count`` pair.
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 64


class JSONRejected(ValueError):
    """Input that is not acceptable JSON; ``reason`` is malformed_json, oversized or too_deep."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def loads(raw: bytes | str, *, max_bytes: int, max_depth: int = MAX_DEPTH) -> Any:
    """Decode ``raw`` or raise JSONRejected; never RecursionError, MemoryError or others."""
    if len(raw) > max_bytes:
        raise JSONRejected("oversized", f"{len(raw)} bytes, the limit is {max_bytes}")
    if isinstance(raw, bytes):
        opens = raw.count(b"[") + raw.count(b"{")
    else:
        opens = raw.count("[") + raw.count("{")
    try:
        obj = json.loads(raw)
    except RecursionError:
        raise JSONRejected("too_deep", f"nested deeper than {max_depth} levels") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise JSONRejected("malformed_json", str(exc)[:120]) from None
    if opens > max_depth and depth(obj) > max_depth:
        raise JSONRejected("too_deep", f"nested deeper than {max_depth} levels")
    return obj


def depth(obj: Any) -> int:
    """Nesting depth of a decoded value (a scalar is 0), walked without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(obj, 0)]
    while stack:
        value, level = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        level += 1
        deepest = max(deepest, level)
        stack.extend((child, level) for child in children)
    return deepest
