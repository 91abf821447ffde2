"""A counting HTTP stub: N health endpoints on one loopback port (``/svc/<i>/health``),
each request's time kept per path, so a test can tell how often each check ran over a
window (issue 20: each check once per interval fleet-wide). Runs in its own thread and
event loop, beside `--serve` subprocesses."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import defaultdict

from devmentor_monitor.demo.fleet import JsonServer


class CountingStub:
    def __init__(self, count: int, failing: frozenset[int] = frozenset()) -> None:
        """``failing``: endpoints that answer 500."""
        self.count = count
        self.failing = {self.path(i) for i in failing}
        self.hits: defaultdict[str, list[float]] = defaultdict(list)  # path -> monotonic times
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = JsonServer(self._route, "127.0.0.1", 0)
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(10)
        self.port = self.server.port

    async def _route(self, method: str, path: str, body: bytes) -> tuple[int, object]:
        self.hits[path].append(time.monotonic())
        if path in self.failing:
            return 500, {"status": "failing"}
        return 200, {"status": "ok"}

    def path(self, i: int) -> str:
        return f"/svc/{i}/health"

    def url(self, i: int) -> str:
        return f"http://127.0.0.1:{self.port}{self.path(i)}"

    def counts(self, since: float, until: float | None = None) -> dict[str, int]:
        """Requests per path in [since, until) (monotonic), every path listed."""
        end = time.monotonic() if until is None else until
        return {
            self.path(i): sum(1 for t in list(self.hits[self.path(i)]) if since <= t < end)
            for i in range(self.count)
        }

    def last(self, i: int) -> float:
        hits = self.hits[self.path(i)]
        return hits[-1] if hits else 0.0

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()
