"""Cost of scraping a service's own metrics: a real prometheus-node-exporter page and a
synthetic page of 10,000 series, each scraped by the product's ScrapeSource into the real
intake (store + SQLite history), while a 1 ms ticker measures the event loop's worst stall.

Targets, at the default scrape.max_series (5,000 series in one round): the event loop's
own CPU per scrape (the fetch and the intake's writes; parsing runs in a thread) under
20 ms, and the scrape done within 1 s of wall time on this 2-core machine. The worst stall
of a 1 ms ticker per scrape (median and max of the rounds) is printed beside an idle
loop's over the same machine, not judged: on a shared machine the idle one alone reaches
tens of milliseconds.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import Children, emit, free_port, host_info, wait_http

from devmentor_monitor.config.schema import parse_text
from devmentor_monitor.history.sqlite import SqliteSeries
from devmentor_monitor.intake import StoreIntake
from devmentor_monitor.scrape.source import ScrapeSource
from devmentor_monitor.store import Store

SIZES = (1_000, 5_000, 10_000)
DEFAULT_CAP = 5_000  # scrape.max_series: the most one round may keep by default
LOOP_CPU_TARGET_MS = 20.0
WALL_TARGET_S = 1.0
ROUNDS = 7


def synthetic_page(series: int) -> str:
    lines = ["# TYPE app_requests_total counter"]
    lines += [
        f'app_requests_total{{route="/r{i % 100}",code="{200 + i // 100 % 5}",'
        f'pod="p{i // 500}"}} {i}'
        for i in range(series)
    ]
    return "\n".join(lines) + "\n"


async def stall_meter(stop: asyncio.Event, worst: list[float]) -> None:
    """Sleeps 1 ms at a time; the largest overshoot is how long the loop was blocked."""
    while not stop.is_set():
        t = time.perf_counter()
        await asyncio.sleep(0.001)
        worst[0] = max(worst[0], (time.perf_counter() - t - 0.001) * 1000)


async def idle_stall(seconds: float) -> float:
    """The worst stall of an idle loop over the same span: what the machine adds."""
    stop, worst = asyncio.Event(), [0.0]
    meter = asyncio.create_task(stall_meter(stop, worst))
    await asyncio.sleep(seconds)
    stop.set()
    await meter
    return round(worst[0], 2)


async def scrape_rounds(url: str, cap: int, data: Path) -> dict[str, Any]:
    config = parse_text(
        "services:\n  - name: s\n    url: http://127.0.0.1:1/health\n"
        f"    metrics: {{url: '{url}', interval: 10s, max_series: {cap}}}\n"
        f"scrape: {{max_series: {cap}}}\n"
    )
    store = Store(config)
    history = SqliteSeries(data / "history.db", config.retention.metrics)
    await asyncio.to_thread(history.open)
    intake = StoreIntake(store, history=history)
    source = ScrapeSource(config.services[0])
    from devmentor_monitor.aio import aiohttp

    walls, cpus, loop_cpus, stalls = [], [], [], []
    async with aiohttp.ClientSession() as session:
        for _ in range(ROUNDS):  # CPU and wall time, nothing else on the loop
            w, c, lc = time.perf_counter(), time.process_time(), time.thread_time()
            await source.scrape_once(session, intake)
            walls.append(time.perf_counter() - w)
            cpus.append(time.process_time() - c)
            loop_cpus.append(time.thread_time() - lc)
            await history.flush()
        for _ in range(ROUNDS):  # stalls, with the ticker running
            stop, worst = asyncio.Event(), [0.0]
            meter = asyncio.create_task(stall_meter(stop, worst))
            await asyncio.sleep(0.01)
            await source.scrape_once(session, intake)
            await asyncio.sleep(0.01)
            stop.set()
            await meter
            stalls.append(worst[0])
    await history.flush()
    stored = len(await history.names("scrape:s:"))
    await history.close()
    status = store.source("scrape:s")
    return {
        "series_kept": stored,
        "state": status.describe(time.time()) if status else None,
        "wall_s_median": round(sorted(walls)[len(walls) // 2], 4),
        "cpu_s_median": round(sorted(cpus)[len(cpus) // 2], 4),
        "loop_thread_cpu_ms_median": round(1000 * sorted(loop_cpus)[len(loop_cpus) // 2], 2),
        "loop_worst_stall_ms_median": round(sorted(stalls)[len(stalls) // 2], 2),
        "loop_worst_stall_ms_max": round(max(stalls), 2),
    }


def main() -> int:
    out: dict[str, Any] = {"host": host_info()}
    out["idle_loop_worst_stall_ms_over_3s"] = asyncio.run(idle_stall(3.0))
    with tempfile.TemporaryDirectory() as tmp, Children() as kids:
        exporter = shutil.which("prometheus-node-exporter")
        if exporter:
            port = free_port()
            url = f"http://127.0.0.1:{port}/metrics"
            proc = kids.start(
                "node-exporter",
                [exporter, f"--web.listen-address=127.0.0.1:{port}", "--no-collector.systemd"],
            )
            wait_http(url, proc, kids)
            (Path(tmp) / "ne").mkdir()
            out["node_exporter"] = asyncio.run(scrape_rounds(url, 5000, Path(tmp) / "ne"))
        else:
            out["node_exporter"] = "skipped: prometheus-node-exporter not installed"
        # Synthetic pages served by a separate process (python -m http.server), so the
        # server's own work is not on the measured loop.
        pages = Path(tmp) / "pages"
        pages.mkdir()
        for n in SIZES:
            (pages / f"m{n}").write_text(synthetic_page(n))
        port = free_port()
        proc = kids.start(
            "pages",
            [
                sys.executable,
                "-m",
                "http.server",
                str(port),
                "--bind",
                "127.0.0.1",
                "--directory",
                str(pages),
            ],
        )
        wait_http(f"http://127.0.0.1:{port}/m{SIZES[0]}", proc, kids)
        for n in SIZES:
            (Path(tmp) / f"d{n}").mkdir()
            out[f"synthetic_{n}_series"] = asyncio.run(
                scrape_rounds(f"http://127.0.0.1:{port}/m{n}", n, Path(tmp) / f"d{n}")
            )
    default = out[f"synthetic_{DEFAULT_CAP}_series"]
    out["targets"] = {
        f"loop_thread_cpu_ms_at_{DEFAULT_CAP}_series": LOOP_CPU_TARGET_MS,
        f"wall_s_at_{DEFAULT_CAP}_series": WALL_TARGET_S,
    }
    out["met"] = {
        "loop_thread_cpu": default["loop_thread_cpu_ms_median"] <= LOOP_CPU_TARGET_MS,
        "wall": default["wall_s_median"] <= WALL_TARGET_S,
    }
    out["command"] = f"{Path(sys.executable).name} bench/scrape.py"
    emit(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
