"""A pushed sample, how one is validated (as Prometheus validates names), and the caps
that keep what clients push bounded.

Request-only problems (a bad name, a bad label, too many labels, a value that is not a
finite number, a time far from now, one series twice at one time) are 400s; a push that
would break a cap over what is already held (a new series past ``max_series``, a new
label value past ``max_values_per_label``) is a 422: the request is well formed, retrying
it cannot help (a 429 would invite push clients to retry it for ever), and there is no
version to reconcile (409). Each message names the field or the config key.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from devmentor_monitor.config.schema import CustomMetrics
from devmentor_monitor.history.model import custom_series

METRIC_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"  # Prometheus' metric names
LABEL_NAME = r"(?!__)[a-zA-Z_][a-zA-Z0-9_]*"  # Prometheus' label names; __* are reserved
MAX_NAME = 200  # characters of a metric name (devmentor_custom_ comes in front)
MAX_VALUE = 1024  # characters of a label value
MAX_BATCH = 1000  # samples in one request
PAST = 3600.0  # a ts may be at most this far back ...
FUTURE = 300.0  # ... or ahead (clock skew)
FIELDS = ("name", "value", "labels", "ts")
_METRIC, _LABEL = re.compile(METRIC_NAME), re.compile(LABEL_NAME)


class PushError(Exception):
    """A push refused: ``status`` 400 (the request) or 422 (a cap), and why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


@dataclass(frozen=True, slots=True)
class CustomSample:
    """One value of one series at one time; labels sorted by name."""

    name: str
    labels: tuple[tuple[str, str], ...]
    value: float
    ts: float
    series: str = field(init=False, compare=False)  # its history name, made once

    def __post_init__(self) -> None:
        object.__setattr__(self, "series", custom_series(self.name, dict(self.labels)))


def parse_sample(doc: object, now: float, limits: CustomMetrics, where: str) -> CustomSample:
    """A sample from its JSON object ``{name, value, labels?, ts?}``; PushError(400)
    naming ``where`` (e.g. ``metrics[3].labels.env``) and the reason."""
    if not isinstance(doc, dict):
        raise PushError(400, f"{where} must be an object {{name, value, labels, ts}}")
    unknown = sorted(set(doc) - set(FIELDS))
    if unknown:
        raise PushError(
            400, f"{where}: unknown field(s) {', '.join(unknown)}; expected {', '.join(FIELDS)}"
        )
    missing = [f for f in ("name", "value") if f not in doc]
    if missing:
        raise PushError(400, f"{where}: missing field(s) {', '.join(missing)}")
    name = doc["name"]
    if not isinstance(name, str) or not _METRIC.fullmatch(name) or len(name) > MAX_NAME:
        raise PushError(
            400,
            f"{where}.name: {name!r} is not a metric name: letters, digits, '_' and ':', "
            f"not starting with a digit, at most {MAX_NAME} characters",
        )
    labels = _labels(doc.get("labels", {}), limits, f"{where}.labels")
    return CustomSample(name, labels, _value(doc["value"], where), _ts(doc, now, where))


