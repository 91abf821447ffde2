"""Scrape targets: a real `prometheus-node-exporter` (the Debian package) on a free
loopback port, stopped by PID; and an aiohttp page whose body and status the test sets
(for include patterns, caps and broken expositions)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web

from devmentor_monitor.demo.fleet import free_port
from support.processes import stop_process
from support.waiting import wait_until

NODE_EXPORTER = shutil.which("prometheus-node-exporter")
MISSING = "prometheus-node-exporter not installed (scripts/setup --test does)"


class NodeExporter:
    """`prometheus-node-exporter` on 127.0.0.1:<free port>, as RECIPES.md runs it."""

    def __init__(self, tmp: Path) -> None:
        if NODE_EXPORTER is None:
            raise RuntimeError(MISSING)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/metrics"
        self.log_path = tmp / "node-exporter.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [
                NODE_EXPORTER,
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--no-collector.systemd",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

        def ready() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"node exporter exited:\n{self.log_path.read_text()}")
            return httpx.get(self.url, timeout=2).status_code == 200

        wait_until(ready, 15, interval=0.1, what="prometheus-node-exporter to answer")

    def close(self) -> None:
        stop_process(self.proc, grace=5)
        self._log.close()


class ExpositionPage:
    """An aiohttp server on a free loopback port answering GET /metrics with ``body``
    and ``status``, both changeable while it runs; start and stop on the test's loop."""

    def __init__(self, body: str = "", status: int = 200, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/metrics"
        self.body = body
        self.status = status
        self.hits = 0
        self.runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        self.hits += 1
        return web.Response(text=self.body, status=self.status, content_type="text/plain")

    async def start(self) -> ExpositionPage:
        app = web.Application()
        app.router.add_get("/metrics", self._handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    async def __aenter__(self) -> ExpositionPage:
        return await self.start()

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()
