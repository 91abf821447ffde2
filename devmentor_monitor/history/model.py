"""The history interface: what is stored (samples), what is read back (points, tier by
step), and the series names, declared once. A server database (PostgreSQL, with the
high-availability work) implements the same `SeriesStore`."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Protocol

import msgspec

MINUTE = 60.0
HOUR = 3600.0
DAY = 86400.0


class Tier(StrEnum):
    RAW = "raw"
    MINUTE = "1m"
    HOUR = "1h"


STEP: dict[Tier, float] = {Tier.RAW: 0.0, Tier.MINUTE: MINUTE, Tier.HOUR: HOUR}
RAW_KEEP = DAY  # raw samples: 24 h
MINUTE_KEEP = 7 * DAY  # 1-minute rollups: 7 d; 1-hour rollups: retention.metrics
AHEAD = HOUR  # a sample stamped further in the future is refused (a pusher's wrong clock)


class HistoryError(Exception):
    """Samples written before a flush are not on disk (the backend says why); the store
    keeps them and retries."""


class Sample(msgspec.Struct, frozen=True):
    series: str  # a name made by one of the functions below
    ts: float  # unix seconds
    value: float


class Point(msgspec.Struct, frozen=True):
    """One step of a range: the samples in [ts, ts + step). From raw samples of one
    sample each, min == avg == max and count == 1."""

    ts: float
    min: float
    avg: float
    max: float
    count: int


def keep(tier: Tier, retention: float) -> float:
    """How long a tier holds data; the hour tier holds `retention.metrics`."""
    return {Tier.RAW: RAW_KEEP, Tier.MINUTE: MINUTE_KEEP, Tier.HOUR: retention}[tier]


def rows_held(interval: float, retention: float) -> dict[Tier, int]:
    """The most rows one series sampled every ``interval`` seconds has in each tier once
    each tier is full: its span over its step, plus the bucket in progress and what a
    retention pass (once a minute) has not removed yet. The disk bound is built on it."""
    lag = 2 * MINUTE
    return {
        Tier.RAW: math.ceil((RAW_KEEP + lag) / interval) + 1,
        Tier.MINUTE: math.ceil((keep(Tier.MINUTE, retention) + lag) / MINUTE) + 1,
        Tier.HOUR: math.ceil((keep(Tier.HOUR, retention) + lag) / HOUR) + 1,
    }


def tier_for(step: float, since: float, now: float, retention: float) -> Tier:
    """The finest tier no finer than ``step`` that still holds ``since``: raw for steps
    under a minute over the last day, minutes under an hour over the last week, else hours."""
    if step < MINUTE and since >= now - RAW_KEEP:
        return Tier.RAW
    if step < HOUR and since >= now - MINUTE_KEEP:
        return Tier.MINUTE
    return Tier.HOUR


class SeriesStore(Protocol):
    """Write without waiting, read a range at a step. One writer: the intake (and the
    scrape and custom-metric paths through it); readers: the API, the TUI, reports.

    What is kept: a sample enters each tier whose span (`keep`) still covers its time
    when it is written; one stamped more than `AHEAD` in the future, or whose value is
    not a finite number, enters none (counted, not raised). A second sample of a series
    at the same time as one already in the raw tier is dropped (the first wins), so a
    retried write is not counted twice; backfill older than the raw tier's span is folded
    into the rollups as given, since only the raw tier remembers which samples were seen."""

    def write(self, samples: Sequence[Sample]) -> None:
        """Queue samples; never blocks the event loop (a writer thread batches them)."""

    async def query(self, series: str, since: float, until: float, step: float) -> list[Point]:
        """Points of ``series`` in [since, until], one per ``step`` seconds that has data,
        oldest first, read from the tier `tier_for` picks."""

    async def samples(
        self, series: str, since: float, until: float
    ) -> tuple[list[float], list[float]]:
        """The raw samples of ``series`` in [since, until] as (timestamps, values), oldest
        first: the start-up refill of the in-memory rings, without a Point per sample."""

    async def last(self, series: str) -> Sample | None:
        """The newest sample of a series (None when it has none)."""

    async def names(self, prefix: str = "") -> list[str]:
        """Stored series whose name starts with ``prefix``, sorted."""

    async def latest(self, prefix: str, since: float) -> list[Sample]:
        """The newest raw sample of every series whose name starts with ``prefix``, for
        those whose newest is at or after ``since``; sorted by name. One read, however
        many series (the start-up restore of pushed metrics)."""

    async def flush(self) -> None:
        """Return once everything written so far is on disk; HistoryError when it could
        not be stored (the samples are kept and retried)."""

    async def close(self) -> None:
        """Store what was written, stop the writer, close the files; never raises (what
        could not be stored is logged with its count)."""


# --------------------------------------------------------------------------- names
# One declaration of every series name. Fields of a service's checks:
CHECK_FIELDS = ("up", "ok", "latency_seconds")  # one of each per check (intake.check_samples)
SERVICE_FIELDS = (*CHECK_FIELDS, "last_beat_seconds")
# up: 1 when the service's status after the check is up or degraded (as uptime counts it);
# ok: 1 when the check itself passed; latency_seconds: the check's latency (absent on error);
# last_beat_seconds: a heartbeat service's beat, valued at its own time (so a rollup's max
# is the last beat, at any age the hour tier keeps).


def service_series(service: str, field: str) -> str:
    return f"service:{service}:{field}"


def host_series(key: str) -> str:
    """A host series by its key in metric_specs.SERIES ("cpu", "memory", "disk:/", ...)."""
    return f"host:{key}"


def _escape(value: str) -> str:
    """A label value as the Prometheus text format writes it, so a name reads back as one
    series whatever its values hold (quotes, commas, braces)."""
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
    return "{" + inner + "}"


def scraped_series(service: str, metric: str, labels: Mapping[str, str]) -> str:
    """A series scraped from a service's own /metrics: its name and labels as exposed."""
    return f"scrape:{service}:{metric}{_labels(labels)}"


def custom_series(name: str, labels: Mapping[str, str]) -> str:
    """A metric pushed with POST /api/metrics."""
    return f"custom:{name}{_labels(labels)}"
