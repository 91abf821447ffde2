"""Simulated DevMentor services: real HTTP servers on loopback with realistic behaviour.

Each service answers ``GET /health`` after a log-normal latency, fails a share of
requests with 500, and can have scheduled outages. ``stop()``/``start()`` close and
reopen its port (connection refused), and ``/_demo`` lets a script change its
behaviour at run time: ``POST /_demo {"down": true, "latency_ms": 900}``.

The servers are a few lines of asyncio streams (`JsonServer`), not aiohttp: `ultra --demo`
runs the fleet in its own process, and aiohttp.web was the fleet's only reason to load
the HTTP stack there (the monitor's own checks of plain http:// URLs go through
health/plainhttp.py, and its exporter loads aiohttp at its first connection). Measured
in a fresh python (import, then the 5 services started; 3 runs each, 2026-11-29): RSS
33.7 MiB with aiohttp.web, 22.1 with these servers; from launch to serving 0.23-0.27 s
against 0.07-0.10 s. They speak just what the checks and the tests send: HTTP/1.x GET and
POST with a Content-Length body, keep-alive, JSON out.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, fields
from http import HTTPStatus

# (method, path without its query, body) -> (status, JSON document)
Handler = Callable[[str, str, bytes], Awaitable[tuple[int, object]]]
MAX_BODY = 64 * 1024  # a /_demo change is a few bytes


class JsonServer:
    """A small HTTP/1.1 server on one port whose handler answers JSON (see the module's
    docstring for why not aiohttp). `stop` closes the port and every open connection."""

    def __init__(self, handle: Handler, host: str, port: int, backlog: int = 100) -> None:
        self.handle = handle
        self.host, self.port, self.backlog = host, port, backlog
        self._server: asyncio.Server | None = None
        self._open: dict[asyncio.StreamWriter, asyncio.Task[None]] = {}

    @property
    def listening(self) -> bool:
        return self._server is not None

    async def start(self) -> None:
        if self._server is not None:
            return
        # Port 0 on the first start: the OS picks one and it is ours at once (choosing a
        # free port first and binding it after left a window another process could take).
        # A restart binds the same port again, so the URL stays.
        self._server = await asyncio.start_server(
            self._accept, self.host, self.port, reuse_address=True, backlog=self.backlog
        )
        if not self.port:
            self.port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is None:
            return
        server, self._server = self._server, None
        server.close()
        for writer, task in list(self._open.items()):
            writer.transport.abort()
            task.cancel()
        await server.wait_closed()

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Our own task, not one start_server makes from a coroutine: 3.11's streams log
        # that one as an error when `stop` cancels it.
        self._open[writer] = asyncio.create_task(self._serve(reader, writer))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await self._one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # the client went away, or sent a head past the stream's limit
        finally:
            self._open.pop(writer, None)
            writer.close()

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; whether the connection stays open for the next."""
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = headers.get("content-length", "0")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1.") or not length.isdigit():
            writer.write(_answer(400, {"error": "malformed request"}, keep=False))
            return False
        if "transfer-encoding" in headers or int(length) > MAX_BODY:
            writer.write(_answer(413, {"error": f"a body of at most {MAX_BODY} bytes"}, False))
            return False
        body = await reader.readexactly(int(length)) if int(length) else b""
        method, path, version = parts
        status, doc = await self.handle(method, path.partition("?")[0], body)
        keep = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
        writer.write(_answer(status, doc, keep))
        await writer.drain()
        return keep


def _answer(status: int, doc: object, keep: bool) -> bytes:
    body = json.dumps(doc).encode()
    head = (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
        "Content-Type: application/json; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"Connection: {'keep-alive' if keep else 'close'}\r\n\r\n"
    )
    return head.encode() + body


def _not_found(method: str, path: str, routes: dict[str, tuple[str, ...]]) -> tuple[int, object]:
    """404 for an unknown path, 405 for a method the path does not take."""
    allowed = routes.get(path)
    if allowed is None:
        return 404, {"error": f"no such path: {path}"}
    return 405, {"error": f"{method} is not allowed on {path}; use {', '.join(allowed)}"}


@dataclass(slots=True)
class Behaviour:
    latency_ms: float = 20.0  # median
    jitter: float = 0.35  # log-normal sigma
    error_rate: float = 0.002  # share of requests answered 500
    outage_every: float = 0.0  # seconds between scheduled outages; 0 = none
    outage_for: float = 0.0  # seconds each outage lasts (503)
    down: bool = False  # answer 503 until changed
    alternate: bool = False  # flap: 503 on every other /health, the first one included

    def update(self, changes: dict[str, object]) -> None:
        names = {f.name: f.type for f in fields(self)}
        for key, value in changes.items():
            if key not in names:
                raise ValueError(f"unknown setting {key!r} (known: {', '.join(names)})")
            if key in _SWITCHES:
                if not isinstance(value, bool):
                    raise ValueError(f"{key} must be true or false")
            elif isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"{key} must be a non-negative number")
            setattr(self, key, value)


_SWITCHES = frozenset({"down", "alternate"})
CLEAN_START_S = 30.0

# Profiles of the platform's services, chosen so the demo shows every state over time.
PROFILES: dict[str, Behaviour] = {
    "auth": Behaviour(latency_ms=25, error_rate=0.0005),
    "memory": Behaviour(latency_ms=12, error_rate=0.002),
    "ai-gateway": Behaviour(latency_ms=450, jitter=0.6, error_rate=0.005),
    "project": Behaviour(latency_ms=90, error_rate=0.002, outage_every=600, outage_for=45),
    "monitoring": Behaviour(latency_ms=3, error_rate=0.0),
}


