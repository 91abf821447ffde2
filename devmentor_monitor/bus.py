"""The store's one change bus: coalesced notices for redraws, typed messages for streams.

Two ways to listen, on one set of declared topics:

- `Bus.subscribe` gives a `Subscription`: *that* something changed. Topics pile up in
  a set until the view takes them, so a view redraws once however many changes came.
- `Bus.open` gives a `Reader`: *what* changed, message by message, for WebSocket and
  SSE clients and the Redis publisher. Each reader has its own bounded queue: when a
  reader falls behind, its oldest messages are dropped and counted, so a slow or stuck
  client costs a fixed amount of memory and never slows the monitor.

Messages are typed records (frozen domain objects or the small frozen dataclasses
here), built only when someone reads the topic. Their JSON is made at the edges:
server/shapes.py for the HTTP streams, the publisher's serialiser for Redis.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, TypeAlias

import msgspec

if TYPE_CHECKING:
    from devmentor_monitor.events.model import Event
    from devmentor_monitor.incidents.model import Incident
    from devmentor_monitor.model import SystemSample
    from devmentor_monitor.store import ServiceSummary

# The topics, declared once. Streams carry one typed message per change; every topic
# is also a redraw notice (the notice for one service is "service:<name>").
STREAMS = ("incidents", "events", "services", "metrics")
TOPICS = STREAMS  # what a live client may open (the API's "available" list)
SERVICE = "service:"  # + name: one service's checks or workload changed
NOTICES = (
    "incidents",
    "events",
    "system",
    "sources",
    "alerts",
    "notifications",
    "predictions",
    "containers",
    "kubernetes",
    "fleet",
)


class IncidentChange(msgspec.Struct, frozen=True):
    """On "incidents": what happened (opened, acknowledged, resolved, ...) and the
    incident as it was right after (a copy, so later changes do not show through)."""

    change: str
    incident: Incident


if TYPE_CHECKING:
    # What each stream carries: incidents → IncidentChange, events → Event,
    # services → ServiceSummary, metrics → SystemSample.
    Message: TypeAlias = IncidentChange | Event | ServiceSummary | SystemSample


class Subscription:
    """Coalesced change notices: topics pile up in a set until the view takes them."""

    def __init__(self, bus: Bus) -> None:
        self._bus = bus
        self._topics: set[str] = set()
        self._event = asyncio.Event()

    def notify(self, topic: str) -> None:
        self._topics.add(topic)
        self._event.set()

    async def wait(self) -> set[str]:
        await self._event.wait()
        return self.take()

    async def changed(self) -> None:
        """Wait until a notice is pending, without taking it (the redraw takes it)."""
        await self._event.wait()

    def take(self) -> set[str]:
        topics, self._topics = self._topics, set()
        self._event.clear()
        return topics

    def close(self) -> None:
        self._bus.unsubscribe(self)


class Reader:
    """One watcher's queue of (topic, message), newest kept when full."""

    def __init__(self, bus: Bus, topics: Iterable[str], maxlen: int) -> None:
        self.bus = bus
        self.topics = frozenset(topics)
        self.queue: deque[tuple[str, Message]] = deque(maxlen=maxlen)
        self.dropped = 0
        self.delivered = 0
        self._ready = asyncio.Event()
        self.closed = False

    def put(self, topic: str, message: Message) -> None:
        if len(self.queue) == self.queue.maxlen:
            self.dropped += 1
            self.bus.dropped += 1
        self.queue.append((topic, message))
        self._ready.set()

    async def get_batch(self, limit: int = 500) -> list[tuple[str, Message]]:
        """Wait for at least one message; return up to ``limit`` (oldest first)."""
        while not self.queue:
            if self.closed:
                return []
            self._ready.clear()
            await self._ready.wait()
        out: list[tuple[str, Message]] = []
        queue = self.queue
        while queue and len(out) < limit:
            out.append(queue.popleft())
        self.delivered += len(out)
        return out

    def close(self) -> None:
        self.closed = True
        self._ready.set()
        self.bus.remove(self)


class Bus:
    """Subscriptions (notices) and readers (messages). The store owns one.

    Writers call `notify` for a redraw notice and `publish` for a message; a message is
    only built if someone reads its topic.
    """

    def __init__(self) -> None:
        self._subs: list[Subscription] = []
        self._readers: dict[str, list[Reader]] = {t: [] for t in STREAMS}
        self.dropped = 0  # across all readers, for /metrics
        self.published = 0

    # ------------------------------------------------------------- notices
    def subscribe(self) -> Subscription:
        sub = Subscription(self)
        self._subs.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        if sub in self._subs:
            self._subs.remove(sub)

    def notify(self, topic: str) -> None:
        for sub in self._subs:
            sub.notify(topic)

    # ------------------------------------------------------------- messages
    def open(self, topics: Iterable[str], maxlen: int = 1000) -> Reader:
        topics = [t for t in topics if t in self._readers]
        reader = Reader(self, topics, maxlen)
        for t in topics:
            self._readers[t].append(reader)
        return reader

    def remove(self, reader: Reader) -> None:
        for t in reader.topics:
            if reader in self._readers[t]:
                self._readers[t].remove(reader)

    def wants(self, topic: str) -> bool:
        return bool(self._readers.get(topic))

    def publish(self, topic: str, build: Callable[[], Message]) -> None:
        readers = self._readers.get(topic)
        if not readers:
            return
        message = build()
        self.published += 1
        for r in readers:
            r.put(topic, message)

    def publish_many(self, topic: str, messages: Iterable[Message]) -> None:
        readers = self._readers.get(topic)
        if not readers:
            return
        for message in messages:
            self.published += 1
            for r in readers:
                r.put(topic, message)

    def reader_count(self) -> int:
        return len({id(r) for rs in self._readers.values() for r in rs})
