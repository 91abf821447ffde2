"""`/dashboard` in a real headless browser (Debian's chromium), driven over DevTools."""

from __future__ import annotations

import asyncio
import itertools
import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from support.processes import stop_process

from devmentor_monitor.demo.fleet import free_port

pytestmark = pytest.mark.integration


class Browser:
    """chromium --headless with a DevTools port; `evaluate` runs JS in the open page."""

    def __init__(self, profile: Path) -> None:
        exe = shutil.which("chromium") or shutil.which("chromium-browser")
        if exe is None:
            pytest.fail("chromium is not installed (scripts/setup --test installs it)")
        self.port = free_port()
        self.proc = subprocess.Popen(
            [
                exe,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-extensions",
                "--remote-allow-origins=*",
                f"--remote-debugging-port={self.port}",
                f"--user-data-dir={profile}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._ids = itertools.count(1)
        self.ws: Any = None
        self.http: Any = None

    async def open(self, url: str) -> None:
        self.http = aiohttp.ClientSession()
        base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                async with self.http.put(f"{base}/json/new?{url}") as resp:
                    target = await resp.json(content_type=None)
                    break
            except aiohttp.ClientError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise
                await asyncio.sleep(0.1)
        self.ws = await self.http.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0)

    async def evaluate(self, expression: str) -> Any:
        call_id = next(self._ids)
        await self.ws.send_str(
            json.dumps(
                {
                    "id": call_id,
                    "method": "Runtime.evaluate",
                    "params": {"expression": expression, "returnByValue": True},
                }
            )
        )
        while True:
            msg = json.loads((await self.ws.receive(timeout=10)).data)
            if msg.get("id") == call_id:
                return msg.get("result", {}).get("result", {}).get("value")

    async def until(self, expression: str, want: Any, within: float, what: str) -> Any:
        deadline = time.monotonic() + within
        value = None
        while time.monotonic() < deadline:
            value = await self.evaluate(expression)
            if want(value) if callable(want) else value == want:
                return value
            await asyncio.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}; last value {value!r}")

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.http is not None:
            await self.http.close()
        stop_process(self.proc)


async def test_dashboard_renders_and_turns_a_service_down_live(
    serve: Any, write_config: Any, fleet: Any, fast: Any, tmp_path: Path
) -> None:
    mon = serve("-c", str(write_config(fast(fleet.urls))))
    page = mon.get("/dashboard")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "http://" not in page.text
    assert "https://" not in page.text
    browser = Browser(tmp_path / "chromium")
    try:
        await browser.open(mon.url + "/dashboard")
        status = "document.querySelector('#svc-memory')?.dataset.status"
        await browser.until(status, "up", 30, "memory shown up")
        rows = await browser.evaluate(
            "[...document.querySelectorAll('#services tbody tr')].map(r => r.id)"
        )
        assert rows == ["svc-auth", "svc-memory", "svc-project"]
        await browser.until(
            "document.querySelector('#live').className", "ok", 10, "the live SSE connection"
        )
        await browser.until(
            "document.querySelector('#host').textContent",
            lambda t: t and "CPU" in t and "%" in t,
            20,
            "host metrics",
        )
        fleet.stop("memory")
        await browser.until(status, "down", 15, "memory turned down without a reload")
        text = await browser.evaluate("document.querySelector('#svc-memory .status').textContent")
        assert text.startswith("down (")  # with the reason
        assert (
            await browser.evaluate("performance.getEntriesByType('navigation').length") == 1
        )  # updated in place, never reloaded
    finally:
        await browser.close()
