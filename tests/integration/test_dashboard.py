"""`/dashboard` in a real headless browser (Debian's chromium), driven over DevTools."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.browser import Browser

pytestmark = pytest.mark.integration


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
