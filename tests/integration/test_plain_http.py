"""The lean http:// client (health/plainhttp.py) against real servers on loopback: an
aiohttp server for what real services send, and a raw TCP server for the framings and
faults aiohttp never produces on its own."""

from __future__ import annotations

import asyncio
import gzip
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
from msgspec.structs import replace
from support.http import HealthServer

from devmentor_monitor.config.schema import ServiceConfig
from devmentor_monitor.health.checker import HealthChecker
from devmentor_monitor.health.plainhttp import target

pytestmark = pytest.mark.integration

Answer = Callable[[bytes, int], bytes | None]  # (request, index) -> bytes to send; None: close


@asynccontextmanager
async def raw_server(answer: Answer) -> AsyncIterator[tuple[str, list[bytes], list[int]]]:
    """A TCP server answering each request with ``answer``; yields (base URL, requests
    seen, connections accepted so far as a one-item counter)."""
    seen: list[bytes] = []
    conns = [0]

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conns[0] += 1
        try:
            while True:
                request = await reader.readuntil(b"\r\n\r\n")
                seen.append(request)
                out = answer(request, len(seen) - 1)
                if out is None:
                    break
                writer.write(out)
                await writer.drain()
                if out.startswith(b"HTTP/1.0") or b"Connection: close" in out:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", seen, conns
    finally:
        server.close()
        await server.wait_closed()


def svc(url: str, **kw: object) -> ServiceConfig:
    return replace(ServiceConfig(name="api", url=url, interval=1.0, timeout=1.0), **kw)


def test_only_plain_http_urls_take_the_lean_path():
    assert target("http://127.0.0.1:8080/health?x=1", (), "ua") is not None
    assert target("http://[::1]:8080/health", (), "ua").host == "::1"
    assert target("https://127.0.0.1/health", (), "ua") is None
    assert target("http://user:pw@127.0.0.1/health", (), "ua") is None  # aiohttp's BasicAuth
    assert target("http://127.0.0.1/caf\u00e9", (), "ua") is None  # needs encoding
    assert target("http://127.0.0.1/h", (("X-Bad", "a\r\nInjected: 1"),), "ua") is None


async def test_status_body_and_headers_through_a_kept_connection():
    checker = HealthChecker(2)
    async with HealthServer() as server:
        s = svc(server.url(), headers=(("Authorization", "Bearer t0ken"),))
        first = await checker.check(replace(s, expect_body=(("status", "ok"),)))
        assert first.ok
        assert first.status_code == 200
        assert first.latency > 0
        server.status = 503
        second = await checker.check(s)
        assert second.error == "HTTP 503 Service Unavailable, want 200"
    async with raw_server(lambda req, i: b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") as (
        url,
        seen,
        conns,
    ):
        s = svc(url + "/h?q=1", headers=(("Authorization", "Bearer t0ken"),))
        for _ in range(3):
            assert (await checker.check(s)).ok
        assert conns[0] == 1  # one connection, kept
        assert seen[0].startswith(b"GET /h?q=1 HTTP/1.1\r\n")
        assert b"\r\nAuthorization: Bearer t0ken\r\n" in seen[0]
        assert b"\r\nUser-Agent: devmentor-monitor\r\n" in seen[0]
        await checker.close()


CHUNKED = (
    b"HTTP/1.1 100 Continue\r\n\r\n"
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    b'7;ext=1\r\n{"statu\r\n9\r\ns": "ok"}\r\n0\r\nX-Trailer: 1\r\n\r\n'
)


@pytest.mark.parametrize(
    ("answer", "reuse"),
    [
        pytest.param(CHUNKED, True, id="chunked, after a 100"),
        pytest.param(b'HTTP/1.0 200 OK\r\n\r\n{"status": "ok"}', False, id="read to the close"),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s"
            % (len(gz := gzip.compress(b'{"status": "ok"}')), gz),
            True,
            id="gzip sent unasked",
        ),
        pytest.param(
            b'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 16\r\n\r\n{"status": "ok"}',
            False,
            id="Connection: close",
        ),
    ],
)
async def test_framings(answer: bytes, reuse: bool):
    def reply(req: bytes, i: int) -> bytes | None:
        return answer

    checker = HealthChecker(2)
    async with raw_server(reply) as (url, _, conns):
        s = svc(url + "/health", expect_body=(("status", "ok"),))
        if not reuse:  # the server closes after each answer
            for _ in range(2):
                assert (await checker.check(s)).ok
            assert conns[0] == 2
        else:
            for _ in range(2):
                result = await checker.check(s)
                assert result.ok, result.error
            assert conns[0] == 1
        await checker.close()


