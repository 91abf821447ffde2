"""Simulated DevMentor services: real HTTP servers on loopback with realistic behaviour.

Each service answers ``GET /health`` after a log-normal latency, fails a share of
requests with 500, and can have scheduled outages. ``stop()``/``start()`` close and
reopen its port (connection refused), and ``/_demo`` lets a script change its
behaviour at run time: ``POST /_demo {"down": true, "latency_ms": 900}``.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import socket
import time
from dataclasses import asdict, dataclass, fields

from devmentor_monitor.aio import web


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
        self._runner: web.AppRunner | None = None
        app = web.Application()
        app.router.add_get("/health", self._health)
        app.router.add_get("/_demo", self._show)
        app.router.add_post("/_demo", self._change)
        self.app = app

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/health"

    @property
    def running(self) -> bool:
        return self._runner is not None

    async def start(self) -> None:
        if self._runner is not None:
            return
        runner = web.AppRunner(
            self.app, access_log=None, handle_signals=False, shutdown_timeout=0.2
        )
        await runner.setup()
        # Port 0 on the first start: the OS picks one and it is ours at once (choosing a
        # free port first and binding it after left a window another process could take).
        # A restart binds the same port again, so the URL stays.
        await web.TCPSite(runner, self.host, self.port, reuse_address=True).start()
        if not self.port:
            self.port = int(runner.addresses[0][1])
        self._runner = runner

    async def stop(self) -> None:
        """Close the port and every open connection: clients see 'connection refused'."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

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

    async def _health(self, request: web.Request) -> web.Response:
        self.requests += 1
        b = self.behaviour
        delay = (
            b.latency_ms / 1000 * math.exp(self._rng.gauss(0, b.jitter)) if b.latency_ms > 0 else 0
        )
        await asyncio.sleep(min(delay, 30))
        if self._in_outage():
            return web.json_response({"status": "unavailable", "service": self.name}, status=503)
        if self._rng.random() < b.error_rate:
            return web.json_response(
                {"status": "error", "service": self.name, "error": "simulated failure"}, status=500
            )
        return web.json_response(
            {
                "status": "ok",
                "service": self.name,
                "version": "demo",
                "uptime_s": round(time.monotonic() - self._born, 1),
            }
        )

    async def _show(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"name": self.name, "requests": self.requests, **asdict(self.behaviour)}
        )

    async def _change(self, request: web.Request) -> web.Response:
        try:
            changes = await request.json()
            if not isinstance(changes, dict):
                raise ValueError("body must be a JSON object")
            self.behaviour.update(changes)
        except (ValueError, json.JSONDecodeError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return await self._show(request)


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
        self._runner: web.AppRunner | None = None

    def url(self, i: int) -> str:
        return f"http://{self.host}:{self.port}/svc/{i}/health"

    async def _health(self, request: web.Request) -> web.Response:
        self.requests += 1
        if self.latency_ms:
            await asyncio.sleep(self.latency_ms / 1000)
        return web.json_response({"status": "ok"})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/svc/{i}/health", self._health)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(
            self._runner, self.host, self.port, reuse_address=True, backlog=1024
        ).start()
        if not self.port:  # port 0: the OS's choice, ours from the start (DemoService)
            self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


def _copy(b: Behaviour) -> Behaviour:
    return Behaviour(**asdict(b))


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS says is free now (the caller binds it right after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port
