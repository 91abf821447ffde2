"""Responsiveness while a Kubernetes API call hangs: the fake API server
(tests/support/kube_fake.py) accepts every request and never answers. A Monitor with that
cluster configured runs in this process; a probe measures event-loop lag every 10 ms for
WINDOW_S seconds (the loop that also draws the TUI), and a small HTTP request to the
monitor's API measures what an on-call engineer would feel. Prints JSON: lag p50/p99/max,
API latency, source state.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import emit, free_port, host_info

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from support.kube_fake import FakeKube

WINDOW_S = 20
TIMEOUT_S = 2


async def measure(tmp: Path, fake: FakeKube) -> dict[str, Any]:
    import httpx
    import yaml

    from devmentor_monitor.config.schema import load_config
    from devmentor_monitor.runtime import Monitor

    path = tmp / "services.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "kubernetes": {
                    "kubeconfig": str(fake.kubeconfig(tmp / "kubeconfig")),
                    "timeout": f"{TIMEOUT_S}s",
                    "interval": "1s",
                },
                "storage": {"data_dir": str(tmp / "data")},
                "services": [{"name": "auth", "url": "http://127.0.0.1:9/health"}],
            }
        )
    )
    monitor = Monitor(load_config(path, env={}, port=free_port()))
    await monitor.start()
    lags: list[float] = []
    api_ms: list[float] = []
    try:
        async with httpx.AsyncClient(base_url=monitor.server.url, timeout=10) as client:
            end = time.monotonic() + WINDOW_S
            next_api = 0.0
            while time.monotonic() < end:
                t0 = time.monotonic()
                await asyncio.sleep(0.01)
                lags.append(time.monotonic() - t0 - 0.01)
                if time.monotonic() >= next_api:
                    next_api = time.monotonic() + 0.5
                    a0 = time.monotonic()
                    r = await client.get("/api/kubernetes/pods")
                    r.raise_for_status()
                    api_ms.append((time.monotonic() - a0) * 1000)
        status = monitor.store.source("kubernetes")
    finally:
        await monitor.stop()
    lags.sort()
    return {
        "loop_lag_ms": {
            "p50": round(statistics.median(lags) * 1000, 2),
            "p99": round(lags[int(len(lags) * 0.99) - 1] * 1000, 2),
            "max": round(lags[-1] * 1000, 2),
            "samples": len(lags),
        },
        "api_pods_ms": {
            "p50": round(statistics.median(api_ms), 2),
            "max": round(max(api_ms), 2),
            "requests": len(api_ms),
        },
        "source": status.describe(time.time()) if status else None,
        "hung_requests_seen_by_fake": len(fake.requests),
    }


def main() -> int:
    result: dict[str, Any] = {"host": host_info(), "window_s": WINDOW_S, "api_timeout_s": TIMEOUT_S}
    fake = FakeKube()
    fake.hang = True
    fake.start()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-kube-") as tmp:
            result.update(asyncio.run(measure(Path(tmp), fake)))
    finally:
        fake.stop()
    emit(result)
    ok = result["loop_lag_ms"]["p99"] < 100 and "timeout" in (result["source"] or "")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