async def test_a_kept_connection_closed_by_the_server_is_retried_once():
    # The second request arrives on a connection the server then drops unanswered (as an
    # idle timeout does): the check goes on over a new connection, not "connection reset".
    def reply(req: bytes, i: int) -> bytes | None:
        return None if i == 1 else b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"

    checker = HealthChecker(2)
    async with raw_server(reply) as (url, _, conns):
        assert (await checker.check(svc(url))).ok
        again = await checker.check(svc(url))
        assert again.ok, again.error
        assert conns[0] == 2
        await checker.close()


async def test_faults_are_precise_reasons():
    answers = {
        "bad status line": b"SPDY/3 200 OK\r\n\r\n",
        "bad Content-Length": b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
        "closed": None,
    }
    checker = HealthChecker(2)
    for name, answer in answers.items():
        async with raw_server(lambda req, i, a=answer: a) as (url, _, _):
            result = await checker.check(svc(url))
            assert not result.ok
            if answer is None:
                assert result.error == "connection reset"
            else:
                assert result.error.startswith(name), result.error
    short = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok"  # 2 of 10 bytes, then nothing
    async with raw_server(lambda req, i: short) as (url, _, _):
        cut = await checker.check(svc(url, timeout=0.3))
        assert cut.error == "timeout after 0.3 s"
        await checker.close()


async def test_hostile_chunked_and_compressed_answers_fail_the_check_not_the_monitor():
    # A negative chunk size once stepped back in the buffer and parsed the same chunk for
    # ever, inside data_received: no timeout could end it and the whole monitor froze. A
    # chunk declared over 8 MiB was buffered until the timeout; a gzip bomb unpacked whole.
    bomb = gzip.compress(b"0" * (9 * 1024 * 1024))
    answers = {
        "bad chunk size b'-6'": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"-6\r\nxxxxxxxxxxxxxxxx",
        "bad chunk size b'0x10'": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x10\r\n",
        "response body over 8 MiB": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"40000000\r\nxxxx",
        "response body over 8 MiB ": b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(bomb), bomb),
    }
    checker = HealthChecker(2)
    for reason, answer in answers.items():
        async with raw_server(lambda req, i, a=answer: a) as (url, _, _):
            t0 = time.monotonic()
            result = await checker.check(svc(url, timeout=5))
            assert (result.ok, result.error) == (False, reason.strip())
            assert time.monotonic() - t0 < 2  # answered, not left to the timeout
    # An empty body marked as compressed is an empty body (as aiohttp reads it).
    empty = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 0\r\n\r\n"
    async with raw_server(lambda req, i: empty) as (url, _, _):
        assert (await checker.check(svc(url))).ok
    await checker.close()


async def test_each_request_ends_at_its_own_timeout_on_kept_connections():
    """One timer watches every answer's deadline: a shorter timeout sent after a longer
    one still ends on time, and the connections kept meanwhile still serve."""
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    stall = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok"  # 2 of 10 bytes, then nothing
    checker = HealthChecker(4)
    async with raw_server(lambda req, i: stall if b"/slow" in req else ok) as (url, _, conns):
        fine = svc(f"{url}/fine", timeout=10.0)  # its deadlines far behind the others
        warm = await asyncio.gather(*(checker.check(fine) for _ in range(3)))
        assert all(r.ok for r in warm)
        assert conns[0] == 3  # three kept connections
        long = asyncio.create_task(checker.check(svc(f"{url}/slow", timeout=3.0)))
        await asyncio.sleep(0)  # sent, its deadline watched
        t0 = time.monotonic()
        short = await checker.check(svc(f"{url}/slow", timeout=0.2))
        took = time.monotonic() - t0
        assert short.error == "timeout after 0.2 s"
        assert took < 1.5, took  # its own deadline, not the longer one's
        assert not long.done()
        assert (await checker.check(fine)).ok  # the third kept one
        assert (await long).error == "timeout after 3 s"
        assert conns[0] == 3  # no new connection was needed
        await checker.close()
