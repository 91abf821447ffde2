"""`/api/services` rendered once per change, as /metrics is: a scrape costs a bytes copy.

The body is kept per store version; when the version moved, only the services whose
summary the store derived again (a new check, a beat, a workload change, or a minute
passed: see Store.SUMMARY_TTL) are encoded again, and the body is joined from the kept
per-service fragments. At 1,000 services a full render blocks the loop for ~40 ms; this
keeps a scrape well under 5 ms, so the TUI sharing the loop never freezes on one.
"""

from __future__ import annotations

import json

from devmentor_monitor.queries import Queries
from devmentor_monitor.server.shapes import service_json
from devmentor_monitor.store import ServiceSummary, Store


def _dumps(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


class ServicesBody:
    """The cached JSON body: {"services": [...], "counts": {...}}."""

    def __init__(self, store: Store, queries: Queries) -> None:
        self.store = store
        self.queries = queries
        self._version = -1
        self._body = b""
        # name -> (the summary it was encoded from, its JSON); flap state and burn rates
        # move only with checks, which also renew the summary.
        self._fragments: dict[str, tuple[ServiceSummary, bytes]] = {}
        self.encoded = 0  # services encoded so far, for tests and benchmarks

    def body(self) -> bytes:
        store = self.store
        if store.version == self._version and self._body:
            return self._body
        version = store.version
        kept = self._fragments
        fresh: dict[str, tuple[ServiceSummary, bytes]] = {}
        parts: list[bytes] = []
        q = self.queries
        for s in store.services():
            held = kept.get(s.name)
            if held is None or held[0] is not s:
                held = (s, _dumps(service_json(s, q.flap_state(s.name), q.burn_rates(s.name))))
                self.encoded += 1
            fresh[s.name] = held
            parts.append(held[1])
        self._fragments = fresh  # services gone from the config leave with it
        self._body = (
            b'{"services":[' + b",".join(parts) + b'],"counts":' + _dumps(store.counts()) + b"}"
        )
        self._version = version
        return self._body
