"""`/api/services` rendered once per change, as /metrics is: a scrape costs a bytes join.

Each service's JSON is kept as bytes, in config order. The body listens on the store's
bus: a scrape encodes again only the services named by "service:<name>" notices since
the last scrape (a check, a beat, a workload change), plus those whose summary the store
derives again as time passes (Store.SUMMARY_TTL), found oldest first from a queue; then it
joins the kept fragments. The counts move with the statuses of the services encoded.

Measured at 1,000 services and 100 checks a second (bench/tui_fleet.py): keying the cache
on the store's version instead, as before, meant a pass over every service on nearly every
scrape (the version moves on every check and host sample) and 1-2 ms of loop time per
scrape; this is O(services changed), and ~0.2 ms for the join. The TUI shares the loop
with the exporter in `ultra`, so a scrape never holds the screen. The join is one copy of
the fragments, and the body goes out after the head as it is (responses.HeadFirst): a
scrape copied the 0.7 MiB six times before, about half of its loop time (py-spy).
"""

from __future__ import annotations

import asyncio
import json
from collections import deque

from devmentor_monitor.bus import SERVICE, Subscription
from devmentor_monitor.model import Health
from devmentor_monitor.queries import Queries
from devmentor_monitor.server.shapes import service_json
from devmentor_monitor.slices import Work, at_once, in_slices
from devmentor_monitor.store import ServiceSummary, Store


def _dumps(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


class ServicesBody:
    """The cached JSON body: {"services": [...], "counts": {...}}."""

    def __init__(self, store: Store, queries: Queries) -> None:
        self.store = store
        self.queries = queries
        self._sub: Subscription | None = None
        self._body = b""
        self._names: list[str] = []  # config order
        self._at: dict[str, int] = {}  # name -> its place in _names and _parts
        self._parts: list[bytes] = []
        self._held: dict[str, ServiceSummary] = {}  # the summary each part was encoded from
        # (when encoded, name), oldest first: summaries the store derives again after
        # SUMMARY_TTL with no notice (an unchecked service's windows slide).
        self._aged: deque[tuple[float, str]] = deque()
        self._counts: dict[str, int] = {}
        self.encoded = 0  # services encoded so far, for tests and benchmarks
        self._building = asyncio.Lock()

    def close(self) -> None:
        if self._sub is not None:
            self._sub.close()
            self._sub = None

    def _stale(self) -> bool:
        return self._sub is None or len(self._names) != len(self.store.service_names())

    async def ready(self) -> None:
        """Build the body afresh in slices (slices.py) if it must be (the first scrape,
        the services changed), so that `body` only has the changes to encode: at 1,000
        services encoding them all took 0.2-0.4 s in one callback, the loop (and in
        `ultra` the screen) held as long. Built aside, then taken at once; a scrape that
        comes meanwhile waits for it."""
        if not self._stale():
            return
        async with self._building:
            if not self._stale():
                return
            fresh = ServicesBody(self.store, self.queries)
            try:
                await in_slices(fresh._rebuilding())
            except BaseException:
                fresh.close()
                raise
            self.close()
            self._sub, fresh._sub = fresh._sub, None
            self._names, self._at, self._parts = fresh._names, fresh._at, fresh._parts
            self._held, self._aged, self._counts = fresh._held, fresh._aged, fresh._counts
            self._body = fresh._body
            self.encoded += fresh.encoded

    def body(self) -> bytes:
        store = self.store
        if self._sub is None or self._stale():
            at_once(self._rebuilding())
            return self._body
        now = store.clock()
        changed = {t[len(SERVICE) :] for t in self._sub.take() if t.startswith(SERVICE)}
        aged = self._aged
        due = now - store.SUMMARY_TTL
        while aged and aged[0][0] <= due:
            changed.add(aged.popleft()[1])
        dirty = False
        for name in changed:
            if name in self._at:
                dirty |= self._encode(name, now)
        if dirty:
            self._join()
        return self._body

    def _rebuilding(self) -> Work[None]:
        """Every service encoded afresh: at the first scrape, or if the services changed;
        a yield after each."""
        self.close()
        self._sub = self.store.bus.subscribe()  # first, so no change slips in between
        self._names = self.store.service_names()
        self._at = {name: i for i, name in enumerate(self._names)}
        self._parts = [b""] * len(self._names)
        self._held.clear()
        self._aged.clear()
        self._counts = {h.value: 0 for h in Health}
        now = self.store.clock()
        for name in self._names:
            self._encode(name, now)
            yield
        self._join()

    def _encode(self, name: str, now: float) -> bool:
        """Encode one service again if its summary is not the one held; True if it was."""
        s = self.store.service(name, now)
        held = self._held.get(name)
        if held is s:
            return False
        q = self.queries
        self._parts[self._at[name]] = _dumps(
            service_json(s, q.flap_state(name), q.burn_rates(name))
        )
        self._held[name] = s
        self._aged.append((now, name))
        if held is not None:
            self._counts[_counted(held)] -= 1
        self._counts[_counted(s)] += 1
        self.encoded += 1
        return True

    def _join(self) -> None:
        """One copy of the fragments: the head and tail go on the first and last
        fragments, then one join. Concatenating them to the joined 0.7 MiB instead
        copied it four times more on every scrape that followed a change."""
        tail = b'],"counts":' + _dumps(self._counts) + b"}"
        if not self._parts:
            self._body = b'{"services":[' + tail
            return
        chunks = list(self._parts)
        chunks[0] = b'{"services":[' + chunks[0]
        chunks[-1] += tail
        self._body = b",".join(chunks)


def _counted(s: ServiceSummary) -> str:
    """The status a service counts as: a stale last-known status is not known yet (as on
    /health, the header and devmentor_service_up)."""
    return Health.UNKNOWN.value if s.stale_at is not None else s.status.value
