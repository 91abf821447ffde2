"""A large body sent as its pieces (server/responses.Pieces): every byte arrives, in
order, with the right length, on uvloop (`--serve`, one writelines) and on asyncio's own
loop (`ultra`, a write each), to a reader that takes it slowly, request after request
on one connection."""

from __future__ import annotations

import asyncio
import socket

import pytest
import uvloop

from devmentor_monitor.aio import web
from devmentor_monitor.server.responses import Pieces

PIECES = [bytes([65 + i]) * 94_720 + b"|" for i in range(8)]  # ~0.7 MiB, each its own
BODY = b"".join(PIECES)


async def _slow_get(port: int, requests: int) -> list[bytes]:
    """GETs over one keep-alive connection with a small receive buffer, read 4 KiB at a
    time with a turn of the loop between: the server's writes outrun the reader."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=sock)
    bodies = []
    try:
        for _ in range(requests):
            writer.write(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            got = bytearray()
            while len(got) < length:
                got += await reader.read(min(4096, length - len(got)))
                await asyncio.sleep(0)
            bodies.append(bytes(got))
    finally:
        writer.close()
    return bodies


async def _serve_and_fetch() -> list[bytes]:
    async def big(_: web.Request) -> web.Response:
        return web.Response(body=Pieces(PIECES, len(BODY), "application/json"))

    app = web.Application()
    app.router.add_get("/big", big)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.SockSite(runner, socket.create_server(("127.0.0.1", 0)))
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        return await asyncio.wait_for(_slow_get(port, 3), 30)
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
def test_every_piece_arrives_in_order_to_a_slow_reader(loop: str) -> None:
    factory = uvloop.new_event_loop if loop == "uvloop" else asyncio.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        bodies = runner.run(_serve_and_fetch())
    assert bodies == [BODY, BODY, BODY]
