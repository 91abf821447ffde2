"""Frozen data for the TUI tests: a runtime that is never started, its store filled by hand.

Every timestamp, value, process and the clock are fixed, so screens render the same way on
every run (snapshots depend on it). The runtime's own intake fills the store, so the TUI
reads exactly what it would read from live sources. The runtime is there for the commands
and queries the app gets (and its own source statuses), never started.
"""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console

from devmentor_monitor.config.schema import Config
from devmentor_monitor.intake import StoreIntake
from devmentor_monitor.model import (
    CheckResult,
    DiskUsage,
    ProcInfo,
    SourceState,
    SourceStatus,
    SystemSample,
)
from devmentor_monitor.runtime import Monitor
from devmentor_monitor.store import Store

# 2023-11-14 22:13:20 UTC. With TZ=UTC (the `utc` fixture) the header clock shows 22:13:20.
T = 1_700_000_000.0
HOSTNAME = "demo-host"

CONFIG_TEXT = """
services:
  - name: auth
    url: http://127.0.0.1:3002/health
    slo: {uptime: 99.9, response_time: 200ms, error_rate: 0.1}
  - name: memory
    url: http://127.0.0.1:3003/health
    depends_on: [auth]
    slo: {uptime: 99.5, response_time: 100ms, error_rate: 0.5}
  - name: ai-gateway
    url: http://127.0.0.1:3004/health
    depends_on: [auth, memory]
    slo: {uptime: 99.0, response_time: 2000ms, error_rate: 1.0}
  - name: project
    url: http://127.0.0.1:3005/health
    depends_on: [auth]
    slo: {uptime: 99.5, response_time: 500ms, error_rate: 0.5}
  - name: monitoring
    url: http://127.0.0.1:3006/health
"""

# Steady latencies (seconds) per service; ai-gateway is slower than its 2 s SLO: SLOW.
LATENCY = {"auth": 0.012, "memory": 0.008, "ai-gateway": 2.4, "project": 0.031, "monitoring": 0.003}
DOWN_REASON = "connection refused"
GiB = 1024**3

TOP_CPU = (
    ProcInfo(101, "postgres", 23.0, 812 * 1024**2),
    ProcInfo(202, "node", 11.0, 420 * 1024**2),
    ProcInfo(303, "python3", 4.0, 96 * 1024**2),
)
TOP_MEM = (
    ProcInfo(101, "postgres", 23.0, 812 * 1024**2),
    ProcInfo(202, "node", 11.0, 420 * 1024**2),
    ProcInfo(404, "redis-server", 1.0, 210 * 1024**2),
)


def system_sample(ts: float, cpu: float) -> SystemSample:
    return SystemSample(
        ts=ts,
        cpu_percent=cpu,
        cpu_per_core=(cpu + 10, cpu - 10, cpu + 5, cpu - 5),
        load=(1.25, 0.98, 0.75),
        mem_total=16 * GiB,
        mem_used=9 * GiB,
        mem_available=7 * GiB,
        mem_percent=56.25,
        swap_total=2 * GiB,
        swap_used=GiB // 8,
        swap_percent=6.25,
        disks=(
            DiskUsage("/", 100 * GiB, 62 * GiB, 62.0),
            DiskUsage("/var/lib/docker", 200 * GiB, 180 * GiB, 90.0),
        ),
        disk_read_bytes=10_000_000,
        disk_write_bytes=20_000_000,
        net_rx_bytes=30_000_000,
        net_tx_bytes=40_000_000,
        disk_read_rate=12_288.0,
        disk_write_rate=65_536.0,
        net_rx_rate=131_072.0,
        net_tx_rate=24_576.0,
        process_count=231,
        top_cpu=TOP_CPU,
        top_mem=TOP_MEM,
        top_ts=ts,
    )


def fill(store: Store, intake: StoreIntake, now: float = T) -> None:
    """10 minutes of fixed history ending at ``now``, handed to ``intake`` (which writes
    ``store``) as live sources would hand it."""
    store.started = now - 3725  # the header says "up 1h2m"
    for i in range(20):  # a check every 30 s for the last 10 minutes
        ts = now - 604 + 30 * (i + 1)  # the last one 4 s ago
        wobble = 1.0 + 0.1 * ((i * 7) % 5 - 2)  # deterministic, so the trend is not flat
        for name, latency in LATENCY.items():
            if name == "memory" and i >= 17:  # the last three checks failed: DOWN
                intake.observe(CheckResult(name, ts, ok=False, latency=None, error=DOWN_REASON))
            else:
                intake.observe(
                    CheckResult(name, ts, ok=True, latency=latency * wobble, status_code=200)
                )
    for i in range(60):  # a host sample every 10 s
        intake.observe(system_sample(now - 602 + 10 * (i + 1), 30.0 + (i * 13) % 20))
    for name in ("system", "health"):
        intake.observe(SourceStatus(name, SourceState.OK, last_ok=now))
    intake.observe(SourceStatus("exporter", SourceState.NOT_CONFIGURED, "--no-serve"))


def frozen_monitor(config: Config, now: float = T) -> Monitor:
    """A runtime (never started) holding the frozen history; tests add more data through
    its intake (``monitor.intake.observe``), as live sources would."""
    monitor = Monitor(config, serve=False, clock=lambda: now)
    fill(monitor.store, monitor.intake, now)
    return monitor


def views_of(monitor: Monitor) -> dict[str, Any]:
    """What the app is given: the monitor's store, commands and queries, never itself."""
    return {"store": monitor.store, "commands": monitor.commands, "queries": monitor.queries}


def render_text(app: Any) -> str:
    """The screen as plain text, exactly as the compositor would paint it."""
    width, height = app.size
    console = Console(
        width=width,
        height=height,
        file=io.StringIO(),
        force_terminal=True,
        color_system="truecolor",
        record=True,
        legacy_windows=False,
        safe_box=False,
    )
    console.print(
        app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    )
    return console.export_text()


async def settle(pilot: Any, *, force: bool = True) -> None:
    """Let pending messages run, run one redraw tick (forced: every pane), let it paint."""
    await pilot.pause()
    pilot.app.tick(force=force)
    await pilot.pause()
