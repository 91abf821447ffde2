"""The /metrics body: rendered at most once per tick, and only when the store changed.

prometheus_client is imported on the first scrape, not at start-up: a dashboard whose
exporter nobody scrapes never pays for it.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from devmentor_monitor.store import Store

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry


class CachedExposition:
    """Renders at most once per ``ttl`` seconds, and only when the store changed."""

    def __init__(self, store: Store, started: float, ttl: float) -> None:
        self.store = store
        self.started = started
        self.ttl = ttl
        self.registry: CollectorRegistry | None = None
        self._body = b""
        self._version = -1
        self._at = 0.0
        self.renders = 0

    def body(self) -> bytes:
        now = time.monotonic()
        if self._version != self.store.version and (now - self._at >= self.ttl or not self._body):
            registry = self.registry
            if registry is None:
                from prometheus_client import CollectorRegistry

                from devmentor_monitor.server.collector import StoreCollector

                registry = CollectorRegistry(auto_describe=False)
                registry.register(StoreCollector(self.store, self.started))
                self.registry = registry
            from prometheus_client import generate_latest

            self._version = self.store.version
            self._body = generate_latest(registry)
            self._at = now
            self.renders += 1
        return self._body
