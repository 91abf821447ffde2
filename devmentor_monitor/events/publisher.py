"""Incident changes → Redis (`events.publish_channel`, default devmentor:incidents).

Other monitor instances and the platform's tools hear what this one found. Messages
wait in a bounded bus reader while Redis is away (oldest dropped, counted) and go
out in order once it is back. Each goes out as JSON: the incident's shape is handed in
(server/shapes.py's, the same as the API's), the envelope is made here.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import socket
from collections.abc import Callable
from typing import Any

from devmentor_monitor.bus import Bus, IncidentChange

log = logging.getLogger(__name__)
INSTANCE = f"{socket.gethostname()}:{os.getpid()}"


class IncidentPublisher:
    def __init__(
        self,
        url: str,
        channel: str,
        bus: Bus,
        shape: Callable[[IncidentChange], dict[str, Any]],
        maxlen: int = 1000,
    ) -> None:
        self.url = url
        self.channel = channel
        self.shape = shape  # {"change": ..., "incident": {...}}
        self.reader = bus.open(["incidents"], maxlen)
        self.published = 0
        self.failures = 0

    def serialise(self, change: IncidentChange) -> str:
        body = {"type": f"incident.{change.change}", "origin": INSTANCE, **self.shape(change)}
        return json.dumps(body, separators=(",", ":"))

    async def run(self) -> None:
        import redis.asyncio as aioredis

        client = aioredis.from_url(self.url, socket_connect_timeout=5, socket_timeout=5)
        delay = 0.5
        try:
            while True:
                batch = await self.reader.get_batch(100)
                pending = [self.serialise(m) for _, m in batch if isinstance(m, IncidentChange)]
                while pending:
                    try:
                        async with client.pipeline(transaction=False) as pipe:
                            for text in pending:
                                pipe.publish(self.channel, text)
                            await pipe.execute()
                        self.published += len(pending)
                        pending = []
                        delay = 0.5
                    except asyncio.CancelledError:
                        raise
                    except Exception as exc:
                        self.failures += 1
                        if self.failures == 1 or self.failures % 100 == 0:
                            log.warning(
                                "cannot publish incidents",
                                extra={
                                    "fields": {"channel": self.channel, "error": str(exc)[:200]}
                                },
                            )
                        await asyncio.sleep(delay * random.uniform(0.8, 1.2))
                        delay = min(delay * 2, 30.0)
        finally:
            self.reader.close()
            await client.aclose()
