"""Admission of the exporter's connections: a cap, deadlines, and JSON protocol errors.

aiohttp keeps a connection that never completes its request head for its keep-alive
default of an hour. At the common open-file limit of 1,024, a thousand such
connections took every descriptor: host sampling failed with "Too many open files",
/health stopped answering, and the monitor opened an incident against itself. Here:

* the cap is derived from RLIMIT_NOFILE, less a reserve for the monitor's own work
  (checks, SQLite, psutil, Redis), so the server can never starve the rest;
* a request head must arrive within HEAD_TIMEOUT of connecting, and a keep-alive
  connection may idle for IDLE_TIMEOUT;
* at the cap, a new connection takes the place of the one that has waited longest
  without sending a request, once that one has waited EVICT_AFTER: legitimate clients
  send their head at once, so idle connections cannot lock out /health or the
  monitor's own check of itself; with no such place, the answer is a clear 503.

A request head is bounded too (MAX_REQUEST_LINE, MAX_HEADER_FIELD, MAX_HEADERS): past a
limit the answer is a JSON 414 or 431 that names it, never an echo of what was sent.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any, cast

from devmentor_monitor.aio import aiohttp, web
from devmentor_monitor.server.listener import HEAD_TIMEOUT
from devmentor_monitor.server.responses import error_response, raw_error

log = logging.getLogger("devmentor_monitor.server")

IDLE_TIMEOUT = 30.0  # keep-alive between requests; above aiohttp's and httpx's client idle
EVICT_AFTER = 1.0  # at the cap, a connection silent this long gives way to a new one
RETRY_AFTER = 1  # seconds, told to a client refused at the cap
LINGER = 0.5  # a refused socket drains what the client sent, so the 503 is not reset away
MAX_LINGERING = 32
MIN_RESERVE = 64  # descriptors always left to the monitor's own work
MAX_CONNECTIONS = 4096  # a monitor's exporter needs no more, however high the fd limit
# Head limits. The request line and a header field get different sizes so that a
# LineTooLong (which carries only the limit it hit) says which of the two was too long.
MAX_REQUEST_LINE = 16 * 1024  # method, path with its query, version: 414 past it
MAX_HEADER_FIELD = 8 * 1024  # one header, name and value: 431 past it
MAX_HEADERS = 100  # headers in one request: 431 past it


def fd_limit() -> int:
    """The soft RLIMIT_NOFILE (1,024 where it cannot be read)."""
    try:
        import resource
    except ImportError:  # not on POSIX
        return 1024
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return MAX_CONNECTIONS * 2 if soft == resource.RLIM_INFINITY else soft


def connection_cap(limit: int) -> int:
    """Connections held at once: the fd limit less a quarter (at least MIN_RESERVE)."""
    reserve = max(MIN_RESERVE, limit // 4)
    return max(8, min(MAX_CONNECTIONS, limit - reserve))


class GuardedHandler(web.RequestHandler):
    """aiohttp's connection handler, answering protocol errors in the API's JSON shape."""

    def __init__(self, gate: Gate, manager: web.Server, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self.gate = gate

    def connection_lost(self, exc: BaseException | None) -> None:
        self.gate.forget(self)
        super().connection_lost(exc)

    def handle_error(
        self,
        request: Any,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """A malformed request is the client's mistake: a JSON 400 and a counter, never a
        traceback in the log (a flood of them filled it, ~1 KB each)."""
        self.gate.head_received(self)
        over = _over_limit(exc)
        if over is not None:
            status, text = over
        elif status >= 500:
            text = HTTPStatus(status).description
        else:
            text = f"malformed HTTP request: {_first_line(message or str(exc))}"
        if status >= 500:
            log.error("request failed", exc_info=exc)
        else:
            self.gate.stats["bad_requests"] += 1
            log.debug(
                "malformed request", extra={"fields": {"remote": request.remote, "reason": text}}
            )
        if request.writer.output_size > 0:
            raise ConnectionError("the answer had started; cannot send an error after it")
        resp = error_response(status, text)
        resp.force_close()
        return resp


def _over_limit(exc: BaseException | None) -> tuple[int, str] | None:
    """A head past one of our limits: its status and a message naming the limit (what
    was sent is not echoed: it may be a credential)."""
    errors = aiohttp.http_exceptions
    if isinstance(exc, errors.LineTooLong):
        if exc.args[1:2] == (MAX_HEADER_FIELD,):
            return 431, (
                f"a request header is over {MAX_HEADER_FIELD:,} bytes (name and value), "
                "the most this monitor reads"
            )
        return 414, (
            f"the request line is over {MAX_REQUEST_LINE:,} bytes (method, path and query), "
            "the most this monitor reads"
        )
    if isinstance(exc, errors.BadHttpMessage) and "Too many headers" in str(exc):
        return 431, f"the request has over {MAX_HEADERS} headers, the most this monitor reads"
    return None


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")[:200].rstrip(":")


class Refusal(asyncio.Protocol):
    """A connection beyond the cap: a 503 in the API's shape, then closed."""

    def __init__(self, gate: Gate) -> None:
        self.gate = gate
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        transport.write(self.gate.busy_answer())
        if self.gate.lingering >= MAX_LINGERING or not transport.can_write_eof():
            transport.close()
            return
        self.gate.lingering += 1
        transport.write_eof()
        self.timer = asyncio.get_running_loop().call_later(LINGER, transport.close)

    def data_received(self, data: bytes) -> None:
        pass  # read and dropped: closing on unread data would reset the 503 away

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.gate.lingering -= 1


