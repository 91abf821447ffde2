"""Platform events: the wire schema, parsing with a reason for every rejection, and the log.

An event is JSON: ``type`` (dotted, e.g. ``deploy.finished``), ``service``, ``severity``
(info, warning, error, critical), ``message``, ``ts`` (epoch seconds or milliseconds, or
ISO 8601) and optional ``data`` (an object). Anything else is rejected with one of
REASONS, counted, and kept among the last few rejections for the events view: a bad
publisher is visible, never a crash.

`EventLog` is the store's bounded memory of events (a ring, per-type and per-service
minute rates, the recent deploys and config changes that root-cause analysis reads).
"""

from __future__ import annotations

import json
import math
import re
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import msgspec

from devmentor_monitor import boundedjson
from devmentor_monitor.masking import mask, mask_data


class EventSeverity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {
    EventSeverity.INFO: 0,
    EventSeverity.WARNING: 1,
    EventSeverity.ERROR: 2,
    EventSeverity.CRITICAL: 3,
}
_SEVERITIES = {s.value: s for s in EventSeverity}
REASONS = (
    "malformed_json",
    "oversized",
    "too_deep",
    "not_an_object",
    "missing_field",
    "wrong_type",
    "bad_value",
)
REQUIRED = ("type", "service", "severity", "message", "ts")
TYPE_RE = re.compile(r"[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*\Z")
CHANGE_PREFIXES = ("deploy.", "config.")  # recorded as changes for root cause
MAX_TEXT = 200  # type and service
MAX_MESSAGE = 2000


@dataclass(slots=True)
class Event:
    """One platform event. Only the event log writes to it (``seq``), before anyone reads."""

    ts: float  # when it happened, by the publisher's clock
    type: str
    service: str
    severity: EventSeverity
    message: str
    data: dict[str, Any] = field(default_factory=dict)
    origin: str = "local"  # redis channel or stream, "docker", "monitor", "api"
    seq: int = 0  # assigned by the log: order of arrival
    raw: bytes | str | None = field(default=None, repr=False)  # the wire JSON, as received

    @property
    def is_change(self) -> bool:
        return self.type.startswith(CHANGE_PREFIXES)

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "ts": self.ts,
            "type": self.type,
            "service": self.service,
            "severity": self.severity.value,
            "message": self.message,
            "data": self.data,
            "origin": self.origin,
        }

    def wire(self) -> bytes:
        """The JSON a publisher sends (no seq or origin: those are the receiver's)."""
        return json.dumps(
            {
                "type": self.type,
                "service": self.service,
                "severity": self.severity.value,
                "message": self.message,
                "ts": self.ts,
                "data": self.data,
            },
            separators=(",", ":"),
        ).encode()

    def __str__(self) -> str:
        return f"{self.type} {self.service}: {self.message}"

    def mask_secrets(self) -> None:
        """Hide secrets in the message and data (masking.py), in place, before anyone
        reads the event: memory, disk, timelines, streams and views all hold the masked
        one. When something was hidden the wire JSON is dropped, so the disk gets
        `wire()` of the masked event, not the secret as it arrived."""
        message = mask(self.message)
        data = mask_data(self.data)
        if message is not self.message or data is not self.data:
            self.message, self.data, self.raw = message, data, None


