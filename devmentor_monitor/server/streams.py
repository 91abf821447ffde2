"""Events over HTTP: `GET /api/events`, the SSE stream, the WebSocket, and `/dashboard`.

Every live client reads from its own bounded bus reader (bus.py): a client that
reads slowly loses its oldest messages (counted, and told so in a `dropped` message);
a client whose socket accepts nothing for WRITE_TIMEOUT seconds is disconnected. So a
stuck browser costs a fixed amount of memory and never slows the monitor.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devmentor_monitor import boundedjson
from devmentor_monitor.aio import WSMsgType, web
from devmentor_monitor.bus import TOPICS, Reader
from devmentor_monitor.events.model import Event, EventSeverity, merge_newest
from devmentor_monitor.server.params import int_between, query, since
from devmentor_monitor.server.responses import json_response
from devmentor_monitor.server.shapes import message_json

if TYPE_CHECKING:
    from devmentor_monitor.bus import Message
    from devmentor_monitor.queries import Queries
    from devmentor_monitor.store import Store

log = logging.getLogger("devmentor_monitor.server")
WRITE_TIMEOUT = 10.0  # a client that takes no bytes for this long is gone
HEARTBEAT = 15.0  # SSE comment / WS ping when nothing else was sent
CLIENT_QUEUE = 1000  # messages kept per client before the oldest are dropped
MAX_CLIENTS = 100
WS_MAX_MESSAGE = 64 * 1024  # a client command; aiohttp closes the socket beyond it
Writer = Callable[[str], Awaitable[None]]
DASHBOARD = Path(__file__).with_name("dashboard.html")


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


def topics_param(raw: str) -> list[str]:
    topics = [t.strip() for t in raw.split(",") if t.strip()]
    bad = [t for t in topics if t not in TOPICS]
    if bad or not topics:
        raise ValueError(f"topics must be a comma-separated list of {', '.join(TOPICS)}")
    return topics


def severity_param(raw: str) -> EventSeverity:
    try:
        return EventSeverity(raw)
    except ValueError:
        raise ValueError(
            f"severity must be one of {', '.join(s.value for s in EventSeverity)}"
        ) from None


class StreamsApi:
    """Live feeds from the store; older events from disk through the queries."""

    def __init__(self, store: Store, queries: Queries) -> None:
        self.store = store
        self.queries = queries
        self.bus = store.bus
        self.query = query
        self.json_response = json_response
        self.clients: dict[str, int] = {"sse": 0, "ws": 0}
        self.disconnected_slow = 0
        self._dashboard: bytes | None = None

    # ------------------------------------------------------------------ queries
    async def events(self, request: web.Request) -> web.Response:
        """Newest first, filtered; from memory, and from disk for what memory lacks."""
        q = self.query(
            request,
            {
                "type": str,
                "service": str,
                "severity": severity_param,
                "since": since,
                "until": since,
                "limit": int_between(1, 1000),
            },
        )
        found, where = await self._find_events(
            q.get("limit", 100),
            since=q.get("since"),
            until=q.get("until"),
            type_prefix=q.get("type"),
            service=q.get("service"),
            min_severity=q.get("severity"),
        )
        log_ = self.store.event_log
        return self.json_response(
            {
                "events": [e.to_dict() for e in found],
                "source": where,
                "received": sum(log_.received.values()),
                "rejected": log_.rejected,
                "recent_rejections": [
                    {
                        "at": r.at,
                        "origin": r.origin,
                        "reason": r.reason,
                        "detail": r.detail,
                        "sample": r.sample,
                    }
                    for r in reversed(log_.rejections)
                ],
                "rates_per_minute": log_.rates(),
            }
        )

    async def _find_events(self, limit: int, **filters: Any) -> tuple[list[Event], str]:
        """Memory where it holds the whole range, else memory merged with disk.

        After a restart (or once the ring has wrapped) memory holds only part of the
        range; the rest is read from disk, so no query depends on when we started.
        """
        found = self.store.events(limit, **filters)
        complete = self.store.event_log.complete_since()
        since = filters["since"]
        if complete is not None and (
            (since is not None and since >= complete)
            or (len(found) == limit and min(e.ts for e in found) >= complete)
        ):
            return found, "memory"
        older = await self.queries.events(limit, **filters)
        return merge_newest(found, older, limit), "disk"

    # ------------------------------------------------------------------ SSE
    async def sse(self, request: web.Request) -> web.StreamResponse:
        q = self.query(request, {"topics": topics_param})
        topics = q.get("topics", ["events"])
        self._admit()
        resp = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
            }
        )
        await resp.prepare(request)
        reader = self.bus.open(topics, CLIENT_QUEUE)
        self.clients["sse"] += 1

        async def write(text: str) -> None:
            await resp.write(text.encode())

        try:
            await self._send(write, f"retry: 2000\n: topics {','.join(topics)}\n\n")
            await self._pump(reader, _sse_frames, write, lambda: write(": ping\n\n"))
        finally:
            self.clients["sse"] -= 1
            reader.close()
        return resp

    # ------------------------------------------------------------------ WebSocket
    async def ws(self, request: web.Request) -> web.WebSocketResponse:
        q = self.query(request, {"topics": topics_param})
        self._admit()
        sock = web.WebSocketResponse(heartbeat=HEARTBEAT, max_msg_size=WS_MAX_MESSAGE)
        await sock.prepare(request)
        reader = self.bus.open(q.get("topics", []), CLIENT_QUEUE)
        self.clients["ws"] += 1

        async def send(text: str) -> None:
            await sock.send_str(text)

        pump = asyncio.create_task(self._pump(reader, _ws_frames, send, None))
        try:
            await send(
                _dumps(
                    {
                        "type": "subscribed",
                        "topics": sorted(reader.topics),
                        "available": list(TOPICS),
                    }
                )
            )
            async for msg in sock:
                if msg.type is not WSMsgType.TEXT:
                    continue
                reply, topics = _ws_command(msg.data, set(reader.topics))
                if topics is not None and topics != set(reader.topics):
                    new = self.bus.open(topics, CLIENT_QUEUE)
                    new.queue.extend(reader.queue)
                    reader.close()
                    reader = new
                    pump.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await pump
                    pump = asyncio.create_task(self._pump(reader, _ws_frames, send, None))
                await send(_dumps(reply))
                if pump.done():
                    break
        finally:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pump
            self.clients["ws"] -= 1
            reader.close()
            await sock.close()
        return sock

    # ------------------------------------------------------------------ shared
    def _admit(self) -> None:
        if sum(self.clients.values()) >= MAX_CLIENTS:
            raise web.HTTPServiceUnavailable(
                text=f"{MAX_CLIENTS} live clients already connected; try again later"
            )

    @staticmethod
    async def _send(write: Writer, text: str) -> None:
        async with asyncio.timeout(WRITE_TIMEOUT):
            await write(text)

    async def _pump(
        self,
        reader: Reader,
        frames: Callable[[list[tuple[str, Message]], int], str],
        write: Writer,
        heartbeat: Callable[[], Awaitable[None]] | None,
    ) -> None:
        """Bus reader → socket until the client goes away or stops taking bytes."""
        dropped_seen = 0
        try:
            while True:
                try:
                    async with asyncio.timeout(HEARTBEAT):
                        batch = await reader.get_batch(200)
                except TimeoutError:
                    if heartbeat is not None:
                        async with asyncio.timeout(WRITE_TIMEOUT):
                            await heartbeat()
                    continue
                if not batch:
                    return
                dropped = reader.dropped - dropped_seen
                dropped_seen = reader.dropped
                await self._send(write, frames(batch, dropped))
        except TimeoutError:
            self.disconnected_slow += 1
            log.info(
                f"live client disconnected: it took no data for {WRITE_TIMEOUT:g} s",
                extra={"fields": {"dropped": reader.dropped}},
            )
        except (ConnectionError, RuntimeError):
            pass  # the client went away

    # ------------------------------------------------------------------ dashboard
    async def dashboard(self, request: web.Request) -> web.Response:
        self.query(request, {})
        if self._dashboard is None:
            self._dashboard = DASHBOARD.read_bytes()
        return web.Response(
            body=self._dashboard,
            content_type="text/html",
            charset="utf-8",
            headers={
                "Content-Security-Policy": "default-src 'self'; style-src 'unsafe-inline'; "
                "script-src 'unsafe-inline'",
                "Cache-Control": "no-cache",
            },
        )


def _sse_frames(batch: list[tuple[str, Message]], dropped: int) -> str:
    out = [f"event: dropped\ndata: {_dumps({'dropped': dropped})}\n\n"] if dropped else []
    out += [f"event: {topic}\ndata: {_dumps(message_json(msg))}\n\n" for topic, msg in batch]
    return "".join(out)


def _ws_frames(batch: list[tuple[str, Message]], dropped: int) -> str:
    """One WebSocket text frame per batch: a JSON array of {topic, data}."""
    items = [{"topic": "dropped", "data": {"dropped": dropped}}] if dropped else []
    items += [{"topic": topic, "data": message_json(msg)} for topic, msg in batch]
    return _dumps(items)


def _ws_command(text: str, current: set[str]) -> tuple[dict[str, Any], set[str] | None]:
    """{"subscribe": [...]} / {"unsubscribe": [...]} → (reply, new topic set or None)."""
    try:
        cmd = boundedjson.loads(text, max_bytes=WS_MAX_MESSAGE)
    except boundedjson.JSONRejected as exc:  # too deep or not JSON: an answer, not a close
        return {
            "type": "error",
            "reason": exc.reason,
            "error": f'{exc}; send {{"subscribe": [topics]}}',
        }, None
    if not isinstance(cmd, dict) or not ({"subscribe", "unsubscribe"} & set(cmd)):
        return {
            "type": "error",
            "error": 'send {"subscribe": [topics]} or {"unsubscribe": [topics]}',
        }, None
    topics = set(current)
    for verb in ("subscribe", "unsubscribe"):
        names = cmd.get(verb, [])
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            return {"type": "error", "error": f"{verb} takes a list of topic names"}, None
        unknown = [n for n in names if n not in TOPICS]
        if unknown:
            return {
                "type": "error",
                "error": f"unknown topics {unknown}; available: {', '.join(TOPICS)}",
            }, None
        topics = topics | set(names) if verb == "subscribe" else topics - set(names)
    return {"type": "subscribed", "topics": sorted(topics)}, topics
