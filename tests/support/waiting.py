"""Waiting for a condition with a deadline, never a bare sleep: `eventually` on the event
loop, `wait_until` in a plain thread (the `wait` fixture), `until` in a Textual pilot."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx


async def eventually(
    predicate: Callable[[], Any],
    within: float = 5.0,
    what: str = "condition",
    interval: float = 0.02,
) -> Any:
    """Poll ``predicate`` on the event loop until it returns something truthy, or fail
    after ``within`` seconds. Returns that value."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {within} s waiting for {what}")


def wait_until(
    predicate: Callable[[], Any], timeout: float, interval: float = 0.05, what: str = "condition"
) -> Any:
    """Poll ``predicate`` (blocking) until it returns something truthy, or fail after
    ``timeout`` seconds. A request or lookup that fails meanwhile counts as "not yet"
    and is named in the failure. Returns that value."""
    deadline = time.monotonic() + timeout
    last_exc: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except (httpx.HTTPError, OSError, KeyError, ValueError) as exc:
            last_exc = exc
        time.sleep(interval)
    raise AssertionError(
        f"timed out after {timeout} s waiting for {what}"
        + (f" (last error: {last_exc})" if last_exc else "")
    )


async def until(pilot: Any, condition: Callable[[], Any], what: str, within: float = 5.0) -> None:
    """In a Textual pilot test, let the app run until ``condition()`` holds (for work done
    in Textual workers). tests/tui/tui_data.py has the same; it can import this one."""
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await pilot.pause(0.02)
