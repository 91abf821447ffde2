"""HTTP stubs: real aiohttp servers on free loopback ports, started and stopped by the test.

* `Receiver` records every POST (webhooks, Slack, PagerDuty) and can answer with chosen
  statuses; `Receiver.in_thread()` runs one on its own loop for synchronous tests.
* `HealthServer` answers GETs like a service's /health, counting concurrency per path.
* The Kubernetes API fake is `support.kube_fake`; the demo fleet is the product's own
  `devmentor_monitor.demo.fleet`.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from devmentor_monitor.demo.fleet import free_port


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class Receiver:
    """An aiohttp server on a loopback port that records every POST; it can be down,
    or answer with chosen statuses for the next requests."""

    port: int = field(default_factory=free_port)
    requests: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # answered first, one per request
    runner: web.AppRunner | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(Received(request.path_qs, dict(request.headers), body))
        status = self.statuses.pop(0) if self.statuses else 202
        headers = {"Retry-After": "0"} if status == 429 else None
        return web.json_response(
            {"status": "success" if status < 300 else "error"}, status=status, headers=headers
        )

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    def bodies(self, prefix: str = "") -> list[dict[str, Any]]:
        return [r.body for r in self.requests if r.path.startswith(prefix)]

    @classmethod
    def in_thread(cls) -> ThreadedReceiver:
        return ThreadedReceiver(cls())


class ThreadedReceiver:
    """A `Receiver` on its own event loop in a daemon thread, for synchronous tests
    (say, beside a `--serve` subprocess). `close()` stops it."""

    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(receiver.start(), self.loop).result(10)

    @property
    def base(self) -> str:
        return self.receiver.base

    def bodies(self, prefix: str = "") -> list[dict[str, Any]]:
        return self.receiver.bodies(prefix)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.receiver.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


class HealthServer:
    """A tiny aiohttp server whose handlers count concurrency per path."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self.port = free_port()
        self.ssl = ssl_context
        self.in_flight: dict[str, int] = {}
        self.max_in_flight: dict[str, int] = {}
        self.total_max = 0
        self.delay = 0.0
        self.body: dict[str, Any] = {"status": "ok", "checks": {"db": "up"}}
        self.status = 200
        self.runner: web.AppRunner | None = None

    def url(self, path: str = "/health") -> str:
        scheme = "https" if self.ssl else "http"
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    async def handle(self, request: web.Request) -> web.Response:
        path = request.path
        self.in_flight[path] = self.in_flight.get(path, 0) + 1
        self.max_in_flight[path] = max(self.max_in_flight.get(path, 0), self.in_flight[path])
        self.total_max = max(self.total_max, sum(self.in_flight.values()))
        try:
            await asyncio.sleep(self.delay)
            return web.json_response(self.body, status=self.status)
        finally:
            self.in_flight[path] -= 1

    async def __aenter__(self) -> HealthServer:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port, ssl_context=self.ssl).start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.runner is not None
        await self.runner.cleanup()
