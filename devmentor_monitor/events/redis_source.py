"""Platform events from Redis: pub/sub (default) or a stream with a consumer group.

Pub/sub reads whole socket chunks through `resp` (one parse pass per read, every
message in it turned into events or counted rejections, one hand-over per chunk).
Stream mode (`events.mode: stream`) uses redis-py: it resumes from the group's last
delivered id, re-reads its own unacknowledged entries first, and acknowledges only
after the runtime has the batch on disk, so nothing published while the monitor was
down or crashing is lost.

Either way a lost connection is state ("unreachable: ..., retry in 4 s"), retried
with exponential backoff and jitter; the monitor never restarts for it.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from typing import Any

from devmentor_monitor.backoff import Backoff
from devmentor_monitor.cluster.membership import PREFIX
from devmentor_monitor.config.schema import EventSettings
from devmentor_monitor.events import resp
from devmentor_monitor.events.model import Event, Rejected, parse_event
from devmentor_monitor.model import SourceState, SourceStatus
from devmentor_monitor.observations import EventRejected, EventsAccepted, Intake

# The fleet's own traffic (cluster/): outside the default `devmentor:*` pattern, and
# skipped under a wider one, so shared check results are never parsed as events (at
# 3,000 services they were ~6 % of a follower's CPU in bench/fleet.py).
FLEET_PREFIX = PREFIX.encode()
log = logging.getLogger(__name__)
BACKOFF = (0.5, 30.0)
CONNECT_TIMEOUT = 5.0
STREAM_FIELD = b"event"  # `emit` writes the JSON event under this field


class RedisEventSource:
    name = "redis"

    def __init__(self, url: str, settings: EventSettings) -> None:
        self.url = url
        self.endpoint = resp.parse_url(url)
        self.settings = settings
        self.parser = "-"
        self.connected = False
        self.reconnects = 0

    # ------------------------------------------------------------------ supervision
    async def run(self, intake: Intake) -> None:
        backoff = Backoff(*BACKOFF, healthy_after=60.0)
        while True:
            backoff.started()
            try:
                if self.settings.mode == "stream":
                    await self._stream(intake)
                else:
                    await self._pubsub(intake)
                why = "the server closed the connection"
            except asyncio.CancelledError:
                raise
            except resp.RespError as exc:
                why = f"refused: {exc}"
            except (OSError, TimeoutError, ConnectionError) as exc:
                why = _describe(exc)
            except Exception as exc:  # redis-py's errors in stream mode
                why = f"{type(exc).__name__}: {exc}"
            self.connected = False
            retry = backoff.next()
            self.reconnects += 1
            intake.observe(
                SourceStatus(
                    self.name,
                    SourceState.UNAVAILABLE,
                    f"{self.endpoint}: {why}",
                    retry_at=time.time() + retry,
                    detail=self._detail(),
                )
            )
            await asyncio.sleep(retry)

    def _detail(self) -> dict[str, Any]:
        s = self.settings
        return {
            "mode": s.mode,
            "parser": self.parser,
            "reconnects": self.reconnects,
            "channels": list(s.channels),
            "patterns": list(s.patterns),
        }

    def _connected(self, intake: Intake, what: str) -> None:
        self.connected = True
        intake.observe(
            SourceStatus(
                self.name,
                SourceState.OK,
                f"{self.endpoint}: {what}",
                last_ok=time.time(),
                detail=self._detail(),
            )
        )
        log.info(
            "event subscriber connected",
            extra={
                "fields": {
                    "redis": str(self.endpoint),
                    "mode": self.settings.mode,
                    "parser": self.parser,
                }
            },
        )

    # ------------------------------------------------------------------ pub/sub
    async def _pubsub(self, intake: Intake) -> None:
        s = self.settings
        parser, self.parser = resp.make_reader(s.parser)
        reader, writer = await resp.connect(self.endpoint, CONNECT_TIMEOUT)
        try:
            subs = []
            if s.channels:
                subs.append(resp.command("SUBSCRIBE", *s.channels))
            if s.patterns:
                subs.append(resp.command("PSUBSCRIBE", *s.patterns))
            writer.write(b"".join(subs))
            await writer.drain()
            self._connected(
                intake,
                f"subscribed ({len(s.channels)} channels, "
                f"{len(s.patterns)} patterns, {self.parser} parser)",
            )
            await self._read_pubsub(reader, parser, intake)
        finally:
            writer.close()

    async def _read_pubsub(
        self, reader: asyncio.StreamReader, parser: resp.Reader, intake: Intake
    ) -> None:
        channels = {c.encode() for c in self.settings.channels}
        skip = self.settings.publish_channel.encode()  # our own incidents, not events
        max_bytes = self.settings.max_bytes
        origins: dict[bytes, str] = {}
        while True:
            data = await reader.read(1 << 18)
            if not data:
                return
            parser.feed(data)
            batch: list[Event] = []
            while (msg := parser.gets()) is not False:
                if isinstance(msg, resp.RespError):
                    raise msg
                kind = msg[0]
                if kind == b"message":
                    channel, payload = msg[1], msg[2]
                elif kind == b"pmessage":
                    channel, payload = msg[2], msg[3]
                    if channel in channels:  # also heard on the plain subscription
                        continue
                else:  # subscribe confirmations, pong
                    continue
                if channel == skip or channel.startswith(FLEET_PREFIX):
                    continue
                origin = origins.get(channel)
                if origin is None:
                    origin = origins[channel] = "redis:" + channel.decode("utf-8", "replace")
                try:
                    batch.append(parse_event(payload, origin, max_bytes))
                except Rejected as exc:
                    intake.observe(EventRejected(origin, exc, payload))
            if batch:
                intake.observe(EventsAccepted(batch))

    # ------------------------------------------------------------------ streams
    async def _stream(self, intake: Intake) -> None:
        import redis.asyncio as aioredis
        from redis.exceptions import ResponseError

        s = self.settings
        self.parser = "redis-py"
        consumer = s.consumer or socket.gethostname()
        client = aioredis.from_url(
            self.url, socket_connect_timeout=CONNECT_TIMEOUT, socket_keepalive=True
        )
        origin = f"stream:{s.stream}"
        try:
            try:
                await client.xgroup_create(s.stream, s.group, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
            self._connected(intake, f"reading stream {s.stream} as {s.group}/{consumer}")
            last = "0"  # first our own pending entries (delivered, never acknowledged)
            while True:
                # RESP2 shape, [[stream, [(id, fields), ...]]]: the client's declared
                # return type also covers RESP3's dict, which this connection never gets.
                reply: Any = await client.xreadgroup(
                    s.group, consumer, {s.stream: last}, count=1000, block=1000
                )
                entries: list[tuple[Any, dict[Any, Any] | None]] = reply[0][1] if reply else []
                if last == "0" and not entries:
                    last = ">"
                    continue
                if not entries:
                    continue
                batch: list[Event] = []
                for _id, fields in entries:
                    raw = fields.get(STREAM_FIELD) if fields else None
                    if raw is None:
                        intake.observe(
                            EventRejected(
                                origin,
                                Rejected("missing_field", "stream entry has no 'event' field"),
                                repr(fields)[:80],
                            )
                        )
                        continue
                    try:
                        batch.append(parse_event(raw, origin, s.max_bytes))
                    except Rejected as exc:
                        intake.observe(EventRejected(origin, exc, raw))
                if batch:
                    await intake.observe_durable(EventsAccepted(batch))  # on disk before the ack
                await client.xack(s.stream, s.group, *[i for i, _ in entries])
        finally:
            await client.aclose()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer in {CONNECT_TIMEOUT:g} s"
    if isinstance(exc, ConnectionRefusedError):
        return "unreachable: connection refused"
    if isinstance(exc, OSError) and exc.strerror:
        return f"unreachable: {exc.strerror}"
    return f"unreachable: {exc or type(exc).__name__}"
