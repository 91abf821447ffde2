"""A minimal Redis wire (RESP2) client for the one hot path: a pub/sub subscription.

redis-py hands messages over one at a time through several layers; at platform rates
that alone costs more than everything else we do with an event. Here a whole socket
read is parsed in one pass, by hiredis when it is installed (the `fast` extra) or by
the pure-Python `PyReader` below. Only what a subscriber needs: AUTH, SELECT,
(P)SUBSCRIBE, PING, and replies that are arrays of bulk strings and integers.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit


class RespError(Exception):
    """The server answered with an error (-ERR, -WRONGPASS, -NOAUTH...)."""


class Reader(Protocol):
    def feed(self, data: bytes) -> None: ...
    def gets(self) -> Any: ...


class PyReader:
    """RESP2 parser over a growing buffer; `gets()` returns False until a reply is whole."""

    __slots__ = ("_buf", "_pos")

    def __init__(self) -> None:
        self._buf = bytearray()
        self._pos = 0

    def feed(self, data: bytes) -> None:
        if self._pos:
            del self._buf[: self._pos]
            self._pos = 0
        self._buf += data

    def gets(self) -> Any:
        reply, pos = self._parse(self._pos)
        if pos < 0:
            return False
        self._pos = pos
        return reply

    def _parse(self, pos: int) -> tuple[Any, int]:
        buf = self._buf
        end = buf.find(b"\r\n", pos)
        if end < 0:
            return None, -1
        kind = buf[pos]
        if kind == 36:  # $ bulk string
            n = int(buf[pos + 1 : end])
            if n < 0:
                return None, end + 2
            stop = end + 2 + n
            if stop + 2 > len(buf):
                return None, -1
            return bytes(buf[end + 2 : stop]), stop + 2
        if kind == 42:  # * array
            n = int(buf[pos + 1 : end])
            pos = end + 2
            items = []
            for _ in range(n):
                item, pos = self._parse(pos)
                if pos < 0:
                    return None, -1
                items.append(item)
            return items, pos
        if kind == 58:  # : integer
            return int(buf[pos + 1 : end]), end + 2
        if kind == 43:  # + simple string
            return bytes(buf[pos + 1 : end]), end + 2
        if kind == 45:  # - error
            return RespError(buf[pos + 1 : end].decode("utf-8", "replace")), end + 2
        raise RespError(f"unexpected reply type {chr(kind)!r} from the server")


def make_reader(parser: str) -> tuple[Reader, str]:
    """('auto' | 'python' | 'hiredis') → a reader and the name of what was used."""
    if parser != "python":
        try:
            import hiredis

            return hiredis.Reader(replyError=RespError), "hiredis"
        except ImportError:
            if parser == "hiredis":
                raise RespError(
                    "events.parser is hiredis but hiredis is not installed "
                    "(pip install 'devmentor-monitor[fast]')"
                ) from None
    return PyReader(), "python"


def command(*args: str | bytes) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a.encode() if isinstance(a, str) else a
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where a REDIS_URL points, with the password kept out of `str()`."""

    host: str | None
    port: int
    path: str | None  # unix socket
    tls: bool
    username: str | None
    password: str | None
    db: int

    def __str__(self) -> str:
        return f"unix:{self.path}" if self.path else f"{self.host}:{self.port}"


def parse_url(url: str) -> Endpoint:
    parts = urlsplit(url)
    db = 0
    if parts.scheme == "unix":
        return Endpoint(
            None,
            0,
            parts.path,
            False,
            _user(parts.username),
            unquote(parts.password) if parts.password else None,
            db,
        )
    if parts.path.strip("/"):
        db = int(parts.path.strip("/"))
    return Endpoint(
        parts.hostname or "127.0.0.1",
        parts.port or 6379,
        None,
        parts.scheme == "rediss",
        _user(parts.username),
        unquote(parts.password) if parts.password else None,
        db,
    )


def _user(name: str | None) -> str | None:
    return unquote(name) if name else None


async def connect(
    ep: Endpoint,
    timeout: float,  # noqa: ASYNC109 - connect + AUTH as one
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Open the socket and authenticate; RespError or OSError say why not."""
    async with asyncio.timeout(timeout):
        if ep.path:
            reader, writer = await asyncio.open_unix_connection(ep.path, limit=1 << 20)
        else:
            ctx = ssl.create_default_context() if ep.tls else None
            reader, writer = await asyncio.open_connection(ep.host, ep.port, ssl=ctx, limit=1 << 20)
        try:
            setup = []
            if ep.password is not None:
                setup.append(command("AUTH", *([ep.username] if ep.username else []), ep.password))
            if ep.db:
                setup.append(command("SELECT", str(ep.db)))
            if setup:
                writer.write(b"".join(setup))
                parser = PyReader()
                for _ in setup:
                    reply = await read_reply(reader, parser)
                    if isinstance(reply, RespError):
                        raise reply
        except BaseException:
            writer.close()
            raise
    return reader, writer


async def read_reply(reader: asyncio.StreamReader, parser: PyReader) -> Any:
    while True:
        reply = parser.gets()
        if reply is not False:
            return reply
        data = await reader.read(65536)
        if not data:
            raise ConnectionError("the server closed the connection")
        parser.feed(data)