def _labels(raw: object, limits: CustomMetrics, where: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(raw, dict):
        raise PushError(400, f"{where} must be an object of label names to string values")
    if len(raw) > limits.max_labels:
        raise PushError(
            400,
            f"{where}: {len(raw)} labels, at most {limits.max_labels} (custom_metrics.max_labels)",
        )
    for key, value in raw.items():
        if not _LABEL.fullmatch(key):
            why = (
                "names starting with '__' are reserved"
                if key.startswith("__")
                else ("letters, digits and '_', not starting with a digit")
            )
            raise PushError(400, f"{where}: {key!r} is not a label name: {why}")
        if not isinstance(value, str) or len(value) > MAX_VALUE:
            raise PushError(
                400, f"{where}.{key} must be a string of at most {MAX_VALUE} characters"
            )
    return tuple(sorted(raw.items()))


def _value(raw: object, where: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        raise PushError(400, f"{where}.value must be a finite number, got {raw!r}")
    return float(raw)


def _ts(doc: dict[str, object], now: float, where: str) -> float:
    raw = doc.get("ts")
    if raw is None:
        return now
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        raise PushError(400, f"{where}.ts must be Unix seconds, got {raw!r}")
    ts = float(raw)
    if ts > 1e11:  # 5138 AD in seconds, 1973 in milliseconds
        raise PushError(400, f"{where}.ts {raw!r} looks like milliseconds; send Unix seconds")
    if not now - PAST <= ts <= now + FUTURE:
        raise PushError(
            400,
            f"{where}.ts {raw!r} is {abs(now - ts):.0f} s from now; it may be at most "
            f"{PAST:.0f} s back or {FUTURE:.0f} s ahead",
        )
    return ts


def parse_body(body: object, now: float, limits: CustomMetrics) -> list[CustomSample]:
    """One sample object, or a list of up to MAX_BATCH of them (all or none are taken)."""
    if isinstance(body, list):
        if not body:
            raise PushError(400, "an empty list: send at least one {name, value} object")
        if len(body) > MAX_BATCH:
            raise PushError(400, f"{len(body)} samples in one request, at most {MAX_BATCH}")
        samples = [parse_sample(d, now, limits, f"[{i}]") for i, d in enumerate(body)]
        _no_repeats(samples)
        return samples
    return [parse_sample(body, now, limits, "body")]


def _no_repeats(samples: list[CustomSample]) -> None:
    """PushError(400) when two samples share a series and a time: which one stands would
    depend on the reader (the store keeps the last, history the first), so neither is
    taken. Without ``ts`` every sample of a request is stamped with the same now. Times
    compare to the millisecond, as history stores them."""
    first: dict[tuple[str, int], int] = {}
    for i, s in enumerate(samples):
        j = first.setdefault((s.series, round(s.ts * 1000)), i)
        if j != i:
            shown = s.series.removeprefix("custom:")
            raise PushError(
                400,
                f"[{i}] repeats [{j}]: both are {shown} at ts {s.ts:.3f} (a request without "
                "ts stamps every sample with the same now); send one value per series and "
                "time, or give them different ts",
            )


def admit(
    samples: Iterable[CustomSample], held: Mapping[str, CustomSample], limits: CustomMetrics
) -> None:
    """PushError(422) if taking ``samples`` beside the ``held`` series (those not expired)
    would pass a cap; a sample of a series already held is always taken."""
    series = set(held)
    values: dict[tuple[str, str], set[str]] = {}
    for s in held.values():
        for k, v in s.labels:
            values.setdefault((s.name, k), set()).add(v)
    for s in samples:
        key = s.series
        if key in series:
            continue
        if len(series) >= limits.max_series:
            raise PushError(
                422,
                f"too many series: {key} would be series {len(series) + 1}, over "
                f"custom_metrics.max_series ({limits.max_series}); pushes to held series "
                "are still taken",
            )
        for k, v in s.labels:
            seen = values.setdefault((s.name, k), set())
            if v not in seen and len(seen) >= limits.max_values_per_label:
                raise PushError(
                    422,
                    f"label {k!r} of {s.name} already has {len(seen)} values "
                    f"(custom_metrics.max_values_per_label); {v!r} would be one more",
                )
            seen.add(v)
        series.add(key)


def from_series(series: str, ts: float, value: float) -> CustomSample | None:
    """The sample a stored ``custom:`` series name stands for (None if it is not one):
    history names a series with its labels in the text format (history.model)."""
    from prometheus_client.parser import text_string_to_metric_families

    if not series.startswith("custom:"):
        return None
    try:
        families = list(text_string_to_metric_families(f"{series[7:]} 0\n"))
    except ValueError:
        return None
    found = [s for f in families for s in f.samples]
    if len(found) != 1:
        return None
    return CustomSample(found[0].name, tuple(sorted(found[0].labels.items())), value, ts)