class Gate:
    """The protocol factory of the listening socket: admits, evicts, refuses, times out."""

    def __init__(self, server: web.Server, cap: int, **handler_kwargs: Any) -> None:
        self.server, self.cap = server, cap
        self.loop = asyncio.get_running_loop()
        self.handler_kwargs = {
            "keepalive_timeout": IDLE_TIMEOUT,
            "max_line_size": MAX_REQUEST_LINE,
            "max_field_size": MAX_HEADER_FIELD,
            "max_headers": MAX_HEADERS,
            **handler_kwargs,
        }
        self.open: set[GuardedHandler] = set()
        self.waiting: OrderedDict[GuardedHandler, float] = OrderedDict()  # no head yet
        self.lingering = 0
        self.stats = dict.fromkeys(("refused", "evicted", "head_timeouts", "bad_requests"), 0)
        self._sweep: asyncio.TimerHandle | None = None

    def __call__(self) -> asyncio.Protocol:
        now = self.loop.time()
        if len(self.open) >= self.cap and not self._evict(now):
            self.stats["refused"] += 1
            return Refusal(self)
        handler = GuardedHandler(self, self.server, loop=self.loop, **self.handler_kwargs)
        self.open.add(handler)
        self.waiting[handler] = now
        self._arm()
        return handler

    def busy_answer(self) -> bytes:
        return raw_error(
            503,
            f"{len(self.open)} connections are open, the most this monitor "
            f"accepts; retry in {RETRY_AFTER} s",
            {"Retry-After": str(RETRY_AFTER)},
        )

    def head_received(self, handler: GuardedHandler) -> None:
        self.waiting.pop(handler, None)

    def forget(self, handler: GuardedHandler) -> None:
        self.open.discard(handler)
        self.waiting.pop(handler, None)

    def snapshot(self) -> dict[str, int]:
        return {
            "open": len(self.open),
            "cap": self.cap,
            "waiting_for_request": len(self.waiting),
            **self.stats,
        }

    def _evict(self, now: float) -> bool:
        """Close the connection silent longest, if it has been silent EVICT_AFTER."""
        for handler, since in self.waiting.items():
            if now - since < EVICT_AFTER:
                return False
            if handler.transport is None:
                continue
            self.forget(handler)
            handler.force_close()
            self.stats["evicted"] += 1
            return True
        return False

    def _arm(self) -> None:
        if self._sweep is None and self.waiting:
            oldest = next(iter(self.waiting.values()))
            self._sweep = self.loop.call_at(oldest + HEAD_TIMEOUT, self._expire)

    def _expire(self) -> None:
        """Close every connection that sent no complete head within HEAD_TIMEOUT."""
        self._sweep = None
        deadline = self.loop.time() - HEAD_TIMEOUT
        while self.waiting:
            handler, since = next(iter(self.waiting.items()))
            if since > deadline:
                break
            self.forget(handler)
            handler.force_close()
            self.stats["head_timeouts"] += 1
        self._arm()

    def close(self) -> None:
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None


@web.middleware
async def head_received(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """A complete head arrived: the connection is no longer a candidate for eviction."""
    protocol = request.protocol
    if isinstance(protocol, GuardedHandler):
        protocol.gate.head_received(protocol)
    return await handler(request)
