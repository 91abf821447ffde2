"""Heavy modules imported on first use, in a thread, so the event loop keeps running.

aiohttp (through devmentor_monitor.aio) is ~0.2 s of CPU and ~12 MiB RSS to import: `ultra`
loads it only when something needs it (the exporter's first connection, an https check,
a notification, a scrape). Made on the loop, that import would hold the screen and every
check for its whole length; in a thread the loop only shares the GIL with it (Python
switches every 5 ms). The import system's per-module locks make a concurrent import of
the same module from the loop wait for this one, never see it half-done.
"""

from __future__ import annotations

import asyncio
import importlib
import sys


async def off_loop(name: str) -> None:
    """Import ``name`` in a worker thread unless it is already loaded."""
    if name not in sys.modules:
        await asyncio.to_thread(importlib.import_module, name)
