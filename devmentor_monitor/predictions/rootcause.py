"""Root-cause hints: rank what probably caused an incident, each with its evidence.

Plain inputs (the runtime collects them from the store), plain outputs, no I/O. Why the
scoring looks the way it does:

* **Dependencies.** A failing dependency explains its dependents, so in a chain of failures
  (project -> memory -> auth, all failing) the *root* (a failing dependency none of whose
  own dependencies fail) is the likely cause; intermediate links get a fraction of the
  weight, and each hop away from the incident's service costs a little.
* **Changes** (deploy, config change) and **restarts** of the service or of a dependency,
  and **anomalies** that began on them (or on the host) count only inside the window before
  onset (default 30 min); the closer to onset, the stronger. Anything after onset or older
  than the window is ignored: it cannot have caused this.
* **One candidate per subject.** Evidence about the same service is combined (noisy-OR:
  1 - prod(1 - w)), so "auth is down and was deployed 4 min before" beats either alone.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from devmentor_monitor.units import human_duration

HOST = "host"  # subject of anomalies that belong to no service

# Base weights of each kind of evidence (before recency and distance factors).
W_DOWN = 0.9
W_DEGRADED = 0.6
W_INTERMEDIATE = 0.35  # share kept by a failing dependency that has failing dependencies
W_HOP = 0.9  # factor per dependency hop beyond the first
W_DEPLOY = 0.85
W_CONFIG = 0.75
W_OTHER_CHANGE = 0.5
W_RESTART = 0.7
W_ANOMALY = 0.6
W_DEP_EVENT = 0.8  # events on a dependency rather than on the service itself
W_HOST_EVENT = 0.6


@dataclass(frozen=True, slots=True)
class Anomaly:
    series: str
    service: str | None  # None: a host-level series
    started_at: float
    score: float


@dataclass(frozen=True, slots=True)
class Change:
    ts: float
    type: str  # "deploy", "config-change", ...
    service: str | None  # None: platform-wide
    message: str


@dataclass(frozen=True, slots=True)
class Restart:
    ts: float
    service: str
    container: str  # container or pod name
    reason: str


@dataclass(frozen=True, slots=True)
class Cause:
    """One candidate: a subject (service or "host"), its combined score and evidence."""

    subject: str
    score: float  # 0..1
    kinds: tuple[str, ...]  # "dependency", "deploy", "config-change", "restart", "anomaly"
    evidence: tuple[str, ...]  # strongest first
    first_seen: float | None  # earliest timestamp among the timed evidence


def dependency_paths(
    service: str, depends_on: Mapping[str, Sequence[str]]
) -> dict[str, tuple[str, ...]]:
    """Every transitive dependency of `service` -> the shortest path to it (BFS)."""
    paths: dict[str, tuple[str, ...]] = {}
    queue: deque[tuple[str, tuple[str, ...]]] = deque([(service, (service,))])
    while queue:
        node, path = queue.popleft()
        for dep in depends_on.get(node, ()):
            if dep != service and dep not in paths:
                paths[dep] = (*path, dep)
                queue.append((dep, paths[dep]))
    return paths


def rank_causes(
    service: str,
    opened_at: float,
    *,
    depends_on: Mapping[str, Sequence[str]],
    health: Mapping[str, str],
    anomalies: Iterable[Anomaly | tuple[Any, ...]] = (),
    changes: Iterable[Change | tuple[Any, ...]] = (),
    restarts: Iterable[Restart | tuple[Any, ...]] = (),
    window_s: float = 30 * 60,
    limit: int = 10,
) -> list[Cause]:
    """Candidate causes of an incident on `service` opened at `opened_at`, best first.

    Tuples are accepted in the field order of `Anomaly` (series, service, started_at,
    score), `Change` (ts, type, service, message) and `Restart` (ts, service, container,
    reason).
    """
    paths = dependency_paths(service, depends_on)
    evidence: dict[str, list[tuple[float, str, str, float | None]]] = {}

    def add(subject: str, weight: float, kind: str, text: str, ts: float | None) -> None:
        if weight > 0:
            evidence.setdefault(subject, []).append((min(weight, 0.99), kind, text, ts))

    # 1. Failing dependencies; roots of failure chains first.
    failing = {d for d in paths if health.get(d) in ("down", "degraded")}
    for dep in failing:
        state = health[dep]
        failing_below = sorted(d for d in dependency_paths(dep, depends_on) if d in failing)
        weight = (W_DOWN if state == "down" else W_DEGRADED) * W_HOP ** (len(paths[dep]) - 2)
        chain = " -> ".join(paths[dep])
        if failing_below:
            weight *= W_INTERMEDIATE
            text = (
                f"dependency {dep} is {state} ({chain}), but its own dependencies "
                f"{', '.join(failing_below)} are failing too"
            )
        else:
            text = (
                f"dependency {dep} is {state} ({chain}) and none of its own "
                "dependencies is failing: likely the root of the chain"
            )
        add(dep, weight, "dependency", text, None)

    def relation(subject: str | None) -> tuple[str, float] | None:
        """Who the event is about, and its weight factor; None when unrelated."""
        if subject is None:
            return HOST, W_HOST_EVENT
        if subject == service:
            return service, 1.0
        if subject in paths:
            bonus = 1.1 if subject in failing else 1.0
            return subject, W_DEP_EVENT * bonus * W_HOP ** (len(paths[subject]) - 2)
        return None

    def recency(ts: float) -> float | None:
        age = opened_at - ts
        if age < 0 or age > window_s:
            return None
        return 1.0 - 0.5 * age / window_s

    def where(subject: str) -> str:
        return (
            "the service itself"
            if subject == service
            else ("the host" if subject == HOST else f"dependency {subject}")
        )

    # 2. Deploys and config changes before onset.
    for item in changes:
        ch = item if isinstance(item, Change) else Change(*item)
        rel, fresh = relation(ch.service), recency(ch.ts)
        if rel is None or fresh is None:
            continue
        kind = ch.type.lower()
        base = W_DEPLOY if "deploy" in kind else W_CONFIG if "config" in kind else W_OTHER_CHANGE
        ago = human_duration(opened_at - ch.ts)
        add(
            rel[0],
            base * rel[1] * fresh,
            kind,
            f"{kind} on {where(rel[0])} {ago} before onset: {ch.message}",
            ch.ts,
        )

    # 3. Restarts of the service or a dependency.
    for r_item in restarts:
        rs = r_item if isinstance(r_item, Restart) else Restart(*r_item)
        rel, fresh = relation(rs.service), recency(rs.ts)
        if rel is None or fresh is None:
            continue
        ago = human_duration(opened_at - rs.ts)
        add(
            rel[0],
            W_RESTART * rel[1] * fresh,
            "restart",
            f"{rs.container} of {where(rel[0])} restarted {ago} before onset ({rs.reason})",
            rs.ts,
        )

    # 4. Anomalies that began shortly before onset.
    for a_item in anomalies:
        an = a_item if isinstance(a_item, Anomaly) else Anomaly(*a_item)
        rel, fresh = relation(an.service), recency(an.started_at)
        if rel is None or fresh is None:
            continue
        strength = min(max(an.score, 0.0), 1.0)
        ago = human_duration(opened_at - an.started_at)
        add(
            rel[0],
            W_ANOMALY * rel[1] * fresh * strength,
            "anomaly",
            f"anomaly on {an.series} ({where(rel[0])}, score {strength:.2f}) began {ago} "
            "before onset",
            an.started_at,
        )

    causes = []
    for subject, items in evidence.items():
        items.sort(key=lambda e: -e[0])
        miss = 1.0
        for weight, *_ in items:
            miss *= 1.0 - weight
        times = [e[3] for e in items if e[3] is not None]
        kinds = tuple(dict.fromkeys(e[1] for e in items))
        causes.append(
            Cause(
                subject,
                round(1.0 - miss, 4),
                kinds,
                tuple(e[2] for e in items),
                min(times) if times else None,
            )
        )
    causes.sort(key=lambda c: (-c.score, c.subject))
    return causes[:limit]
