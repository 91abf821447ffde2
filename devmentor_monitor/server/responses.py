"""The API's JSON answers, and its one error shape: {"error": {status, reason, message}}."""

from __future__ import annotations

import asyncio
import json
from http import HTTPStatus
from typing import Any

from devmentor_monitor.aio import aiohttp, web


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=json.dumps(data, separators=(",", ":")).encode(),
        status=status,
        content_type="application/json",
        headers=headers,
    )


class Pieces(aiohttp.payload.Payload):
    """A large cached body sent as the pieces it is kept in (services_body.GROUP): after
    the head, in one writelines where the transport gathers them (`--serve`'s uvloop),
    else one write each, and aiohttp sends the head joined to the first (a copy of ~92
    KiB, not of the whole body). Given the whole body as bytes, aiohttp
    (on Python before 3.12.9, which lacks a safe writelines) joins the head and the body
    into one new buffer to send: for /api/services at 1,000 services, 0.7 MiB copied on
    every scrape, a quarter of its loop time (py-spy, bench/tui_fleet.py)."""

    def __init__(self, pieces: list[bytes], size: int, content_type: str) -> None:
        super().__init__(pieces, content_type=content_type)
        self._size = size

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        return b"".join(self._value).decode(encoding, errors)

    async def write(self, writer: aiohttp.abc.AbstractStreamWriter) -> None:
        if (
            isinstance(writer, aiohttp.http_writer.StreamWriter)
            and not writer.chunked
            and (transport := writer.transport) is not None
            and _gathers(transport)
        ):
            await self._write_at_once(writer, transport)
            return
        for piece in self._value:
            await writer.write(piece)

    async def _write_at_once(
        self, writer: aiohttp.http_writer.StreamWriter, transport: asyncio.Transport
    ) -> None:
        """The head and every piece in one writelines: one writev, no copy, none of the
        writer's per-write work, and the reader woken once, not for the head first. A
        725 KiB body in 8 pieces (uvloop, aiohttp on its own, server thread CPU a
        request, p50 of 1,500 alternated): 0.53-0.59 ms written piece by piece,
        0.34-0.50 with the head sent first, 0.31-0.36 with it; bench/services_ab.py has the
        monitor's figures."""
        bufs = self._value
        head = writer._headers_buf  # aiohttp 3.14 holds the head back for the first write
        if head and not writer._headers_written:
            writer._headers_buf, writer._headers_written = None, True
            bufs = [head, *bufs]
        else:
            writer.send_headers()
        size = sum(map(len, self._value))
        writer.output_size += size
        if writer.length is not None:
            writer.length -= size
        transport.writelines(bufs)
        await writer.drain()  # a slow reader still holds us back

    async def as_bytes(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        return b"".join(self._value)


def _gathers(transport: object) -> bool:
    """Does ``transport.writelines`` send its buffers in one writev, without joining
    them? uvloop's do; asyncio's from Python 3.12.9 (3.13.2) on, which aiohttp itself
    then uses (before, asyncio joins them: a 0.7 MiB copy here, as `ultra` runs)."""
    return type(transport).__module__.startswith("uvloop") or not getattr(
        aiohttp.http_writer, "SKIP_WRITELINES", True
    )


def error_body(status: int, message: str) -> bytes:
    reason = HTTPStatus(status).phrase
    return json.dumps(
        {"error": {"status": status, "reason": reason, "message": message}}, separators=(",", ":")
    ).encode()


def error_response(
    status: int, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=error_body(status, message),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def raw_error(status: int, message: str, headers: dict[str, str]) -> bytes:
    """A complete HTTP/1.1 error answer with ``Connection: close``, for a socket that
    never reaches aiohttp (a connection refused at the cap)."""
    body = error_body(status, message)
    head = [
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        "Connection: close",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body
