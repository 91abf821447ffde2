"""Silences and maintenance windows, in Alertmanager's shape.

A `Matcher` compares one label (Alertmanager API v2: name, value, isRegex, isEqual); a
regex is anchored (`re.fullmatch`, as Alertmanager does), compiled when the matcher is
made and at most MAX_REGEX characters long. A label the alert does not have reads as "".

A `Silence` holds while ``starts_at <= now < ends_at`` and matches a label set when every
matcher does. Expiring one sets ``ends_at = now``. `Silences` keeps them in memory; the
database (storage/db.py, `save_silence` / `load_silences`) keeps them across restarts.

Maintenance windows come from the config (`alerting.maintenance`): one-off (`at`) or
recurring (`every` on some weekdays, from a clock time to another in a time zone, across
midnight when `to` is earlier than `from`). Each open window is a virtual silence made by
"maintenance:<name>"; nothing of it is stored.

Self-contained: nothing here pages or knows about incidents.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from devmentor_monitor.config.schema import MaintenanceWindow

MAX_REGEX = 1000  # characters in one matcher's regex
MAX_VALUE = 1000  # characters in one matcher's value
MAX_MATCHERS = 32
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # date.weekday() order


def time_zone(name: str) -> tzinfo:
    """The IANA zone ``name``: ZoneInfoNotFoundError (a KeyError) or ValueError when it is
    not one. zoneinfo is imported here, when a maintenance window names a zone: it loads
    sysconfig too (~0.3 MiB of RSS a monitor without one never needs)."""
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


def compile_label_regex(pattern: str) -> re.Pattern[str]:
    """A label regex as Alertmanager reads it: anchored at both ends. ValueError, with a
    message fit to show, if it is too long or does not compile."""
    if len(pattern) > MAX_REGEX:
        raise ValueError(f"regex is {len(pattern)} characters long; at most {MAX_REGEX}")
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"bad regex {pattern!r}: {exc}") from None


@dataclass(frozen=True, slots=True)
class Matcher:
    """One label test: `name` = / != `value`, or =~ / !~ it as an anchored regex."""

    name: str
    value: str
    is_regex: bool = False
    is_equal: bool = True
    _pattern: re.Pattern[str] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a matcher needs a label name")
        if len(self.value) > MAX_VALUE and not self.is_regex:
            raise ValueError(f"matcher value is over {MAX_VALUE} characters")
        if self.is_regex:
            object.__setattr__(self, "_pattern", compile_label_regex(self.value))

    def matches(self, labels: Mapping[str, str]) -> bool:
        value = labels.get(self.name, "")
        if self._pattern is not None:
            hit = self._pattern.fullmatch(value) is not None
        else:
            hit = value == self.value
        return hit == self.is_equal

    def __str__(self) -> str:
        op = {(False, True): "=", (False, False): "!=", (True, True): "=~", (True, False): "!~"}
        return f"{self.name}{op[(self.is_regex, self.is_equal)]}{self.value!r}"

    def to_json(self) -> dict[str, Any]:
        """Alertmanager API v2 spelling."""
        return {
            "name": self.name,
            "value": self.value,
            "isRegex": self.is_regex,
            "isEqual": self.is_equal,
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Matcher:
        """From the API v2 spelling (isEqual defaults to true); ValueError if malformed."""
        name, value = doc.get("name"), doc.get("value")
        is_regex, is_equal = doc.get("isRegex", False), doc.get("isEqual", True)
        if not isinstance(name, str) or not isinstance(value, str):
            raise ValueError("a matcher needs a string name and value")
        if not isinstance(is_regex, bool) or not isinstance(is_equal, bool):
            raise ValueError("isRegex and isEqual must be true or false")
        return cls(name, value, is_regex, is_equal)


def matchers_from(
    match: Iterable[tuple[str, str]] = (), match_re: Iterable[tuple[str, str]] = ()
) -> tuple[Matcher, ...]:
    """Equality matchers from ``match`` pairs, regex ones from ``match_re`` pairs."""
    return tuple(Matcher(k, v) for k, v in match) + tuple(
        Matcher(k, v, is_regex=True) for k, v in match_re
    )


@dataclass(frozen=True, slots=True)
class Silence:
    """Mutes what all its matchers match while ``starts_at <= now < ends_at``."""

    id: str
    matchers: tuple[Matcher, ...]
    starts_at: float
    ends_at: float
    created_by: str
    comment: str
    created_at: float

    def __post_init__(self) -> None:
        if not self.matchers:
            raise ValueError("a silence needs at least one matcher")
        if len(self.matchers) > MAX_MATCHERS:
            raise ValueError(f"a silence has at most {MAX_MATCHERS} matchers")
        if all(m.matches({}) for m in self.matchers):
            raise ValueError("at least one matcher must not match an empty or missing label")
        if self.ends_at < self.starts_at:
            raise ValueError("a silence must end after it starts")
        if not self.created_by.strip():
            raise ValueError("a silence needs its creator")

    @classmethod
    def create(
        cls,
        matchers: Sequence[Matcher],
        *,
        ends_at: float,
        created_by: str,
        comment: str,
        now: float,
        starts_at: float | None = None,
    ) -> Silence:
        """A new silence with a fresh id, starting now unless told otherwise."""
        start = now if starts_at is None else starts_at
        if ends_at <= max(start, now):
            raise ValueError("a new silence must end in the future, after it starts")
        return cls(os.urandom(16).hex(), tuple(matchers), start, ends_at, created_by, comment, now)

    def active(self, now: float) -> bool:
        return self.starts_at <= now < self.ends_at

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(m.matches(labels) for m in self.matchers)

    def expired(self, now: float) -> Silence:
        """This silence ended at ``now`` (one not started yet ends before it starts: both
        times become now, as Alertmanager does)."""
        if self.ends_at <= now:
            return self
        start = min(self.starts_at, now)
        return Silence(
            self.id, self.matchers, start, now, self.created_by, self.comment, self.created_at
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "matchers": [m.to_json() for m in self.matchers],
            "starts_at": self.starts_at,
            "ends_at": self.ends_at,
            "created_by": self.created_by,
            "comment": self.comment,
            "created_at": self.created_at,
        }


# --------------------------------------------------------------------------- maintenance


@dataclass(frozen=True, slots=True)
class Maintenance:
    """A maintenance window: one-off (``start``/``end``, epoch seconds) or recurring
    (``days`` it starts on, 0 = Monday; ``start_min``/``end_min`` minutes after local
    midnight in ``tz``; an end at or before the start is on the next day)."""

    name: str
    matchers: tuple[Matcher, ...]
    start: float | None = None
    end: float | None = None
    days: frozenset[int] = frozenset()
    start_min: int = 0
    end_min: int = 0
    tz: str = "UTC"

    def __post_init__(self) -> None:
        once = self.start is not None and self.end is not None
        if once == bool(self.days):
            raise ValueError(f"maintenance {self.name!r}: give one-off times or weekdays")
        if once and self.end is not None and self.start is not None and self.end <= self.start:
            raise ValueError(f"maintenance {self.name!r}: end must be after start")
        if not once and self.start_min == self.end_min:
            raise ValueError(f"maintenance {self.name!r}: from and to must differ")
        time_zone(self.tz)  # unknown: ZoneInfoNotFoundError (a KeyError)

    def window_at(self, now: float) -> tuple[float, float] | None:
        """The (start, end) of the window open at ``now``, or None."""
        if self.start is not None and self.end is not None:
            return (self.start, self.end) if self.start <= now < self.end else None
        zone = time_zone(self.tz)
        today = datetime.fromtimestamp(now, zone).date()
        for day in (today, today - timedelta(days=1)):  # one across midnight began yesterday
            if day.weekday() not in self.days:
                continue
            start, end = self._bounds(day, zone)
            if start <= now < end:
                return start, end
        return None

    def _bounds(self, day: date, zone: tzinfo) -> tuple[float, float]:
        start = datetime.combine(day, _clock(self.start_min), zone)
        end_day = day if self.end_min > self.start_min else day + timedelta(days=1)
        end = datetime.combine(end_day, _clock(self.end_min), zone)
        return start.timestamp(), end.timestamp()

    def silence_at(self, now: float) -> Silence | None:
        """The virtual silence of the window open at ``now``, or None."""
        window = self.window_at(now)
        if window is None:
            return None
        start, end = window
        return Silence(
            f"maintenance:{self.name}:{int(start)}",
            self.matchers,
            start,
            end,
            f"maintenance:{self.name}",
            f"maintenance window {self.name}",
            start,
        )

    @classmethod
    def from_config(cls, w: MaintenanceWindow) -> Maintenance:
        """From one `alerting.maintenance` entry (config.schema.MaintenanceWindow)."""
        matchers = matchers_from(w.match, w.match_re)
        if w.at is not None:
            return cls(w.name, matchers, start=w.at.start, end=w.at.end)
        assert w.every is not None, "the config reader requires at or every"
        days = frozenset(WEEKDAYS.index(d) for d in w.every.days)
        return cls(
            w.name,
            matchers,
            days=days,
            start_min=w.every.from_,
            end_min=w.every.to,
            tz=w.every.tz,
        )


def _clock(minutes: int) -> time:
    return time(minutes // 60, minutes % 60)


def parse_clock(text: str) -> int:
    """ "HH:MM" (24 h) → minutes after midnight; ValueError otherwise."""
    m = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", text.strip())
    if m is None:
        raise ValueError(f"expected a time of day as HH:MM (00:00 … 23:59), got {text!r}")
    return int(m[1]) * 60 + int(m[2])


def parse_instant(value: object) -> float:
    """An ISO 8601 date-time with a UTC offset ("2026-03-01T02:00:00Z", or a YAML
    timestamp) → epoch seconds; ValueError otherwise."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(
                f"expected an ISO date-time such as 2026-03-01T02:00:00Z, got {value!r}"
            ) from None
    else:
        raise ValueError(f"expected an ISO date-time such as 2026-03-01T02:00:00Z, got {value!r}")
    if moment.tzinfo is None:
        raise ValueError(f"give a UTC offset (Z or +01:00) in {str(value)!r}")
    return moment.astimezone(UTC).timestamp()


