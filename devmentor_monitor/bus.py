"""Live messages for whoever watches: WebSocket and SSE clients, the Redis publisher.

The store's `Subscription` says *that* something changed (coalesced, for redraws);
the feed carries *what* changed, message by message. Each reader has its own bounded
queue: when a reader falls behind, its oldest messages are dropped and counted, so a
slow or stuck client costs a fixed amount of memory and never slows the monitor.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

TOPICS = ("incidents", "events", "services", "metrics")
Message = dict[str, Any]


class Reader:
    """One watcher's queue of (topic, message), newest kept when full."""

    def __init__(self, feed: Feed, topics: Iterable[str], maxlen: int) -> None:
        self.feed = feed
        self.topics = frozenset(topics)
        self.queue: deque[tuple[str, Message]] = deque(maxlen=maxlen)
        self.dropped = 0
        self.delivered = 0
        self._ready = asyncio.Event()
        self.closed = False

    def put(self, topic: str, message: Message) -> None:
        if len(self.queue) == self.queue.maxlen:
            self.dropped += 1
            self.feed.dropped += 1
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
        self.feed.remove(self)


class Feed:
    """Topic → readers. Writers call `publish`; the message is only built if someone reads."""

    def __init__(self) -> None:
        self._readers: dict[str, list[Reader]] = {t: [] for t in TOPICS}
        self.dropped = 0  # across all readers, for /metrics
        self.published = 0

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
