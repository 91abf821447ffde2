"""Incident changes → Redis (`events.publish_channel`, default devmentor:incidents).

Other monitor instances and the platform's tools hear what this one found. Messages
wait in a bounded feed reader while Redis is away (oldest dropped, counted) and go
out in order once it is back.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import socket

from devmentor_monitor.bus import Feed

log = logging.getLogger(__name__)
INSTANCE = f"{socket.gethostname()}:{os.getpid()}"


class IncidentPublisher:
    def __init__(self, url: str, channel: str, feed: Feed, maxlen: int = 1000) -> None:
        self.url = url
        self.channel = channel
        self.reader = feed.open(["incidents"], maxlen)
        self.published = 0
        self.failures = 0

    async def run(self) -> None:
        import redis.asyncio as aioredis

        client = aioredis.from_url(self.url, socket_connect_timeout=5, socket_timeout=5)
        delay = 0.5
        try:
            while True:
                batch = await self.reader.get_batch(100)
                pending = [
                    json.dumps(
                        {"type": f"incident.{m['change']}", "origin": INSTANCE, **m},
                        separators=(",", ":"),
                    )
                    for _, m in batch
                ]
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