class DemoService:
    """One simulated service on its own loopback port."""

    def __init__(
        self,
        name: str,
        behaviour: Behaviour,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int | None = None,
    ) -> None:
        self.name = name
        self.behaviour = behaviour
        self.host = host
        self.port = port
        self.requests = 0
        self._alternated = 0  # /health answers while alternating; odd ones fail
        self._rng = random.Random(seed)
        self._born = time.monotonic()
        # No simulated 500s in a service's first CLEAN_START_S, until told otherwise
        # (POST /_demo): the first look (`status --demo`, the first screen) shows the
        # fleet as it is, not the 1-in-100 blip the profiles' error rates add up to.
        self._clean_until = self._born + CLEAN_START_S
        self._server = JsonServer(self._route, host, port)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/health"

    @property
    def running(self) -> bool:
        return self._server.listening

    async def start(self) -> None:
        await self._server.start()
        self.port = self._server.port

    async def stop(self) -> None:
        """Close the port and every open connection: clients see 'connection refused'."""
        await self._server.stop()

    async def _route(self, method: str, path: str, body: bytes) -> tuple[int, object]:
        if path == "/health" and method == "GET":
            return await self._health()
        if path == "/_demo" and method == "GET":
            return 200, self._show()
        if path == "/_demo" and method == "POST":
            return self._change(body)
        return _not_found(method, path, {"/health": ("GET",), "/_demo": ("GET", "POST")})

    def _in_outage(self) -> bool:
        b = self.behaviour
        if b.down:
            return True
        if b.alternate:
            self._alternated += 1
            return self._alternated % 2 == 1
        self._alternated = 0
        if b.outage_every > 0 and b.outage_for > 0:
            age = time.monotonic() - self._born
            return age % b.outage_every >= b.outage_every - b.outage_for
        return False

    async def _health(self) -> tuple[int, object]:
        self.requests += 1
        b = self.behaviour
        delay = (
            b.latency_ms / 1000 * math.exp(self._rng.gauss(0, b.jitter)) if b.latency_ms > 0 else 0
        )
        await asyncio.sleep(min(delay, 30))
        if self._in_outage():
            return 503, {"status": "unavailable", "service": self.name}
        failing = time.monotonic() >= self._clean_until and self._rng.random() < b.error_rate
        if failing:
            return 500, {"status": "error", "service": self.name, "error": "simulated failure"}
        return 200, {
            "status": "ok",
            "service": self.name,
            "version": "demo",
            "uptime_s": round(time.monotonic() - self._born, 1),
        }

    def _show(self) -> dict[str, object]:
        return {"name": self.name, "requests": self.requests, **asdict(self.behaviour)}

    def _change(self, body: bytes) -> tuple[int, object]:
        try:
            changes = json.loads(body)
            if not isinstance(changes, dict):
                raise ValueError("body must be a JSON object")
            self.behaviour.update(changes)
        except ValueError as exc:  # json.JSONDecodeError and UnicodeDecodeError are too
            return 400, {"error": str(exc)}
        self._clean_until = 0.0  # told what to do: from now on
        return 200, self._show()


class DemoFleet:
    """A set of simulated services; `urls` maps service name → health URL."""

    def __init__(
        self, names: list[str] | None = None, host: str = "127.0.0.1", seed: int | None = None
    ) -> None:
        names = list(PROFILES) if names is None else names
        self.services = {
            n: DemoService(
                n,
                _copy(PROFILES.get(n, Behaviour())),
                host,
                seed=None if seed is None else seed + i,
            )
            for i, n in enumerate(names)
        }

    @property
    def urls(self) -> dict[str, str]:
        return {n: s.url for n, s in self.services.items()}

    def __getitem__(self, name: str) -> DemoService:
        return self.services[name]

    async def start(self) -> None:
        for svc in self.services.values():
            await svc.start()

    async def stop(self) -> None:
        for svc in self.services.values():
            await svc.stop()


class ManyEndpoints:
    """N health endpoints behind one port (``/svc/<i>/health``), for load benchmarks."""

    def __init__(self, count: int, latency_ms: float = 2.0, host: str = "127.0.0.1") -> None:
        self.count = count
        self.latency_ms = latency_ms
        self.host = host
        self.port = 0
        self.requests = 0
        self._server: JsonServer | None = None

    def url(self, i: int) -> str:
        return f"http://{self.host}:{self.port}/svc/{i}/health"

    async def _route(self, method: str, path: str, body: bytes) -> tuple[int, object]:
        parts = path.split("/")  # "", "svc", i, "health": any i, as aiohttp's {i} matched
        if len(parts) != 4 or parts[1] != "svc" or not parts[2] or parts[3] != "health":
            return _not_found(method, path, {})
        if method != "GET":
            return _not_found(method, path, {path: ("GET",)})
        self.requests += 1
        if self.latency_ms:
            await asyncio.sleep(self.latency_ms / 1000)
        return 200, {"status": "ok"}

    async def start(self) -> None:
        # port 0: the OS's choice, ours from the start (DemoService)
        self._server = JsonServer(self._route, self.host, self.port, backlog=1024)
        await self._server.start()
        self.port = self._server.port

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop()
            self._server = None


def _copy(b: Behaviour) -> Behaviour:
    return Behaviour(**asdict(b))


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS says is free now (the caller binds it right after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port