class Rejected(Exception):
    """A message that is not an event; ``reason`` is one of REASONS."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def parse_event(raw: bytes | str, origin: str, max_bytes: int) -> Event:
    """One wire message → Event, or Rejected saying exactly what is wrong with it.

    Raises nothing else, whatever the bytes: the subscriber's loop must outlive any
    message a publisher sends (a RecursionError here once dropped the connection).
    """
    try:
        obj = boundedjson.loads(raw, max_bytes=max_bytes)
    except boundedjson.JSONRejected as exc:
        raise Rejected(exc.reason, exc.detail) from None
    if type(obj) is not dict:
        raise Rejected("not_an_object", f"a JSON {type(obj).__name__}, not an object")
    try:
        event = event_from_dict(obj, origin)
    except Rejected:
        raise
    except Exception as exc:  # a case the checks miss is still a rejection, never a crash
        raise Rejected("bad_value", f"{type(exc).__name__}: {exc}"[:120]) from None
    event.raw = raw  # stored as is: no second serialisation on the way to disk
    return event


def event_from_dict(obj: dict[str, Any], origin: str) -> Event:
    try:
        etype = obj["type"]
        service = obj["service"]
        severity = obj["severity"]
        message = obj["message"]
        ts = obj["ts"]
    except KeyError:
        missing = [k for k in REQUIRED if k not in obj]
        raise Rejected("missing_field", f"no {', '.join(missing)}") from None
    if (
        type(etype) is not str
        or type(service) is not str
        or type(message) is not str
        or type(severity) is not str
    ):
        bad = next(
            k for k in ("type", "service", "severity", "message") if not isinstance(obj[k], str)
        )
        raise Rejected("wrong_type", f"{bad} must be a string, not {type(obj[bad]).__name__}")
    sev = _SEVERITIES.get(severity)
    if sev is None:
        raise Rejected(
            "bad_value", f"severity {severity[:40]!r} is not one of {', '.join(_SEVERITIES)}"
        )
    if len(etype) > MAX_TEXT or not TYPE_RE.match(etype):
        raise Rejected("bad_value", f"type {etype[:40]!r} is not a dotted lower-case name")
    if not service or len(service) > MAX_TEXT:
        raise Rejected("bad_value", "service must be 1 to 200 characters")
    data = obj.get("data")
    if data is None:
        data = {}
    elif type(data) is not dict:
        raise Rejected("wrong_type", f"data must be an object, not {type(data).__name__}")
    return Event(_timestamp(ts), etype, service, sev, message[:MAX_MESSAGE], data, origin)


def _timestamp(ts: object) -> float:
    if type(ts) is float or type(ts) is int:
        try:
            value = float(ts)
        except OverflowError:  # a 300-digit integer
            value = math.inf
        if value > 1e11:  # milliseconds, as JavaScript's Date.now() sends
            value /= 1000.0
        if 0 < value < math.inf:  # NaN and Infinity (json accepts both) are not times
            return value
        raise Rejected("bad_value", f"ts {str(ts)[:40]} is not a time")
    if isinstance(ts, str):
        try:
            return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
        except (ValueError, OverflowError, OSError):
            raise Rejected("bad_value", f"ts {ts[:40]!r} is not ISO 8601") from None
    raise Rejected(
        "wrong_type", f"ts must be a number or an ISO 8601 string, not {type(ts).__name__}"
    )


class Rejection(msgspec.Struct, frozen=True):
    at: float
    origin: str
    reason: str
    detail: str
    sample: str  # the start of the message, printable


class _MinuteRates:
    """Events per key over the last minute, in 6 ten-second buckets (fixed memory per key)."""

    __slots__ = ("_buckets", "_max_keys", "_slot")

    def __init__(self, max_keys: int) -> None:
        self._buckets: dict[str, list[int]] = {}
        self._slot = 0
        self._max_keys = max_keys

    def add(self, key: str, now: float, n: int = 1) -> None:
        self._roll(now)
        counts = self._buckets.get(key)
        if counts is None:
            if len(self._buckets) >= self._max_keys:
                key = "(other)"
                counts = self._buckets.setdefault(key, [0] * 6)
            else:
                counts = self._buckets[key] = [0] * 6
        counts[self._slot % 6] += n

    def _roll(self, now: float) -> None:
        slot = int(now // 10)
        if slot == self._slot:
            return
        gap = min(slot - self._slot, 6) if slot > self._slot else 6
        for counts in self._buckets.values():
            for i in range(1, gap + 1):
                counts[(self._slot + i) % 6] = 0
        self._slot = slot

    def per_minute(self, now: float) -> dict[str, int]:
        self._roll(now)
        return {k: sum(v) for k, v in self._buckets.items() if any(v)}


class EventLog:
    """The last `capacity` events in memory, counted by type and service and reason."""

    def __init__(
        self, capacity: int = 10_000, changes: int = 500, rejections: int = 20, max_keys: int = 200
    ) -> None:
        self.events: deque[Event] = deque(maxlen=capacity)
        self.changes: deque[Event] = deque(maxlen=changes)
        self.rejections: deque[Rejection] = deque(maxlen=rejections)
        self.seq = 0
        self.first_at: float | None = None  # when this process received its first event
        self.received: dict[str, int] = {}  # by type (at most max_keys, then "(other)")
        self.rejected: dict[str, int] = dict.fromkeys(REASONS, 0)
        self.max_keys = max_keys
        self._by_type = _MinuteRates(max_keys)
        self._by_service = _MinuteRates(max_keys)

    def add(self, events: list[Event], now: float) -> list[Event]:
        """Number and keep a batch; returns the numbered events."""
        if self.first_at is None and events:
            self.first_at = now
        seq = self.seq
        by_type: dict[str, int] = {}
        by_service: dict[str, int] = {}
        for e in events:
            seq += 1
            e.seq = seq
            by_type[e.type] = by_type.get(e.type, 0) + 1
            by_service[e.service] = by_service.get(e.service, 0) + 1
            if e.type.startswith(CHANGE_PREFIXES):
                self.changes.append(e)
        self.seq = seq
        self.events.extend(events)
        received = self.received
        for etype, n in by_type.items():
            key = etype if etype in received or len(received) < self.max_keys else "(other)"
            received[key] = received.get(key, 0) + n
            self._by_type.add(etype, now, n)
        for service, n in by_service.items():
            self._by_service.add(service, now, n)
        return events

    def reject(self, origin: str, exc: Rejected, raw: bytes | str, now: float) -> None:
        self.rejected[exc.reason] = self.rejected.get(exc.reason, 0) + 1
        text = raw[:80].decode("utf-8", "replace") if isinstance(raw, bytes) else raw[:80]
        sample = mask("".join(c if c.isprintable() else "?" for c in text))
        self.rejections.append(Rejection(now, origin, exc.reason, exc.detail, sample))

    def query(
        self,
        limit: int = 100,
        *,
        type_prefix: str | None = None,
        service: str | None = None,
        min_severity: EventSeverity | None = None,
        since: float | None = None,
        until: float | None = None,
        after_seq: int | None = None,
    ) -> list[Event]:
        """Newest first (by arrival), filtered; ``until`` is exclusive, as on disk."""
        out: list[Event] = []
        floor = min_severity.rank if min_severity is not None else 0
        for e in reversed(self.events):
            if after_seq is not None and e.seq <= after_seq:
                break
            if since is not None and e.ts < since:
                continue
            if until is not None and e.ts >= until:
                continue
            if type_prefix and not e.type.startswith(type_prefix):
                continue
            if service and e.service != service:
                continue
            if floor and e.severity.rank < floor:
                continue
            out.append(e)
            if len(out) >= limit:
                break
        return out

    def complete_since(self) -> float | None:
        """From when memory holds every event received (None: it holds none yet).

        Events from before this process started, or pushed out of the full ring, are
        only on disk; a query reaching further back must read it too.
        """
        if not self.events:
            return None
        if len(self.events) < (self.events.maxlen or 0):
            return self.first_at
        return self.events[0].ts

    def rates(self, now: float | None = None) -> dict[str, dict[str, int]]:
        now = time.time() if now is None else now
        return {
            "by_type": self._by_type.per_minute(now),
            "by_service": self._by_service.per_minute(now),
        }


def merge_newest(memory: list[Event], disk: list[Event], limit: int) -> list[Event]:
    """Memory's and disk's answers to one query as one: newest first, each event once.

    Disk rows have no seq, so an event in both is recognised by what it says.
    """
    in_memory = Counter(_identity(e) for e in memory)
    merged = list(memory)
    for e in disk:
        key = _identity(e)
        if in_memory[key]:
            in_memory[key] -= 1
        else:
            merged.append(e)
    merged.sort(key=lambda e: e.ts, reverse=True)  # stable: memory's order among equal ts
    return merged[:limit]


def _identity(e: Event) -> tuple[float, str, str, str, str]:
    return (e.ts, e.type, e.service, e.origin, e.message[:MAX_MESSAGE])
