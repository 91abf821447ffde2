"""A lean HTTP/1.1 GET for plain ``http://`` health checks, over pooled keep-alive
connections; https, URLs with a user:password and anything unusual stay on aiohttp.

Why not aiohttp here (it is kept for the rest): measured against the demo stub, one GET
cost 180-260 us of the event loop's CPU through aiohttp 3.14 (thread time, in one
process, 10 in flight); with its per-request settings cut (a yarl URL built once, no
auto headers, no decompression) 165-240 us; this client 50-63 us. h11 (httpx's parser,
already installed) was no way out: sending one GET and parsing one small answer took
~160 us on its own (one core, load ~4, 20,000 rounds); httptools (llhttp) is not a
dependency. At 1,000 services every 10 s that is most of what `--serve` spends
(bench/health_checks.py measures it).

What it handles: Content-Length, chunked and read-to-close bodies, 1xx interim answers,
the statuses without a body (204, 304), ``Connection: close`` and HTTP/1.0, a gzip or
deflate body sent unasked, a kept connection the server closed meanwhile (retried
once on a new one), refused, reset and unresolvable hosts as the usual OSErrors. A
request cut short by its timeout closes its connection. A new connection resolves its
host name again (the loop's getaddrinfo, in a thread; aiohttp kept them 60 s): kept
connections make that rare.

The timeout (`get`'s ``within``): on a kept connection, the answer's deadline joins one
heap that a single timer watches, armed for the earliest deadline still waiting; an
asyncio.timeout per request built, armed and cancelled a loop timer each time (with
uvloop a libuv handle opened and closed), 100 times a second at 1,000 services. A new
connection (rare) keeps asyncio.timeout_at around its connect.
"""

from __future__ import annotations

import asyncio
import heapq
import math
import re
import time
import zlib
from collections.abc import Iterable
from typing import cast
from urllib.parse import urlsplit

MAX_HEAD = 64 * 1024  # status line and headers
MAX_BODY = 8 * 1024 * 1024  # a health answer larger than this is an error, not read on
IDLE_S = 15.0  # a kept connection unused this long is closed (aiohttp's keepalive_timeout)
NO_BODY = frozenset({204, 304})
_HEX = re.compile(rb"[0-9A-Fa-f]{1,15}")


class BadResponse(ValueError):
    """The server's answer is not HTTP/1.x as this client reads it."""


class Target:
    """One service's URL, parsed once: where to connect and the request's bytes."""

    __slots__ = ("host", "port", "request")

    def __init__(self, host: str, port: int, request: bytes) -> None:
        self.host, self.port, self.request = host, port, request


def target(url: str, headers: Iterable[tuple[str, str]], user_agent: str) -> Target | None:
    """The target of a plain http:// URL, or None when aiohttp should take it (https, a
    user:password in the URL, characters that need encoding, a bad port)."""
    if not url.startswith("http://") or not url.isascii() or any(c in url for c in " \r\n"):
        return None
    try:
        parts = urlsplit(url)
        port = 80 if parts.port is None else parts.port
    except ValueError:
        return None
    if parts.username is not None or parts.password is not None or not parts.hostname:
        return None
    sent = {"host": ("Host", parts.netloc), "user-agent": ("User-Agent", user_agent)}
    sent["accept"] = ("Accept", "*/*")
    for name, value in headers:
        if any(c in f"{name}{value}" for c in "\r\n\0") or ":" in name or not name.isascii():
            return None  # aiohttp refuses these with its own message
        sent[name.lower()] = (name, value)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    lines = [f"GET {path} HTTP/1.1", *(f"{k}: {v}" for k, v in sent.values()), "", ""]
    try:
        request = "\r\n".join(lines).encode("latin-1")
    except UnicodeEncodeError:
        return None
    return Target(parts.hostname, port, request)


