"""The services table at fleet size: which rows it lists, in what order, under which group.

Pure functions over the store's summaries, so ServicesTable (widgets.py) can work out its
rows once per change and draw only the ones on screen. Sort keys cycle with `>` (keys.py:
services_sort); a service's optional `group` (services.yaml) puts it under a collapsible
line with counts (`z` or `enter` on that line).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import msgspec

from devmentor_monitor.model import Health
from devmentor_monitor.store import ServiceSummary

# Sort keys in the order `>` cycles through them; "config" is services.yaml's order.
SORTS: dict[str, str] = {
    "config": "as configured",
    "status": "status (down first)",
    "name": "name",
    "latency": "latency (slowest first)",
    "budget": "error budget (least left first)",
    "age": "last check (oldest first)",
}
STATUS_RANK = {Health.DOWN: 0, Health.DEGRADED: 1, Health.UNKNOWN: 2, Health.UP: 3}
UNGROUPED = "(none)"  # the services with no group
GROUP_PREFIX = "group:"  # row keys of group lines; a service name never has a ':'
INF = float("inf")


def _latency(s: ServiceSummary) -> tuple[int, float, str]:
    failed = s.last is not None and not s.last.ok
    return (0 if failed else 1, -(s.latency if s.latency is not None else -INF), s.name)


def _budget(s: ServiceSummary) -> tuple[float, str]:
    b = s.error_budget_remaining
    return (INF if b is None else b, s.name)


def _age(s: ServiceSummary) -> tuple[float, str]:
    return (-INF if s.last is None else s.last.ts, s.name)


SORT_KEYS: dict[str, Callable[[ServiceSummary], Any]] = {
    "status": lambda s: (STATUS_RANK[s.status], s.name),
    "name": lambda s: s.name,
    "latency": _latency,
    "budget": _budget,
    "age": _age,
}


def next_sort(current: str) -> str:
    names = list(SORTS)
    return names[(names.index(current) + 1) % len(names)] if current in SORTS else names[0]


class GroupLine(msgspec.Struct, frozen=True):
    """One group's line: its name, how many of its services the filter lets through and
    how many of those are in each state, and whether its services are hidden."""

    name: str
    total: int
    counts: Mapping[Health, int]
    collapsed: bool

    @property
    def key(self) -> str:
        return GROUP_PREFIX + self.name

    @property
    def worst(self) -> Health:
        for h in (Health.DOWN, Health.DEGRADED, Health.UNKNOWN):
            if self.counts.get(h):
                return h
        return Health.UP


Line = ServiceSummary | GroupLine


def matches(s: ServiceSummary, group: str | None, text: str) -> bool:
    """The filter: a part of the name, the status word or the group's name."""
    return (
        not text
        or text in s.name.lower()
        or text in s.status.value
        or (group is not None and text in group.lower())
    )


def arrange(
    summaries: Sequence[ServiceSummary],
    groups: Mapping[str, str | None],
    *,
    text: str = "",
    sort: str = "config",
    collapsed: frozenset[str] = frozenset(),
) -> list[Line]:
    """The table's lines in order: the services the filter lets through, sorted; with
    groups (any service has one), each group's line then its services unless collapsed,
    groups by name and the ungrouped last."""
    shown = [s for s in summaries if matches(s, groups.get(s.name), text)]
    key = SORT_KEYS.get(sort)
    if key is not None:
        shown.sort(key=key)
    if not any(groups.values()):
        return list(shown)
    by_group: dict[str, list[ServiceSummary]] = {}
    for s in shown:
        by_group.setdefault(groups.get(s.name) or UNGROUPED, []).append(s)
    out: list[Line] = []
    for name in sorted(by_group, key=lambda g: (g == UNGROUPED, g)):
        members = by_group[name]
        counts: dict[Health, int] = {}
        for s in members:
            counts[s.status] = counts.get(s.status, 0) + 1
        line = GroupLine(name, len(members), counts, name in collapsed)
        out.append(line)
        if not line.collapsed:
            out.extend(members)
    return out
