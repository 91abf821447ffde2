"""A real headless browser (Debian's chromium) driven over the DevTools protocol: the
`/dashboard` test and the HTML report's test open pages in it, run JavaScript in them and
take screenshots."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from devmentor_monitor.demo.fleet import free_port
from support.processes import stop_process


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

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        """One DevTools command on the open page; its result."""
        call_id = next(self._ids)
        await self.ws.send_str(json.dumps({"id": call_id, "method": method, "params": params}))
        while True:
            msg = json.loads((await self.ws.receive(timeout=30)).data)
            if msg.get("id") == call_id:
                if "error" in msg:
                    raise AssertionError(f"{method}: {msg['error']}")
                result: dict[str, Any] = msg.get("result", {})
                return result

    async def evaluate(self, expression: str) -> Any:
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    async def screenshot(self) -> bytes:
        """The whole page (beyond the window too) as PNG bytes."""
        result = await self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        return base64.b64decode(result["data"])

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
