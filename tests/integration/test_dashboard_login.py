"""Dashboard sessions off loopback: the sign-in page, a JWT cookie, the live dashboard,
sign-out and revocation refused, in real headless chromium; expiry and forgery over HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from support.browser import Browser

pytestmark = pytest.mark.integration
VIEWER = "viewer-key-0123456789abcdef"
ADMIN = "admin-key-0123456789abcdef"


def _config(write_config: Any, fast: Any, fleet: Any, **auth: Any) -> Path:
    keys = [
        {"name": "wall", "key": VIEWER, "role": "viewer"},
        {"name": "boss", "key": ADMIN, "role": "admin"},
    ]
    return write_config(fast(fleet.urls), auth={"keys": keys, **auth})


async def _sign_in(browser: Browser, key: str) -> None:
    await browser.until("document.querySelector('#login') !== null", True, 15, "the sign-in page")
    await browser.evaluate(
        f"document.querySelector('#key').value = {key!r};"
        "document.querySelector('#submit').click(); true"
    )


async def test_sign_in_then_live_dashboard_then_sign_out_and_revocation_refused(
    serve: Any, write_config: Any, fleet: Any, fast: Any, tmp_path: Path
) -> None:
    mon = serve("-c", str(_config(write_config, fast, fleet)), "--host", "0.0.0.0")
    page = mon.get("/dashboard")
    assert page.status_code == 401  # reads need a role here: the sign-in page, not the data
    assert 'id="login"' in page.text
    assert "svc-" not in page.text
    status = "document.querySelector('#svc-memory')?.dataset.status"
    browser = Browser(tmp_path / "chromium")
    try:
        await browser.open(mon.url + "/dashboard")
        await _sign_in(browser, "not-a-key-0123456789")
        await browser.until(
            "document.querySelector('#error').textContent",
            lambda t: bool(t) and "unknown API key" in t,
            10,
            "the refusal shown",
        )
        await _sign_in(browser, VIEWER)
        await browser.until(status, "up", 30, "the dashboard with live data")
        await browser.until(
            "document.querySelector('#live').className", "ok", 10, "the live SSE connection"
        )
        cookie = await browser.evaluate("document.cookie")
        assert "dm_session" not in cookie  # HttpOnly: scripts cannot read it
        fleet.stop("memory")
        await browser.until(status, "down", 15, "memory turned down, live, with the session")
        # Sign out: back to the sign-in page, and the old cookie no longer reads.
        await browser.evaluate("document.querySelector('#logout').click(); true")
        await browser.until("document.querySelector('#login') !== null", True, 15, "signed out")
        # A managed key's session ends the moment the key is revoked.
        admin = {"Authorization": f"Bearer {ADMIN}"}
        async with httpx.AsyncClient(base_url=mon.url, headers=admin) as client:
            made = await client.post("/api/keys", json={"name": "tv", "role": "viewer"})
        assert made.status_code == 201, made.text
        await _sign_in(browser, made.json()["secret"])
        await browser.until(status, lambda s: s in ("up", "down"), 30, "signed in as tv")
        async with httpx.AsyncClient(base_url=mon.url, headers=admin) as client:
            assert (await client.delete("/api/keys/tv")).status_code == 200
        await browser.evaluate("location.reload(); true")
        await browser.until(
            "document.querySelector('#login') !== null", True, 15, "revoked key's session refused"
        )
    finally:
        await browser.close()


def test_session_expires_cannot_write_and_cannot_be_forged(
    serve: Any, write_config: Any, fleet: Any, fast: Any, wait: Any
) -> None:
    cfg = _config(write_config, fast, fleet, session_ttl="5s")
    mon = serve("-c", str(cfg), "--host", "0.0.0.0")
    r = httpx.post(f"{mon.url}/api/login", json={"key": ADMIN})
    assert r.status_code == 200, r.text
    set_cookie = r.headers["set-cookie"]
    assert "HttpOnly" in set_cookie
    assert "SameSite=Strict" in set_cookie
    token = r.cookies["dm_session"]
    jar = {"dm_session": token}
    assert mon.get("/api/incidents", cookies=jar).status_code == 200
    # reads only: the admin's session cannot write (a cross-site form could otherwise)
    w = httpx.post(
        f"{mon.url}/api/incidents",
        json={"service": "auth", "description": "x"},
        cookies=jar,
    )
    assert w.status_code == 401
    head, body, sig = token.split(".")
    forged = f"{head}.{body}.{sig[::-1]}"
    assert mon.get("/api/incidents", cookies={"dm_session": forged}).status_code == 401
    wait(
        lambda: mon.get("/api/incidents", cookies=jar).status_code == 401,
        15,
        what="the 5-second session to expire",
    )
