"""The live prediction engine: the runtime calls `step()` about once a second.

Why it works this way:

* **Every stored sample, once.** Host series and service latencies are read from the
  store's rings since the last sample fed, so the detector sees every sample whatever the
  tick rate; failed-check share (5 min) is fed per new check, event rates per 10-second
  bucket. One `Detector` per series (series arrive on different ticks), at most
  `predictions.max_series` of them: memory is fixed per series and capped in total.
* **Forecasts on a slower beat** (`forecast_every`): trend fits are O(k^2) in the (thinned)
  points, so they run every few seconds, not per sample, and on at most 60 points.
* **Derived, not stored elsewhere.** Everything the views need (predictions, per-series
  scores, chart marks, rule values, root causes of open incidents) is handed to
  `Store.set_predictions` in one call: the store stays the one place views read.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from devmentor_monitor.bus import SERVICE, Subscription
from devmentor_monitor.config.schema import Config
from devmentor_monitor.health.percentiles import percentile
from devmentor_monitor.health.slo import HOUR, SLO_WINDOW
from devmentor_monitor.incidents.model import Incident, Severity
from devmentor_monitor.metric_specs import series_spec
from devmentor_monitor.predictions.capacity import Advice, Signal, advise
from devmentor_monitor.predictions.detector import Detector, DetectorConfig, Explanation
from devmentor_monitor.predictions.forecast import (
    ExhaustionAlarm,
    FitPolicy,
    TrendWindow,
    _thin,
    error_budget_exhaustion,
    leak_suspicion,
    theil_sen,
    time_to_exhaustion,
)
from devmentor_monitor.predictions.model import Prediction, PredictionStatus
from devmentor_monitor.predictions.rootcause import Anomaly, Cause, Change, Restart, rank_causes
from devmentor_monitor.slices import Work, at_once
from devmentor_monitor.store import Store
from devmentor_monitor.units import format_bytes, format_percent, format_rate, human_duration

MARKS = 120  # flagged points kept per series for chart marks
DEPARTURE_RATIO = 2.0  # latency flagged when it stays above 2x its learnt level ...
DEPARTURE_SPREADS = 6.0  # ... and 6 typical deviations above it ...
DEPARTURE_SAMPLES = 3  # ... for 3 checks in a row (after the median-of-3 filter)
RECENT = 200  # ended anomalies kept for root causes and the API
RECENT_S = HOUR  # ... and for how long
FIRST_FEED = 2000  # at most this many old points are fed when a series is first seen
ERROR_WINDOW = 300.0  # failed-check share is measured over 5 minutes
EVENT_SLOT = 10.0  # event rates move in 10-second buckets
PUBLISH_RUN = 64  # series published between two yields of the step (~0.1 ms)
MAX_PROCESSES = 16  # processes followed for leak suspicion
FIT_POINTS = 60  # points a trend fit uses at most (older ones merged)
LOOKAHEAD = 600.0  # capacity advice looks this far ahead along a trustworthy trend
CAUSES_KEPT = 100  # incidents whose root causes are kept (resolved ones too)
RESTART_KINDS = {"die", "oom", "restart", "kill", "backoff", "oomkilling", "killing"}
ALARM_RANK = {"ok": Severity.LOW, "warning": Severity.MEDIUM, "critical": Severity.HIGH}

WHY = {  # why an anomaly on this kind of series matters, for the explanation
    "latency": "requests to {service} are slowing before its latency alert fires",
    "errors": "{service} fails more checks than usual, ahead of its error-rate alert",
    "cpu": "CPU pressure slows every service on this host",
    "memory": "memory pressure ends in swapping or the OOM killer",
    "swap": "swapping makes every service slow",
    "load1": "more runnable work than usual competes for the CPUs",
    "disk": "a disk filling faster than usual ends in failed writes",
    "io": "unusual disk or network traffic often comes before slowdowns",
    "events": "an unusual event volume often comes with deploys, failures or attacks",
    "scraped": "{service}'s own metrics moved away from what they usually do",
}


@dataclass(slots=True)
class _Series:
    key: str
    service: str | None
    label: str
    unit: str
    why: str
    detector: Detector
    last_ts: float = -math.inf
    last_value: float = math.nan
    onset: float | None = None  # start of the current flagged stretch
    onset_value: float = math.nan
    peak: float = 0.0
    marks: deque[tuple[float, float, str]] | None = None  # (ts, value, expert)
    # The last 3 raw values, for a median-of-3 pre-filter: a list (88 bytes), not a
    # deque(maxlen=3) (624 bytes; 0.5 MiB at 1,000 services).
    window: list[float] | None = None
    departed: int = 0  # latency: consecutive samples far above the learnt level
    seen: Explanation | None = None  # what the detector saw at the peak of this stretch


@dataclass(frozen=True, slots=True)
class PastAnomaly:
    series: str
    service: str | None
    started_at: float
    ended_at: float
    peak: float
    label: str
    onset_value: float
    expert: str


class PredictionEngine:
    """Feeds the detectors, fits the trends, ranks causes; see the module docstring."""

    def __init__(
        self, store: Store, config: Config, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.config = config
        self.settings = s = config.predictions
        self.clock = clock
        base = DetectorConfig()
        self.detector_config = DetectorConfig(warmup=s.warmup, settle=min(base.settle, s.warmup))
        self.policy = FitPolicy(min_span_s=s.min_span, max_points=FIT_POINTS)
        self._series: dict[str, _Series] = {}
        self.dropped = 0  # series not watched because of max_series
        self._recent: deque[PastAnomaly] = deque(maxlen=RECENT)
        self._checks_seen: dict[str, float] = {}
        # Per service: its two series once made (latency, errors); a check then costs a
        # dict read, not four labels formatted for _get: at 1,000 services, 100 checks a
        # step, the feed took 27 -> 23 us per check (same run, A/B against main).
        self._service_series: dict[str, tuple[_Series, _Series]] = {}
        self._event_slot = -1
        self._event_keys: dict[str, set[str]] = {}  # prefix -> its series' keys
        self._sys_ts = -math.inf
        self._top_ts: float | None = None
        self._windows: dict[str, TrendWindow] = {}  # "disk:/", "memory"
        self._procs: OrderedDict[str, TrendWindow] = OrderedDict()
        self._alarms: dict[str, ExhaustionAlarm] = {}
        self._first_seen: dict[tuple[str, str], float] = {}
        self._forecast_at = -math.inf
        self._forecasts: list[Prediction] = []
        self._values: dict[tuple[str, str], float] = {}
        self._restarts: deque[Restart] = deque(maxlen=RECENT)
        self._restart_counts: dict[str, int] = {}
        self._workload_event_ts = -math.inf
        self._causes: OrderedDict[str, list[Cause]] = OrderedDict()
        self._scraped_seen: dict[str, float] = {}  # service -> its last scrape fed
        self._scraped_watched = 0  # of predictions.max_scraped
        self._counters: dict[str, tuple[float, float]] = {}  # watched counters: (ts, value)
        # Kept from step to step and changed only for the series a step fed, and services
        # walked only when the store's notices name them: at 1,000 services (2,000
        # series, 100 checks a second) rebuilding the tables and walking every service
        # made a step 12.7 ms of loop time; this way 6.5 ms (measured in one process,
        # headless, 20 steps each).
        self._notices: Subscription | None = None
        self._fed: set[str] = set()  # series fed (or created) this step
        self._scores: dict[str, tuple[float, bool, float]] = {}
        self._marks: dict[str, tuple[tuple[float, float, str], ...]] = {}
        self._warmed = 0  # series whose detector has seen `warmup` samples

    # ------------------------------------------------------------------ tick
    def step(self, now: float | None = None) -> list[Prediction]:
        """Feed what is new, refresh forecasts when due, publish to the store."""
        return at_once(self.stepping(now))

    def stepping(self, now: float | None = None) -> Work[list[Prediction]]:
        """`step` as a generator that yields between small units of work (a service
        fed, a budget forecast), for the runtime to run in slices (slices.py): whole, a
        step at 1,000 services held the event loop 5-10 ms, and every scrape that came
        meanwhile waited as long. The store is written once, at the end, as before."""
        now = self.clock() if now is None else now
        yield from self._feed_host()
        yield from self._feed_services(now)
        self._feed_scraped()
        yield from self._feed_events(now)
        self._track_restarts(now)
        yield
        if now - self._forecast_at >= self.settings.forecast_every:
            self._forecast_at = now
            self._forecasts = yield from self._forecast(now)
        anomalies = self._anomalies()
        predictions = sorted(
            anomalies + self._forecasts, key=lambda p: (-p.severity.rank, -p.score, p.subject)
        )
        values = dict(self._values)
        for p in anomalies:
            if p.service is not None:
                key = ("anomaly_score", p.service)
                values[key] = max(values.get(key, 0.0), p.score)
        self._rank_open_incidents(now)
        yield from self._publish_fed()
        warming = len(self._series) - self._warmed
        status: PredictionStatus = {
            "series": len(self._series),
            "warming_up": warming,
            "warmup_samples": self.settings.warmup,
            "flagged": len(anomalies),
            "series_dropped": self.dropped,
            "updated_at": now,
            "forecasts_at": self._forecast_at,
            "scaling_enabled": self.config.scaling.enabled,
            "recent_anomalies": [
                {
                    "series": a.series,
                    "service": a.service,
                    "label": a.label,
                    "started_at": a.started_at,
                    "ended_at": a.ended_at,
                    "peak_score": round(a.peak, 3),
                    "onset_value": a.onset_value,
                    "expert": a.expert,
                }
                for a in self.recent_anomalies(now)
            ],
        }
        self.store.set_predictions(
            predictions,
            scores=dict(self._scores),
            values=values,
            marks=dict(self._marks),
            root_causes={k: v for k, v in self._causes.items()},
            status=status,
        )
        return predictions

    def _publish_fed(self) -> Work[None]:
        """The scores and marks of the series fed this step, into the kept tables; a yield
        each PUBLISH_RUN series (at 1,000 services ~200 a step: 0.3-0.6 ms in one go)."""
        fed, self._fed = self._fed, set()
        for n, key in enumerate(fed, 1):
            s = self._series.get(key)
            if s is None:
                continue
            d = s.detector
            self._scores[key] = (round(d.score, 4), d.flag, round(d.rate, 4))
            if s.marks:
                self._marks[key] = tuple(s.marks)
            if n % PUBLISH_RUN == 0:
                yield

    def recent_anomalies(self, now: float) -> list[PastAnomaly]:
        """Anomalies that ended within the last hour, newest first."""
        return [a for a in reversed(self._recent) if now - a.ended_at <= RECENT_S]

    # ------------------------------------------------------------------ series
    def _get(
        self, key: str, service: str | None, label: str, unit: str, why: str
    ) -> _Series | None:
        s = self._series.get(key)
        if s is None:
            if len(self._series) >= self.settings.max_series:
                self.dropped += 1
                return None
            s = self._series[key] = _Series(
                key, service, label, unit, why, Detector(self.detector_config)
            )
            self._fed.add(key)
            if self.settings.warmup <= 0:
                self._warmed += 1
        return s

    def _update(self, s: _Series, ts: float, value: float) -> None:
        if s.window is not None:
            # Health-check latency is one probe each time: a lone slow probe (GC pause,
            # scheduler hiccup) is noise, while a real slowdown lasts. The median of the
            # last three drops lone spikes, so they do not teach the detector that 10x
            # jumps are normal, at the price of one sample of delay.
            s.window.append(value)
            if len(s.window) > 3:
                del s.window[0]
            value = sorted(s.window)[len(s.window) // 2]
        level, spread, seen = s.detector.baseline  # before this sample moves it
        r = s.detector.update(ts, value)
        self._fed.add(s.key)
        if seen < self.settings.warmup <= s.detector.baseline[2]:
            self._warmed += 1
        s.last_ts, s.last_value = ts, value
        flag = r.flag
        if s.window is not None and seen >= self.settings.warmup:
            # A slow drift teaches the detector as it goes; latency that stays at twice
            # its learnt level (and well outside its usual spread) is a slowdown however
            # gradually it came.
            far = value > max(DEPARTURE_RATIO * level, level + DEPARTURE_SPREADS * spread)
            s.departed = s.departed + 1 if far else 0
            flag = flag or s.departed >= DEPARTURE_SAMPLES
        if flag:
            score = r.score if r.flag else max(r.score, s.detector.config.on)
            if s.onset is None or score > s.peak:
                if r.score >= s.detector.config.on:
                    s.seen = s.detector.explain()
                elif s.seen is None:  # flagged by the latency departure rule only
                    s.seen = Explanation(
                        "departure",
                        f"a stay above {DEPARTURE_RATIO:g}x its learnt level",
                        level,
                        spread,
                        value / level if level > 0 else math.inf,
                    )
            if s.onset is None:
                s.onset, s.onset_value, s.peak = ts, value, score
            else:
                s.peak = max(s.peak, score)
            if s.marks is None:
                s.marks = deque(maxlen=MARKS)
            s.marks.append((ts, value, s.seen.expert if s.seen is not None else ""))
        elif s.onset is not None:
            expert = s.seen.expert if s.seen is not None else ""
            self._recent.append(
                PastAnomaly(s.key, s.service, s.onset, ts, s.peak, s.label, s.onset_value, expert)
            )
            s.seen = None
            s.onset = None

    def _feed_ring(self, s: _Series | None, ring: Any) -> None:
        if s is None or ring is None:
            return
        last = ring.last()
        if last is None or last[0] <= s.last_ts:
            return
        ts, vs = ring.since(s.last_ts if s.last_ts > -math.inf else -math.inf)
        start = max(0, len(ts) - FIRST_FEED) if s.last_ts == -math.inf else 0
        for t, v in zip(ts[start:], vs[start:], strict=True):
            if t > s.last_ts:
                self._update(s, t, v)

    def _feed_host(self) -> Work[None]:
        store = self.store
        for key in store.series_names():
            yield
            spec = series_spec(key)
            kind = (
                "disk"
                if key.startswith("disk:")
                else "io"
                if key.startswith(("disk_", "net_"))
                else key
            )
            self._feed_ring(
                self._get(key, None, f"host {spec.label}", spec.unit, WHY.get(kind, "")),
                store.series(key),
            )
        sample = store.system
        if sample is None or sample.ts <= self._sys_ts:
            return
        self._sys_ts = sample.ts
        window = self.settings.forecast_window
        for d in sample.disks:
            self._windows.setdefault(f"disk:{d.mount}", TrendWindow(window)).add(
                sample.ts, float(d.used)
            )
        self._windows.setdefault("memory", TrendWindow(window)).add(
            sample.ts, float(sample.mem_total - sample.mem_available)
        )
        if sample.top_ts is not None and sample.top_ts != self._top_ts:
            self._top_ts = sample.top_ts
            for p in sample.top_mem:
                key = f"{p.name} (pid {p.pid})"
                win = self._procs.pop(key, None) or TrendWindow(window)
                win.add(sample.top_ts, float(p.rss))
                self._procs[key] = win  # most recently seen last
            while len(self._procs) > MAX_PROCESSES:
                self._procs.popitem(last=False)

    def _feed_services(self, now: float) -> Work[None]:
        """The services with a new check since the last step (all of them at the first)."""
        store = self.store
        if self._notices is None:
            self._notices = store.bus.subscribe()
            names = store.service_names()
        else:
            names = [t[len(SERVICE) :] for t in self._notices.take() if t.startswith(SERVICE)]
        made = self._service_series
        for name in names:
            yield
            if not store.has_service(name):
                continue
            pair = made.get(name)
            s = pair[0] if pair is not None else self._latency_series(name)
            self._feed_ring(s, store.latency_history(name))
            last = store.last_check(name)
            if last is None or last.ts <= self._checks_seen.get(name, -math.inf):
                continue
            self._checks_seen[name] = last.ts
            failed = store.failed_percent(name, now, ERROR_WINDOW)
            if pair is not None:
                errors: _Series | None = pair[1]
            else:
                errors = self._get(
                    f"errors:{name}",
                    name,
                    f"{name} failed checks (5 min)",
                    "percent",
                    WHY["errors"].format(service=name),
                )
                if s is not None and errors is not None:
                    made[name] = (s, errors)
            if errors is not None and failed is not None:
                self._update(errors, last.ts, failed)

    def _latency_series(self, name: str) -> _Series | None:
        s = self._get(
            f"latency:{name}", name, f"{name} latency", "s", WHY["latency"].format(service=name)
        )
        if s is not None and s.window is None:
            s.window = []
        return s

    def _feed_scraped(self) -> None:
        """Each new scrape of a service's own metrics: at most `predictions.max_scraped`
        series are watched (first come), a gauge as it is, a counter as its rate per
        second (its level only grows; a reset skips one sample)."""
        store = self.store
        for service in store.scraped_services():
            snap = store.scraped(service)
            if snap is None or snap.ts <= self._scraped_seen.get(service, -math.inf):
                continue
            self._scraped_seen[service] = snap.ts
            why = WHY["scraped"].format(service=service)
            for sample in snap.samples():
                s = self._series.get(sample.series)
                if s is None:
                    if self._scraped_watched >= self.settings.max_scraped:
                        self.dropped += 1
                        continue
                    label = sample.series.removeprefix("scrape:").replace(":", " ", 1)
                    s = self._get(
                        sample.series, service, label, "/s" if sample.counter else "", why
                    )
                    if s is None:
                        continue
                    self._scraped_watched += 1
                value = sample.value
                if sample.counter:
                    before = self._counters.get(sample.series)
                    self._counters[sample.series] = (snap.ts, value)
                    if before is None or value < before[1] or snap.ts <= before[0]:
                        continue
                    value = (value - before[1]) / (snap.ts - before[0])
                if snap.ts > s.last_ts:
                    self._update(s, snap.ts, value)

    def _feed_events(self, now: float) -> Work[None]:
        """The event log's rates (each EVENT_SLOT), a yield after each series fed. Its
        series are kept apart by prefix: finding them among every series (2,200 at
        1,000 services) and feeding ~200 in one go held the loop 3-4.7 ms every 10 s
        (warm, in process; a unit of the step otherwise takes well under 1 ms)."""
        slot = int(now // EVENT_SLOT)
        if slot == self._event_slot:
            return
        self._event_slot = slot
        try:
            rates = self.store.event_log.rates(now)
        except (AttributeError, TypeError, ValueError):
            return  # the event log (issue 5) is optional here
        has_service = self.store.has_service
        for group, prefix in (("by_type", "events:type:"), ("by_service", "events:service:")):
            counts = (rates.get(group) or {}) if isinstance(rates, dict) else {}
            known = self._event_keys.setdefault(prefix, set())
            keys = known | {prefix + str(k) for k in counts}
            for key in sorted(keys):
                name = key.removeprefix(prefix)
                service = name if group == "by_service" and has_service(name) else None
                what = f"events of type {name}" if group == "by_type" else f"events from {name}"
                s = self._get(key, service, f"{what} per minute", "events/min", WHY["events"])
                if s is None:
                    continue
                known.add(key)
                if now > s.last_ts:
                    self._update(s, now, float(counts.get(name, 0)))
                    yield

    # ------------------------------------------------------------------ anomalies
    def _anomalies(self) -> list[Prediction]:
        out = []
        for s in self._series.values():
            if s.onset is None:
                continue
            level, spread, _ = s.detector.baseline
            value = s.last_value
            sev = Severity.MEDIUM if s.peak >= 0.7 else Severity.LOW
            since = time.strftime("%H:%M:%S", time.localtime(s.onset))
            seen = s.seen or s.detector.explain()
            text = (
                f"{s.label} is {_fmt(value, s.unit)}, usually {_fmt(level, s.unit)} "
                f"± {_fmt(spread, s.unit)}; since {since} it has been more unusual than "
                f"anything it did recently (peak score {s.peak:.2f}, started at "
                f"{_fmt(s.onset_value, s.unit)}). Seen: {seen.text} "
                f"({_seen_baseline(seen, s.unit)})"
            )
            if s.why:
                text += f". Why it matters: {s.why}"
            out.append(
                Prediction(
                    "anomaly",
                    s.key,
                    s.service,
                    sev,
                    round(s.peak, 3),
                    f"{s.label} unusual: {_fmt(value, s.unit)} (usually {_fmt(level, s.unit)})",
                    text,
                    s.onset,
                    value,
                    {
                        "series": s.key,
                        "baseline": level,
                        "spread": spread,
                        "onset_value": s.onset_value,
                        "score": round(s.detector.score, 4),
                        "rate": round(s.detector.rate, 4),
                        "unit": s.unit,
                        "expert": seen.expert,
                        "expected": _finite(seen.level),
                        "expected_spread": _finite(seen.spread),
                        "surprise": _finite(round(seen.surprise, 3)),
                    },
                )
            )
        return out

    # ------------------------------------------------------------------ forecasts
    def _forecast(self, now: float) -> Work[list[Prediction]]:
        out: list[Prediction] = []
        values: dict[tuple[str, str], float] = {}
        sample = self.store.system
        capacity = {}
        if sample is not None:
            capacity = {f"disk:{d.mount}": float(d.total) for d in sample.disks}
            capacity["memory"] = float(sample.mem_total)
        for key, window in list(self._windows.items()):
            if key not in capacity:
                del self._windows[key]  # an unmounted disk
                continue
            ts, used = window.series()
            resource = f"disk {key[5:]}" if key.startswith("disk:") else "memory"
            fc = time_to_exhaustion(
                resource, ts, used, capacity[key], unit="bytes", policy=self.policy
            )
            level = self._alarms.setdefault(key, ExhaustionAlarm()).update(
                None if fc is None else fc.seconds_to_exhaustion
            )
            if fc is None:
                self._first_seen.pop(("exhaustion", key), None)
                continue
            metric = "memory_exhaustion_s" if key == "memory" else "disk_exhaustion_s"
            values[(metric, "host" if key == "memory" else key)] = fc.seconds_to_exhaustion
            why = (
                "writes will fail (logs, databases, uploads)"
                if key != "memory"
                else "the OOM killer will start ending processes"
            )
            out.append(
                Prediction(
                    "exhaustion",
                    key,
                    None,
                    ALARM_RANK[level],
                    fc.confidence,
                    f"{resource} full in {human_duration(fc.seconds_to_exhaustion)}",
                    f"{fc.explanation}. Why it matters: when it is full {why}",
                    self._first_seen.setdefault(("exhaustion", key), now),
                    fc.seconds_to_exhaustion,
                    {
                        "resource": key,
                        "used": fc.used,
                        "capacity": fc.capacity,
                        "rate_per_s": fc.rate,
                        "fit_span_s": fc.fit_span_s,
                        "alarm": level,
                    },
                )
            )
        for key, window in self._procs.items():
            ts, rss = window.series()
            ts, rss = _thin(ts, rss, FIT_POINTS)
            leak = leak_suspicion(key, ts, rss, min_span_s=self.settings.min_span)
            if leak is None:
                continue
            out.append(
                Prediction(
                    "leak",
                    key,
                    None,
                    Severity.MEDIUM,
                    leak.confidence,
                    f"{key}: RSS +{format_bytes(leak.growth)}, possible leak",
                    f"{leak.explanation}. Why it matters: a leaking process grows until memory "
                    "runs out; restarting it buys time, the fix is in its code",
                    self._first_seen.setdefault(("leak", key), now),
                    leak.rate,
                    {"process": key, "growth_bytes": leak.growth, "rate_per_s": leak.rate},
                )
            )
        yield
        out += yield from self._budgets(now, values)
        if self.config.scaling.enabled:
            out += self._advice(now)
        self._values = values
        return out

    def _budgets(self, now: float, values: dict[tuple[str, str], float]) -> Work[list[Prediction]]:
        from devmentor_monitor.incidents.rules import (
            burn_rate,  # rules imports the store; keep startup light
        )

        out = []
        for name in self.store.service_names():
            if self.store.service_config(name).slo is None:
                continue  # no summary derived for nothing (1,000: tens of ms of loop)
            yield
            summary = self.store.service(name)
            slo = summary.slo
            if slo is None or summary.error_budget_remaining is None:
                continue
            burn = burn_rate(self.store, name, HOUR, now, slo.uptime)
            failed = self.store.check_counts(name, now, HOUR)[2]
            fc = (
                None
                if burn is None
                else error_budget_exhaustion(
                    name,
                    summary.error_budget_remaining,
                    burn,
                    slo_window_s=SLO_WINDOW,
                    errors=failed,
                )
            )
            key = f"budget:{name}"
            shown = fc is not None and fc.seconds_to_exhaustion < SLO_WINDOW
            level = self._alarms.setdefault(key, ExhaustionAlarm()).update(
                fc.seconds_to_exhaustion if shown and fc else None
            )
            if not shown or fc is None:
                self._first_seen.pop(("error_budget", name), None)
                continue
            values[("budget_exhaustion_s", name)] = fc.seconds_to_exhaustion
            out.append(
                Prediction(
                    "error_budget",
                    name,
                    name,
                    ALARM_RANK[level],
                    fc.confidence,
                    f"{name} error budget gone in {human_duration(fc.seconds_to_exhaustion)}",
                    f"{fc.explanation}, from {failed} failed checks in the last hour against a "
                    f"{slo.uptime:g} % SLO (7-day budget). Why it matters: once spent, the SLO "
                    "is missed for the week and risky deploys should wait",
                    self._first_seen.setdefault(("error_budget", name), now),
                    fc.seconds_to_exhaustion,
                    {
                        "budget_remaining": fc.budget_remaining,
                        "burn_rate": fc.burn_rate,
                        "failed_checks_1h": failed,
                    },
                )
            )
        return out

    # ------------------------------------------------------------------ capacity
    def _advice(self, now: float) -> list[Prediction]:
        scaling = self.config.scaling
        targets: list[tuple[str, str, int | None]] = []  # subject, service, replicas
        covered: set[str] = set()
        for d in _items(self.store, "kube", "deployments"):
            service = getattr(d, "service", None) or (
                d.name if self.store.has_service(d.name) else None
            )
            if service is None:
                continue
            targets.append((d.name, service, getattr(d, "desired", None)))
            covered.add(service)
        targets += [(n, n, None) for n in self.store.service_names() if n not in covered]
        cpu = self._cpu_signals(now)
        out = []
        for subject, service, current in targets:
            signals = [
                sig
                for sig in (cpu.get(service) or cpu.get(None), self._latency_signal(service, now))
                if sig
            ]
            advice = advise(
                subject, service, current, signals, scaling.min_replicas, scaling.max_replicas
            )
            if advice is not None:
                out.append(self._advice_prediction(advice, now))
        return out

    def _advice_prediction(self, a: Advice, now: float) -> Prediction:
        current = "?" if a.current is None else str(a.current)
        return Prediction(
            "capacity",
            a.subject,
            a.service,
            Severity.MEDIUM if a.ratio >= 1.5 else Severity.LOW,
            1.0,
            f"{a.subject}: replicas {current} -> {a.suggested} ({a.driver} {a.ratio:.2f}x)",
            a.explanation,
            self._first_seen.setdefault(("capacity", a.subject), now),
            float(a.suggested),
            {
                "current": a.current,
                "suggested": a.suggested,
                "ratio": a.ratio,
                "driver": a.driver,
                "min_replicas": self.config.scaling.min_replicas,
                "max_replicas": self.config.scaling.max_replicas,
            },
        )

    def _cpu_signals(self, now: float) -> dict[str | None, Signal]:
        """Per service from its containers' CPU when Docker reports it; else (key None)
        the host's CPU, which every service shares."""
        target = self.config.thresholds.cpu.warn
        out: dict[str | None, Signal] = {}
        per_service: dict[str, list[float]] = {}
        for c in _items(self.store, "docker", "containers"):
            if getattr(c, "service", None) and getattr(c, "cpu_ratio", None) is not None:
                per_service.setdefault(c.service, []).append(100.0 * c.cpu_ratio)
        for service, values in per_service.items():
            avg = sum(values) / len(values)
            out[service] = Signal(
                "CPU",
                avg / target,
                avg / target,
                f"container CPU {avg:.0f} % of a core against a {target:g} % target",
            )
        ring = self.store.series("cpu")
        if ring is not None:
            ts, vs = ring.since(now - 900)
            if len(vs) >= 3:
                recent = vs[-max(3, len(vs) // 5) :]
                level = sum(recent) / len(recent)
                projected, trend = _project(ts, vs, level, now)
                out[None] = Signal(
                    "CPU",
                    level / target,
                    projected / target,
                    f"host CPU {level:.0f} % against a {target:g} % target"
                    + trend.format(unit="%", value=f"{projected:.0f}"),
                )
        return out

    def _latency_signal(self, service: str, now: float) -> Signal | None:
        slo = self.store.service_config(service).slo
        if slo is None:
            return None
        ts, vs = self.store.latency_history(service).since(now - 900)
        recent = [v for t, v in zip(ts, vs, strict=True) if t >= now - 300]
        if len(recent) < 3:
            return None
        p95 = percentile(sorted(recent), 0.95)
        projected, trend = _project(ts, vs, p95, now)
        target = slo.response_time
        return Signal(
            "latency",
            p95 / target,
            projected / target,
            f"p95 latency {p95 * 1000:.0f} ms (5 min) against a "
            f"{target * 1000:g} ms SLO" + trend.format(unit=" ms", value=f"{projected * 1000:.0f}"),
        )

    # ------------------------------------------------------------------ root causes
    def _track_restarts(self, now: float) -> None:
        """Restart counters that went up, and restart-like workload events, as evidence."""
        for kind, attr, source in (
            ("containers", "restart_count", "docker"),
            ("pods", "restarts", "kube"),
        ):
            for obj in _items(self.store, source, kind):
                service = getattr(obj, "service", None)
                count = getattr(obj, attr, None)
                if not isinstance(count, int):
                    continue
                key = f"{kind}:{getattr(obj, 'name', '?')}"
                before = self._restart_counts.get(key)
                self._restart_counts[key] = count
                if before is not None and count > before and service:
                    why = getattr(obj, "last_termination", None) or (
                        "OOM killed"
                        if getattr(obj, "oom_killed", False)
                        else f"restart count {before} -> {count}"
                    )
                    self._restarts.append(Restart(now, service, obj.name, why))
        newest = self._workload_event_ts
        for source in ("docker", "kube"):
            state = getattr(self.store, source, None)
            for e in list(getattr(state, "events", ()) or ()):
                ts = getattr(e, "ts", None)
                if ts is None or ts <= self._workload_event_ts:
                    continue
                newest = max(newest, ts)
                if getattr(e, "service", None) and str(e.kind).lower() in RESTART_KINDS:
                    self._restarts.append(
                        Restart(ts, e.service, e.subject, f"{e.kind}: {e.message}".strip(": "))
                    )
        self._workload_event_ts = newest
        if len(self._restart_counts) > 4 * RECENT:  # objects come and go: forget old ones
            self._restart_counts.clear()

    def _rank_open_incidents(self, now: float) -> None:
        incidents = self.store.open_incidents()
        if not incidents:
            return
        depends_on = {s.name: s.depends_on for s in self.config.services}
        health = {n: self.store.status(n).value for n in self.store.service_names()}
        anomalies = self.anomaly_onsets(now)
        changes = list(self._changes())
        restarts = list(self._restarts)
        for inc in incidents:
            self._causes[inc.id] = self.causes_for(
                inc, depends_on, health, anomalies, changes, restarts
            )
            self._causes.move_to_end(inc.id)
        while len(self._causes) > CAUSES_KEPT:
            self._causes.popitem(last=False)

    def causes_for(
        self,
        inc: Incident,
        depends_on: dict[str, tuple[str, ...]],
        health: dict[str, str],
        anomalies: Iterable[Anomaly],
        changes: Iterable[Change],
        restarts: Iterable[Restart],
    ) -> list[Cause]:
        return rank_causes(
            inc.service,
            inc.opened_at,
            depends_on=depends_on,
            health=health,
            anomalies=anomalies,
            changes=changes,
            restarts=restarts,
            limit=5,
        )

    def anomaly_onsets(self, now: float) -> list[Anomaly]:
        """Current and recent anomalies as root-cause evidence."""
        out = [
            Anomaly(s.key, s.service, s.onset, s.peak)
            for s in self._series.values()
            if s.onset is not None
        ]
        out += [
            Anomaly(a.series, a.service, a.started_at, a.peak) for a in self.recent_anomalies(now)
        ]
        return out

    def _changes(self) -> Iterable[Change]:
        known = set(self.store.service_names())
        for e in list(getattr(self.store.event_log, "changes", ()) or ()):
            try:
                service = e.service if e.service in known else None
                yield Change(float(e.ts), str(e.type), service, str(e.message))
            except (AttributeError, TypeError, ValueError):
                continue


def _items(store: Store, source: str, kind: str) -> list[Any]:
    """Objects of one kind from the Docker/Kubernetes state, or none (read defensively)."""
    state = getattr(store, source, None)
    try:
        return list(state.items(kind)) if state is not None else []
    except (AttributeError, TypeError):
        return []


class _Trend:
    """Wording of a projection: empty when there is no trustworthy trend."""

    def __init__(self, slope_per_10m: float | None) -> None:
        self.slope = slope_per_10m

    def format(self, *, unit: str, value: str) -> str:
        if self.slope is None:
            return ""
        return f", trending to {value}{unit} in 10 min"


def _project(ts: list[float], vs: list[float], level: float, now: float) -> tuple[float, _Trend]:
    """`level` moved LOOKAHEAD seconds along a confident Theil-Sen trend (never below it
    for a rise, never below zero)."""
    fit = theil_sen(ts, vs, max_points=FIT_POINTS) if len(ts) >= 10 else None
    if fit is None or fit.confidence < 0.6 or fit.span_s < 120:
        return level, _Trend(None)
    projected = max(0.0, level + fit.slope * (now - fit.ts_last + LOOKAHEAD))
    return projected, _Trend(fit.slope * LOOKAHEAD)


def _seen_baseline(seen: Explanation, unit: str) -> str:
    """What the winning expert compared the sample with, in words."""
    if seen.expert == "new_extreme":
        return (
            f"past {_fmt(seen.level, unit)}, the edge of everything it has held, "
            f"a range {_fmt(seen.spread, unit)} wide"
        )
    if seen.expert == "departure":
        return f"{seen.surprise:.1f}x its learnt level of {_fmt(seen.level, unit)}"
    if seen.expert == "volatility":
        return (
            f"steps of {_fmt(seen.spread, unit)} are typical; "
            f"{seen.surprise:.1f}x the largest such burst recently"
        )
    where = "for this hour of the day" if seen.expert == "time_of_day" else "long-run"
    return (
        f"expected {_fmt(seen.level, unit)} ± {_fmt(seen.spread, unit)} {where}; "
        f"{seen.surprise:.1f}x the largest such surprise recently"
    )


def _finite(value: float) -> float | None:
    """JSON has no NaN or infinity: those read as null."""
    return value if math.isfinite(value) else None


def _fmt(value: float, unit: str) -> str:
    if value != value:  # NaN
        return "–"
    if unit == "s":
        return f"{value * 1000:.1f} ms" if value < 0.1 else f"{value * 1000:.0f} ms"
    if unit == "percent":
        return format_percent(value, 1)
    if unit == "bytes/s":
        return format_rate(value)
    if unit == "events/min":
        return f"{value:.0f}/min"
    return f"{value:.3g}"
