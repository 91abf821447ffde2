"""Inhibition by dependency: a service's signals join its dependency's open incident.

While a service's dependency (transitively, through `depends_on`) has an open incident
with a firing outage signal of its own, the service's signals attach to that incident
(which lists the service among its dependents) and never page on their own. This is
Alertmanager's "a source firing mutes its targets", with the dependency graph as the only
source → target relation, and the muted signals kept visible in the root's incident.

Reads the store only; the engine acts on what it says.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from devmentor_monitor.incidents.model import Incident
from devmentor_monitor.incidents.signals import HOST, clears
from devmentor_monitor.store import Store


class Inhibitor:
    def __init__(self, store: Store) -> None:
        self.store = store

    def dependencies(self, service: str) -> list[str]:
        """What ``service`` depends on, transitively, nearest first (cycle-safe)."""
        return self._walk(service, lambda s: list(self.store.service_config(s).depends_on))

    def dependents(self, service: str) -> list[str]:
        """What depends on ``service``, transitively, nearest first (cycle-safe)."""
        return self._walk(service, self.store.dependents)

    def _walk(self, service: str, edges: Callable[[str], list[str]]) -> list[str]:
        if service == HOST or not self.store.has_service(service):
            return []
        seen = {service}
        out: list[str] = []
        todo = deque([service])
        while todo:
            for nxt in edges(todo.popleft()):
                if nxt in seen or not self.store.has_service(nxt):
                    continue
                seen.add(nxt)
                out.append(nxt)
                todo.append(nxt)
        return out

    def depends_on(self, service: str, dependency: str) -> bool:
        return dependency in self.dependencies(service)

    def root_for(self, service: str) -> Incident | None:
        """The open incident of a dependency that has a firing outage signal of its own
        (the nearest such dependency), or None."""
        deps = self.dependencies(service)
        if not deps:
            return None
        open_by_service: dict[str, list[Incident]] = {}
        for inc in self.store.open_incidents():
            open_by_service.setdefault(inc.service, []).append(inc)
        for dep in deps:
            for inc in open_by_service.get(dep, ()):
                if has_firing_outage(inc):
                    return inc
        return None

    def failing_dependents(self, service: str) -> list[str]:
        """Dependents (transitively) whose last check failed: named when the root pages."""
        out = []
        for name in self.dependents(service):
            last = self.store.last_check(name)
            if last is not None and not last.ok:
                out.append(name)
        return out


def has_firing_outage(inc: Incident) -> bool:
    """Does the incident's own service have a live firing outage signal in it?

    Only conditions that clear by themselves count: a high platform event never clears,
    so an incident it opened must not stay a root (and mute dependents) forever."""
    return any(
        s.outage and s.firing and clears(s.kind) and s.service == inc.service for s in inc.signals
    )


__all__ = ["Inhibitor", "has_firing_outage"]