# --------------------------------------------------------------------------- the set


class Silences:
    """The silences in memory (what the database holds, loaded at start) plus the
    maintenance windows' virtual ones."""

    def __init__(
        self, silences: Iterable[Silence] = (), maintenance: Iterable[Maintenance] = ()
    ) -> None:
        self._by_id: dict[str, Silence] = {s.id: s for s in silences}
        self.maintenance = tuple(maintenance)

    def add(self, silence: Silence) -> Silence:
        """Add or replace (same id)."""
        self._by_id[silence.id] = silence
        return silence

    def get(self, silence_id: str) -> Silence | None:
        return self._by_id.get(silence_id)

    def expire(self, silence_id: str, now: float) -> Silence:
        """End a silence now; KeyError if there is no such silence (maintenance ones
        cannot be expired: they come from the config)."""
        silence = self._by_id[silence_id].expired(now)
        self._by_id[silence_id] = silence
        return silence

    def all(self) -> list[Silence]:
        """The stored silences, newest first (expired ones too)."""
        return sorted(self._by_id.values(), key=lambda s: s.created_at, reverse=True)

    def active(self, now: float) -> list[Silence]:
        """Stored silences in force at ``now``, then the open maintenance windows."""
        stored = [s for s in self.all() if s.active(now)]
        virtual = [s for m in self.maintenance if (s := m.silence_at(now)) is not None]
        return stored + virtual

    def match(self, labels: Mapping[str, str], now: float) -> Silence | None:
        """The first silence in force that matches ``labels``, or None."""
        return next((s for s in self.active(now) if s.matches(labels)), None)

    def purge(self, ended_before: float) -> list[str]:
        """Forget silences that ended before the cut-off; their ids."""
        gone = [i for i, s in self._by_id.items() if s.ends_at < ended_before]
        for i in gone:
            del self._by_id[i]
        return gone


__all__ = [
    "MAX_REGEX",
    "WEEKDAYS",
    "Maintenance",
    "Matcher",
    "Silence",
    "Silences",
    "compile_label_regex",
    "matchers_from",
    "parse_clock",
    "parse_instant",
]
