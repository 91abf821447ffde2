"""`/api/services` rendered once per change, as /metrics is: a scrape costs a few writes.

Each service's JSON is kept as bytes, in config order, and joined GROUP services at a
time into the pieces a scrape sends as they are (responses.Pieces). The body listens on
the store's bus: only the services named by "service:<name>" notices (a check, a beat, a
workload change) are encoded again, plus those whose summary the store derives again as
time passes (Store.SUMMARY_TTL), found oldest first from a queue; a change joins its
piece again. The counts move with the statuses of the services encoded. While scrapes
keep coming, a keeper task encodes the changes as they come, in slices; a scrape after a
quiet spell encodes them first, in slices too (slices.py), so neither holds the loop.

Measured at 1,000 services and 100 checks a second (bench/tui_fleet.py): keying the cache
on the store's version instead, as before, meant a pass over every service on nearly every
scrape (the version moves on every check and host sample) and 1-2 ms of loop time per
scrape; this is O(services changed). The TUI shares the loop with the exporter in
`ultra`, so a scrape never holds the screen. Side by side with the body joined whole and
encoded at the scrape (bench/services_ab.py, 1,200 scrapes 10 ms apart each): see the
figures in bench/tui_fleet.py's docstring.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque

import msgspec

from devmentor_monitor.bus import SERVICE, Subscription
from devmentor_monitor.model import Health
from devmentor_monitor.queries import Queries
from devmentor_monitor.server.shapes import service_json
from devmentor_monitor.slices import Work, at_once, in_slices
from devmentor_monitor.store import ServiceSummary, Store

HEAD = b'{"services":['
# While someone scrapes (the last scrape under KEEP_S ago), each change is encoded as it
# comes, in slices, in a pass of its own just after the callback that made it (and the
# others ready then). At 1,000 services (100 checks/s) encoding a service took 0.24 ms
# (p50, its summary derived too), 1-3 of them on nearly every scrape 10 ms apart, a
# quarter to half of its CPU; a scrape after a quiet spell found every service changed:
# 0.2-0.4 s in one callback.
KEEP_S = 60.0
WAKE_S = 1.0  # a pass at least this often: summaries aged past SUMMARY_TTL, no notice
# Services per piece of the body (~92 KiB at ~0.7 KiB a service): a change joins its
# piece again, from reused heap memory (under glibc's 128 KiB mmap threshold), and a
# scrape writes the pieces as they are, 8 at 1,000 services. The whole 0.7 MiB body
# joined again on each change took 0.26 ms p50 in `--serve` (fresh pages, ~60 faults a
# join, thread CPU around it). Under uvloop (`--serve`) the head and the pieces go in one
# writelines (responses.Pieces: one writev, nothing joined).
GROUP = 128


# msgspec, not json.dumps: a service's JSON in 2.6 instead of 15.8 us (warm, the same
# bytes for the 1,000 services of bench/tui_fleet.py; text beyond ASCII goes as UTF-8,
# not as \u escapes: the same JSON), and it is encoded again on each of its checks.
_dumps = msgspec.json.Encoder().encode


class ServicesBody:
    """The cached JSON body: {"services": [...], "counts": {...}}, kept as its pieces."""

    def __init__(self, store: Store, queries: Queries) -> None:
        self.store = store
        self.queries = queries
        self._sub: Subscription | None = None
        self._names: list[str] = []  # config order
        self._at: dict[str, int] = {}  # name -> its place in _names and _parts
        self._parts: list[bytes] = []  # each service's JSON, all but the first after a comma
        self._size = 0  # of the parts
        # the parts joined, GROUP at a time, HEAD before the first, the tail after the last
        self._groups: list[bytes] = []
        self._dirty: set[int] = set()  # groups with a part (or the tail) changed since
        self._held: dict[str, ServiceSummary] = {}  # the summary each part was encoded from
        # (when encoded, name), oldest first: summaries the store derives again after
        # SUMMARY_TTL with no notice (an unchecked service's windows slide).
        self._aged: deque[tuple[float, str]] = deque()
        self._counts: dict[str, int] = {}
        self._tail = b""  # '],"counts":{...}}', made again when the counts move
        self._recount = False  # the counts moved since the tail was made
        self._pending: set[str] = set()  # changed, taken from the bus, not encoded yet
        self._joined = b""  # the whole body, for body(); b"" when a part changed since
        self.encoded = 0  # services encoded so far, for tests and benchmarks
        self._building = asyncio.Lock()
        self._asked = -KEEP_S  # monotonic time of the last scrape
        self._keeper: asyncio.Task[None] | None = None

    def close(self) -> None:
        if self._keeper is not None:
            self._keeper.cancel()
            self._keeper = None
        self._unsubscribe()

    def _unsubscribe(self) -> None:
        if self._sub is not None:
            self._sub.close()
            self._sub = None

    def _stale(self) -> bool:
        # each scrape: a count, not a list of every name (47 us in `--serve` at 1,000)
        return self._sub is None or len(self._names) != self.store.service_count()

    async def ready(self) -> None:
        """Bring the body up to date for a scrape, giving the loop back every slice
        (slices.py): built afresh if it must be (the first scrape, the services changed),
        else the changes not yet encoded. At 1,000 services encoding them all took
        0.2-0.4 s, the loop (and in `ultra` the screen) held as long. From here on, for
        KEEP_S, changes are encoded as they come (`_keeping`), so a scrape seldom finds
        one left to encode; it still does, so a scrape shows every change made before
        it (a write through the API, then a read)."""
        self._asked = time.monotonic()
        if self._stale():
            async with self._building:
                if self._stale():
                    await self._rebuild()
        if self._keeper is None or self._keeper.done():
            self._keeper = asyncio.create_task(self._keeping(), name="services-body")
        await in_slices(self._catching_up())  # what the keeper has not reached yet

    async def _rebuild(self) -> None:
        """Built aside, then taken at once; a scrape that comes meanwhile waits for it."""
        fresh = ServicesBody(self.store, self.queries)
        try:
            await in_slices(fresh._rebuilding())
        except BaseException:
            fresh.close()
            raise
        self._unsubscribe()
        self._sub, fresh._sub = fresh._sub, None
        self._names, self._at, self._parts = fresh._names, fresh._at, fresh._parts
        self._held, self._aged, self._counts = fresh._held, fresh._aged, fresh._counts
        self._size, self._tail, self._joined = fresh._size, fresh._tail, fresh._joined
        self._groups, self._dirty = fresh._groups, fresh._dirty
        self._pending, self._recount = fresh._pending, False
        self.encoded += fresh.encoded

    async def _keeping(self) -> None:
        """Encode each change soon after it comes while scrapes keep coming; ends
        KEEP_S after the last one (the next scrape starts it again)."""
        while time.monotonic() - self._asked < KEEP_S and (sub := self._sub) is not None:
            with contextlib.suppress(TimeoutError):  # summaries age with no notice too
                async with asyncio.timeout(WAKE_S):
                    await sub.changed()
            await asyncio.sleep(0)  # the other callbacks ready now first: one pass for them
            await in_slices(self._catching_up(), background=True)

    def chunks(self) -> list[bytes]:
        """The body in pieces, as of the last `ready` (for a scrape: sent as they are,
        responses.Pieces); a new list, so later changes do not show through."""
        groups, parts, last = self._groups, self._parts, len(self._groups) - 1
        for g in self._dirty:
            piece = parts[g * GROUP : (g + 1) * GROUP]
            if g == 0:
                piece.insert(0, HEAD)
            if g == last:
                piece.append(self._tail)
            groups[g] = b"".join(piece)
        self._dirty.clear()
        return list(groups) if groups else [HEAD + self._tail]

    @property
    def size(self) -> int:
        return len(HEAD) + self._size + len(self._tail)

    def body(self) -> bytes:
        """The whole body, up to date (in one go: tests, benchmarks, a sync caller); the
        same bytes object until something changes."""
        if self._stale():
            at_once(self._rebuilding())
        else:
            at_once(self._catching_up())
        if not self._joined:
            self._joined = b"".join(self.chunks())
        return self._joined

    def _catching_up(self) -> Work[None]:
        """Encode the services changed since the last pass, a yield after each. The
        pending names are shared, so a scrape also finishes what a pass of the keeper
        had taken and not yet encoded."""
        if self._sub is None:
            return
        now = self.store.clock()
        pending = self._pending
        pending.update(t[len(SERVICE) :] for t in self._sub.take() if t.startswith(SERVICE))
        aged = self._aged
        due = now - self.store.SUMMARY_TTL
        while aged and aged[0][0] <= due:
            pending.add(aged.popleft()[1])
        while pending:
            name = pending.pop()
            if name in self._at and self._encode(name, now):
                yield
        if self._recount:
            self._recount = False
            self._tail = b'],"counts":' + _dumps(self._counts) + b"}"
            if self._groups:
                self._dirty.add(len(self._groups) - 1)
            self._joined = b""

    def _rebuilding(self) -> Work[None]:
        """Every service encoded afresh: at the first scrape, or if the services changed;
        a yield after each."""
        self._unsubscribe()
        self._sub = self.store.bus.subscribe()  # first, so no change slips in between
        self._names = self.store.service_names()
        self._at = {name: i for i, name in enumerate(self._names)}
        self._parts = [b""] * len(self._names)
        self._size = 0
        self._groups = [b""] * -(-len(self._names) // GROUP)
        self._dirty = set(range(len(self._groups)))
        self._pending.clear()
        self._held.clear()
        self._aged.clear()
        self._counts = {h.value: 0 for h in Health}
        now = self.store.clock()
        for name in self._names:
            self._encode(name, now)
            yield
        self._tail = b'],"counts":' + _dumps(self._counts) + b"}"
        self._recount = False
        self._joined = b""

    def _encode(self, name: str, now: float) -> bool:
        """Encode one service again if its summary is not the one held; True if it was."""
        s = self.store.service(name, now)
        held = self._held.get(name)
        if held is s:
            return False
        q = self.queries
        at = self._at[name]
        part = _dumps(service_json(s, q.flap_state(name), q.burn_rates(name)))
        if at:
            part = b"," + part
        self._size += len(part) - len(self._parts[at])
        self._parts[at] = part
        self._dirty.add(at // GROUP)
        self._joined = b""
        self._held[name] = s
        self._aged.append((now, name))
        counted = _counted(s)
        if held is None or _counted(held) != counted:
            if held is not None:
                self._counts[_counted(held)] -= 1
            self._counts[counted] += 1
            self._recount = True
        self.encoded += 1
        return True


def _counted(s: ServiceSummary) -> str:
    """The status a service counts as: a stale last-known status is not known yet (as on
    /health, the header and devmentor_service_up)."""
    return Health.UNKNOWN.value if s.stale_at is not None else s.status.value