class _Answer(asyncio.Protocol):
    """One connection: reads one answer at a time into ``done``."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.done: asyncio.Future[tuple[int, str, bytes]] | None = None
        self.lost = False
        self.got_bytes = False
        self.keep = False
        self.idle_since = 0.0
        self._buf = bytearray()
        self._head_end = -1
        self._status = 0
        self._reason = ""
        self._length: int | None = None  # None: chunked or to the close
        self._chunked = False
        self._pos = 0  # chunked: where the next size line starts
        self._parts: list[bytes] = []
        self._size = 0  # chunked: body bytes so far
        self._encoding = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def send(
        self, request: bytes, loop: asyncio.AbstractEventLoop
    ) -> asyncio.Future[tuple[int, str, bytes]]:
        self.done = loop.create_future()
        self.got_bytes = False
        self._buf.clear()
        self._head_end = -1
        assert self.transport is not None
        self.transport.write(request)
        return self.done

    def data_received(self, data: bytes) -> None:
        if self.done is None or self.done.done():
            self.keep = False  # bytes nobody asked for: the connection is not reused
            return
        self.got_bytes = True
        self._buf += data
        try:
            self._parse()
        except BadResponse as exc:
            self._fail(exc)

    def eof_received(self) -> bool:
        self._closed()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self._closed(exc)

    def _closed(self, exc: Exception | None = None) -> None:
        self.keep = False
        if self.done is None or self.done.done():
            return
        if self._head_end >= 0 and self._length is None and not self._chunked:
            try:
                self._finish(bytes(self._buf[self._head_end :]))  # read to the close
            except BadResponse as bad:
                self._fail(bad)
        else:
            err = ConnectionResetError("the server closed the connection")
            err.__cause__ = exc
            self._fail(err)

    def _fail(self, exc: BaseException) -> None:
        self.keep = False
        if self.done is not None and not self.done.done():
            self.done.set_exception(exc)
        if self.transport is not None:
            self.transport.close()

    def _parse(self) -> None:
        buf = self._buf
        while self._head_end < 0:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEAD:
                    raise BadResponse("response headers over 64 KiB")
                return
            if not self._head(bytes(buf[:end])):  # 1xx: an interim answer, skipped
                del buf[: end + 4]
                continue
            self._head_end = end + 4
            self._pos = self._head_end
        if self._status in NO_BODY:
            self._finish(b"")
        elif self._chunked:
            self._chunks()
        elif self._length is not None:
            if len(buf) - self._head_end > self._length:
                self.keep = False  # more than was announced: the stream is out of step
            if len(buf) - self._head_end >= self._length:
                self._finish(bytes(buf[self._head_end : self._head_end + self._length]))
        elif len(buf) - self._head_end > MAX_BODY:
            raise BadResponse("response body over 8 MiB")

    def _head(self, head: bytes) -> bool:
        """Read the status line and headers; False for a 1xx interim answer."""
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            raise BadResponse(f"bad status line {lines[0][:80]!r}")
        status = int(parts[1])
        if 100 <= status < 200:
            return False
        self._status = status
        self._reason = parts[2].decode("latin-1").strip() if len(parts) > 2 else ""
        keep = parts[0] != b"HTTP/1.0"
        length: int | None = None
        chunked = False
        self._encoding = b""
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if not sep:
                raise BadResponse(f"bad header line {line[:80]!r}")
            name, value = name.strip().lower(), value.strip()
            if name == b"content-length":
                if not value.isdigit() or (length is not None and length != int(value)):
                    raise BadResponse(f"bad Content-Length {value[:40]!r}")
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = value.lower().endswith(b"chunked")
            elif name == b"connection":
                tokens = {t.strip() for t in value.lower().split(b",")}
                keep = b"keep-alive" in tokens if not keep else b"close" not in tokens
            elif name == b"content-encoding":
                self._encoding = value.lower()
        if length is not None and length > MAX_BODY:
            raise BadResponse("response body over 8 MiB")
        self._chunked = chunked
        self._length = None if chunked else length
        self.keep = keep and (chunked or length is not None or status in NO_BODY)
        self._parts = []
        self._size = 0
        return True

    def _chunks(self) -> None:
        buf = self._buf
        while True:
            eol = buf.find(b"\r\n", self._pos)
            if eol < 0:
                return
            size_text = bytes(buf[self._pos : eol]).split(b";", 1)[0].strip()
            # Hex digits only: int(, 16) also takes "-6", "0x6" and "6_0", and a negative
            # size would step back in the buffer and parse the same chunk for ever.
            if _HEX.fullmatch(size_text) is None:
                raise BadResponse(f"bad chunk size {size_text[:20]!r}")
            size = int(size_text, 16)
            if self._size + size > MAX_BODY:  # before waiting for it to arrive
                raise BadResponse("response body over 8 MiB")
            if size == 0:  # then trailers, up to an empty line
                if buf[eol + 2 : eol + 4] == b"\r\n" or buf.find(b"\r\n\r\n", eol) >= 0:
                    self._finish(b"".join(self._parts))
                return
            if len(buf) < eol + 2 + size + 2:
                return
            self._parts.append(bytes(buf[eol + 2 : eol + 2 + size]))
            self._size += size
            self._pos = eol + 2 + size + 2

    def _finish(self, body: bytes) -> None:
        if body and self._encoding in (b"gzip", b"x-gzip", b"deflate"):
            body = _inflate(body, self._encoding)
        self._buf.clear()
        self._head_end = -1
        assert self.done is not None
        self.done.set_result((self._status, self._reason, body))


def _inflate(body: bytes, encoding: bytes) -> bytes:
    """A gzip or deflate body, unpacked to at most MAX_BODY (a small bomb is not let
    grow to gigabytes); deflate as zlib-wrapped or raw, as aiohttp reads it."""
    tries = (47,) if b"gzip" in encoding else (15, -15)
    error: zlib.error | None = None
    for wbits in tries:
        unpack = zlib.decompressobj(wbits)
        try:
            out = unpack.decompress(body, MAX_BODY + 1)
        except zlib.error as exc:
            error = error or exc
            continue
        if len(out) > MAX_BODY:
            raise BadResponse("response body over 8 MiB")
        if not unpack.eof:
            error = error or zlib.error("incomplete or truncated stream")
            continue
        return out
    raise BadResponse(f"bad {encoding.decode()} body: {error}")


Waiting = asyncio.Future[tuple[int, str, bytes]]


class PlainHTTP:
    """Pooled keep-alive connections per (host, port), at most ``keep`` idle each."""

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self._idle: dict[tuple[str, int], list[_Answer]] = {}
        # Answers awaited with a deadline: (deadline, order, future), earliest first; an
        # answer that came is left in until it reaches the top (no search to remove it):
        # the next request or the timer takes it out.
        self._deadlines: list[tuple[float, int, Waiting]] = []
        self._sent = 0
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf

    async def get(self, t: Target, within: float | None = None) -> tuple[int, str, bytes]:
        """(status, reason, body) of one GET. Raises OSError (refused, reset, DNS),
        BadResponse, TimeoutError when no answer came ``within`` seconds (its connection
        is closed); a cancel closes the connection too."""
        loop = asyncio.get_running_loop()
        deadline = None if within is None else loop.time() + within
        key = (t.host, t.port)
        conn = self._take(key)
        if conn is not None:
            try:
                answer = await self._ask(conn, t, loop, deadline)
            except ConnectionResetError:
                if conn.got_bytes:
                    raise
                conn = None  # closed by the server while kept: once more, on a new one
            else:
                self._give(key, conn)
                return answer
        if deadline is None:
            conn = await self._connect(t, loop)
        else:
            async with asyncio.timeout_at(deadline):
                conn = await self._connect(t, loop)
        answer = await self._ask(conn, t, loop, deadline)
        self._give(key, conn)
        return answer

    async def _ask(
        self,
        conn: _Answer,
        t: Target,
        loop: asyncio.AbstractEventLoop,
        deadline: float | None,
    ) -> tuple[int, str, bytes]:
        try:
            done = conn.send(t.request, loop)
            if deadline is not None:
                self._watch(deadline, done, loop)
            return await done
        except BaseException:
            if conn.transport is not None:
                conn.transport.close()
            raise

    def _watch(self, deadline: float, done: Waiting, loop: asyncio.AbstractEventLoop) -> None:
        """Fail ``done`` with TimeoutError if it is still waiting at ``deadline``."""
        heap = self._deadlines
        while heap and heap[0][2].done():  # answered: let go of them (and their bodies)
            heapq.heappop(heap)
        self._sent += 1
        heapq.heappush(heap, (deadline, self._sent, done))
        if deadline < self._timer_at:
            if self._timer is not None:
                self._timer.cancel()
            self._timer_at = deadline
            self._timer = loop.call_at(deadline, self._expire, loop)

    def _expire(self, loop: asyncio.AbstractEventLoop) -> None:
        """The timer: answers past their deadline fail; then it is armed for the next."""
        self._timer, self._timer_at = None, math.inf
        heap = self._deadlines
        now = loop.time()
        while heap:
            deadline, _, done = heap[0]
            if not done.done():
                if deadline > now:
                    self._timer_at = deadline
                    self._timer = loop.call_at(deadline, self._expire, loop)
                    return
                done.set_exception(TimeoutError())
            heapq.heappop(heap)

    @staticmethod
    async def _connect(t: Target, loop: asyncio.AbstractEventLoop) -> _Answer:
        try:
            _, conn = await loop.create_connection(_Answer, t.host, t.port)
        except OSError as exc:
            # asyncio, with several addresses all refused: one OSError naming them all
            if str(exc).startswith("Multiple exceptions") and "[Errno 111]" in str(exc):
                raise ConnectionRefusedError(111, "Connection refused") from exc
            raise
        return conn

    def _take(self, key: tuple[str, int]) -> _Answer | None:
        idle = self._idle.get(key)
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            if conn.keep and not conn.lost and now - conn.idle_since < IDLE_S:
                return conn
            if conn.transport is not None:
                conn.transport.close()
        return None

    def _give(self, key: tuple[str, int], conn: _Answer) -> None:
        idle = self._idle.setdefault(key, [])
        if conn.keep and not conn.lost and len(idle) < self.keep:
            conn.idle_since = time.monotonic()
            idle.append(conn)
        elif conn.transport is not None:
            conn.transport.close()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer, self._timer_at = None, math.inf
        self._deadlines.clear()
        for idle in self._idle.values():
            for conn in idle:
                if conn.transport is not None:
                    conn.transport.close()
        self._idle.clear()
