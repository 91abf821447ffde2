"""History over HTTP: any stored series over any range, its tier chosen by the step; the
stored series' names; a service's check history.

`GET /api/metrics` without since/until/step stays the live view (the store's rings, host
keys); with any of them it reads history.db through the queries (history names, as
`/api/metrics/series` lists them). Reads run in the history's own thread.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

from devmentor_monitor.aio import web
from devmentor_monitor.history.model import (
    CHECK_FIELDS,
    HOUR,
    MINUTE,
    MINUTE_KEEP,
    RAW_KEEP,
    STEP,
    Point,
    Tier,
    host_series,
    service_series,
    tier_for,
)
from devmentor_monitor.metric_specs import SERIES, series_spec
from devmentor_monitor.rings import LIVE_SPAN, Ring
from devmentor_monitor.server.params import (
    WINDOW,
    BadRequest,
    Param,
    query,
    since,
    step,
    text,
    until,
)
from devmentor_monitor.server.responses import error_response, json_response
from devmentor_monitor.server.shapes import check_json, system_json

if TYPE_CHECKING:
    from devmentor_monitor.queries import Queries
    from devmentor_monitor.store import Store

MAX_SERIES = 20  # series per request
MAX_POINTS = 20_000  # per series: a range and step that give more is a 400
EDGE_GRACE = 60.0  # seconds: see Range
EDGE_MARGIN = 1.0
AUTO_POINTS = 500  # without a step: about this many points over the range
DEFAULT_RANGE = HOUR  # /api/metrics without since
SERVICE_RANGE = 24 * HOUR  # /api/services/{name}/history without since
HISTORY_PARAMS = frozenset({"since", "until", "step"})

RANGE_QUERY: dict[str, Param] = {
    "since": Param(since.parse, since.schema, "Unix time, or a duration ago (1h, 7d)"),
    "until": until,
    "step": step,
}
METRICS_QUERY: dict[str, Param] = {
    "series": Param(
        str,
        text.schema,
        "Comma-separated series. Live (no since/until/step): host keys (cpu, memory, "
        "disk:/, ...), default all. History: stored names as /api/metrics/series lists "
        f"them (host:cpu, service:auth:latency_seconds, ...), at most {MAX_SERIES}.",
    ),
    "window": WINDOW,
    **RANGE_QUERY,
}
SERIES_QUERY: dict[str, Param] = {
    "prefix": Param(str, text.schema, "only names starting with this (host:, service:auth:)")
}
_HOST = host_series("")
_SERVICE_UNITS = {"up": "ratio", "ok": "ratio", "latency_seconds": "seconds"}


def _r(value: float, digits: int = 6) -> float:
    return round(value, digits)


def series_meta(name: str) -> dict[str, Any]:
    """Unit and label of a stored series where they are declared (host keys in
    metric_specs.SERIES, a service's check fields); null otherwise."""
    key = name.removeprefix(_HOST)
    if key != name and (key in SERIES or key.startswith("disk:")):
        spec = series_spec(key)
        return {"unit": spec.unit, "label": spec.label, "metric": spec.metric}
    kind, _, rest = name.partition(":")
    service, _, field = rest.rpartition(":")
    if kind == "service" and field in _SERVICE_UNITS:
        return {"unit": _SERVICE_UNITS[field], "label": f"{service} {field}", "metric": None}
    return {"unit": None, "label": None, "metric": None}


class Range:
    """A validated range: since < until, the tier the step picks, the step it is read at.

    "since=24h" is parsed a moment before the tier is chosen, so it would fall just outside
    the raw tier and be read from the 1-minute rollups: a since within EDGE_GRACE of a
    tier's edge starts at the edge instead (what is older is not in that tier anyway).
    """

    def __init__(self, params: dict[str, Any], now: float, retention: float, default: float):
        self.until = min(params.get("until", now), now)
        since = params.get("since", self.until - default)
        if since >= self.until:
            raise BadRequest("since must be before until")
        asked = params.get("step")
        wanted = asked if asked is not None else math.ceil((self.until - since) / AUTO_POINTS)
        for kept, width in ((RAW_KEEP, MINUTE), (MINUTE_KEEP, HOUR)):
            edge = now - kept + EDGE_MARGIN
            if wanted < width and edge - EDGE_GRACE <= since < edge < self.until:
                since = edge
                break
        self.since = since
        self.tier = tier_for(wanted, since, now, retention)
        # What the store reads at: from a rollup tier, whole rollups (a multiple of its width).
        width = STEP[self.tier]
        self.step = wanted if self.tier is Tier.RAW else width * max(1, math.ceil(wanted / width))

    def check(self, points: list[Point]) -> list[Point]:
        if len(points) > MAX_POINTS:
            least = math.ceil((self.until - self.since) / MAX_POINTS)
            raise BadRequest(
                f"{len(points)} points per series at step {self.step:g}s; at most "
                f"{MAX_POINTS}: use a step of at least {least}s"
            )
        return points

    def json(self) -> dict[str, Any]:
        return {
            "since": _r(self.since, 3),
            "until": _r(self.until, 3),
            "step_s": self.step,
            "tier": self.tier.value,
        }


def split_series(text: str) -> list[str]:
    """Comma-separated series names; a comma inside a name's {labels} (or a quoted label
    value) belongs to the name: `scrape:a:m{x="1",y="2"},host:cpu` is two names."""
    names, depth, quoted, escaped, start = [], 0, False, False, 0
    for i, ch in enumerate(text):
        if quoted:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth = max(0, depth - 1)
        elif ch == "," and depth == 0:
            names.append(text[start:i])
            start = i + 1
    names.append(text[start:])
    return [n for n in names if n]


class HistoryApi:
    """Reads of history.db for views over HTTP; never writes."""

    def __init__(self, store: Store, queries: Queries) -> None:
        self.store = store
        self.queries = queries

    async def latency(self, name: str, since: float, now: float) -> tuple[list[float], list[float]]:
        """A service's check latencies since ``since`` (see live_and_stored)."""
        ring = self.store.latency_history(name)
        return await self.live_and_stored(ring, service_series(name, "latency_seconds"), since, now)

    async def host(self, key: str, since: float, now: float) -> tuple[list[float], list[float]]:
        """A host series' points since ``since`` (see live_and_stored)."""
        ring = self.store.series(key)
        assert ring is not None  # the handler takes only the keys the store has
        return await self.live_and_stored(ring, host_series(key), since, now)

    async def live_and_stored(
        self, ring: Ring, series: str, since: float, now: float
    ) -> tuple[list[float], list[float]]:
        """Points since ``since``: the ring in memory (the last rings.LIVE_SPAN), and before
        what it holds the raw samples on disk (24 h)."""
        ts, vs = ring.since(since)
        if since >= now - LIVE_SPAN:
            return ts, vs
        held = ts[0] if ts else now
        # A second inside the raw tier's day, or the read would take the minute rollups.
        start = max(since, now - RAW_KEEP + 1.0)
        stored = await self.queries.history(series, start, held, 0.0)
        # On disk to the millisecond, rounded down: the ring's first check is read too.
        older = [p for p in stored if p.ts < held - 1e-3]
        return [p.ts for p in older] + ts, [p.avg for p in older] + vs

    def _range(self, params: dict[str, Any], default: float) -> Range:
        return Range(params, time.time(), self.store.config.retention.metrics, default)

    async def metrics(self, request: web.Request) -> web.Response:
        """GET /api/metrics with since/until/step: stored series over a range."""
        params = query(request, METRICS_QUERY)
        if "window" in params:
            raise BadRequest(
                "window is the live view's range; with since/until/step give since instead"
            )
        names = split_series(params.get("series", ""))
        if not names:
            raise BadRequest("series is required with since/until/step (see /api/metrics/series)")
        if len(names) > MAX_SERIES:
            raise BadRequest(f"at most {MAX_SERIES} series at once, got {len(names)}")
        rng = self._range(params, DEFAULT_RANGE)
        stored = set(await self.queries.history_names())
        unknown = [n for n in names if n not in stored]
        if unknown:
            raise BadRequest(
                f"unknown series {', '.join(unknown)}; GET /api/metrics/series lists them"
            )
        series: dict[str, Any] = {}
        for name in names:
            points = rng.check(await self.queries.history(name, rng.since, rng.until, rng.step))
            series[name] = {
                **series_meta(name),
                "points": [[p.ts, _r(p.avg), _r(p.min), _r(p.max), p.count] for p in points],
            }
        body = {
            "ts": time.time(),
            "system": system_json(self.store.system),
            **rng.json(),
            "point_fields": ["ts", "avg", "min", "max", "count"],
            "series": series,
        }
        return json_response(body)

    async def series(self, request: web.Request) -> web.Response:
        """GET /api/metrics/series: the stored series' names."""
        prefix = query(request, SERIES_QUERY).get("prefix", "")
        names = await self.queries.history_names(prefix)
        return json_response({"prefix": prefix, "series": names})

    async def service(self, request: web.Request) -> web.Response:
        """GET /api/services/{name}/history: checks per step (how many, how many with the
        service up, how many failed, latency) from history, and the recent checks in full."""
        params = query(request, RANGE_QUERY)
        name = request.match_info["name"]
        if not self.store.has_service(name):
            known = ", ".join(self.store.service_names())
            return error_response(404, f"no service named {name!r}; known: {known}")
        rng = self._range(params, SERVICE_RANGE)
        up, ok, latency = [
            rng.check(
                await self.queries.history(service_series(name, f), rng.since, rng.until, rng.step)
            )
            for f in CHECK_FIELDS
        ]
        body = {
            "service": name,
            **rng.json(),
            **check_points(up, ok, latency),
            "recent_checks": [check_json(c) for c in reversed(self.store.recent_checks(name))],
        }
        return json_response(body)


def check_points(up: list[Point], ok: list[Point], latency: list[Point]) -> dict[str, Any]:
    """Per step: checks, up (the service counted up after the check, as uptime counts),
    failed (the check itself failed), uptime and latency; and the totals over the range.
    up and ok are 0/1 samples, so count × avg is how many were 1."""
    ok_at = {p.ts: p for p in ok}
    lat_at = {p.ts: p for p in latency}
    out = []
    checks = ups = fails = 0
    for p in up:
        n, k = p.count, round(p.avg * p.count)
        passed = ok_at.get(p.ts)
        failed = 0 if passed is None else passed.count - round(passed.avg * passed.count)
        lat = lat_at.get(p.ts)
        out.append(
            {
                "ts": p.ts,
                "checks": n,
                "up": k,
                "failed": failed,
                "uptime_percent": _r(100.0 * k / n, 4),
                "latency_ms": None
                if lat is None
                else {
                    "min": _r(lat.min * 1000, 2),
                    "avg": _r(lat.avg * 1000, 2),
                    "max": _r(lat.max * 1000, 2),
                },
            }
        )
        checks, ups, fails = checks + n, ups + k, fails + failed
    summary = {
        "checks": checks,
        "up": ups,
        "failed": fails,
        "uptime_percent": _r(100.0 * ups / checks, 4) if checks else None,
        "error_rate_percent": _r(100.0 * fails / checks, 4) if checks else None,
    }
    return {"summary": summary, "points": out}
