"""End to end: `--serve --demo`, a demo service goes down, one incident and one webhook;
it comes back, the incident resolves and one resolved webhook arrives."""

from __future__ import annotations

import asyncio
import threading

import httpx
from aiohttp import web

from devmentor_monitor.demo.fleet import free_port


class WebhookReceiver:
    """A real HTTP server on loopback, in its own thread, keeping every JSON body."""

    def __init__(self) -> None:
        self.port = free_port()
        self.bodies: list[dict] = []
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)

    async def _start(self) -> None:
        async def hook(request: web.Request) -> web.Response:
            self.bodies.append(await request.json())
            return web.Response(status=204)

        app = web.Application()
        app.router.add_post("/hook", hook)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def test_demo_outage_opens_notifies_resolves_notifies(write_config, serve, wait):
    receiver = WebhookReceiver()
    try:
        base = {"url": "http://127.0.0.1:1/health", "interval": "0.5s", "timeout": "0.4s",
                "failure_threshold": 2, "expect": {"status": 200}}
        cfg = write_config(
            [{"name": n, **base} for n in ("auth", "memory", "project")],
            notifications={"channels": [{"name": "ops", "type": "webhook",
                                         "url": receiver.url}],
                           "retry": {"base": "0.1s", "max": "1s"}})
        proc = serve("-c", str(cfg), "--demo")
        project = wait(lambda: next((s for s in proc.get("/api/services").json()["services"]
                                     if s["name"] == "project" and s["status"] == "up"),
                                    None), 10, what="project up")
        control = project["url"].replace("/health", "/_demo")
        httpx.post(control, json={"down": True}, timeout=5).raise_for_status()

        opened = wait(lambda: [b for b in receiver.bodies if b["kind"] == "open"], 10,
                      what="the open webhook")
        incident = proc.get("/api/incidents?state=open").json()["incidents"]
        assert [i["service"] for i in incident] == ["project"]
        assert opened[0]["incident_id"] == incident[0]["id"]
        assert opened[0]["service"] == "project"

        httpx.post(control, json={"down": False}, timeout=5).raise_for_status()
        resolved = wait(lambda: [b for b in receiver.bodies if b["kind"] == "resolved"], 10,
                        what="the resolved webhook")
        assert resolved[0]["incident_id"] == incident[0]["id"]
        got = proc.get(f"/api/incidents/{incident[0]['id']}").json()
        assert got["state"] == "resolved" and got["time_to_recover_s"] > 0
        # Exactly one of each, however many checks failed meanwhile.
        assert sorted(b["kind"] for b in receiver.bodies) == ["open", "resolved"]
        sent = 'devmentor_notifications_total{channel="ops",result="sent"} 2.0'
        wait(lambda: sent in proc.get("/metrics").text, 5, what="the sent count in /metrics")
    finally:
        receiver.close()
