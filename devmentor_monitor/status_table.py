"""The `status` command's table (rich); imported only by that command."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from devmentor_monitor.model import Health, SystemSample
from devmentor_monitor.store import Store
from devmentor_monitor.units import format_bytes, format_percent

STYLE = {
    Health.UP: "green",
    Health.DEGRADED: "yellow",
    Health.DOWN: "bold red",
    Health.UNKNOWN: "dim",
}


def print_status(store: Store, sample: SystemSample, console: Console | None = None) -> None:
    console = console or Console()
    table = Table(title="services", title_justify="left")
    for col in ("service", "status", "latency", "HTTP", "detail"):
        table.add_column(col, justify="right" if col in ("latency", "HTTP") else "left")
    for s in store.services():
        last = s.last
        table.add_row(
            s.name,
            f"[{STYLE[s.status]}]{s.status.value.upper()}[/]",
            f"{s.latency * 1000:.0f} ms" if s.latency is not None else "-",
            str(last.status_code) if last and last.status_code else "-",
            (last.error or "") if last else "",
        )
    console.print(table)
    host = Table(title="host", title_justify="left", show_header=False)
    host.add_column("what")
    host.add_column("value")
    host.add_row(
        "cpu",
        f"{format_percent(sample.cpu_percent, 1)} of {len(sample.cpu_per_core)} cores, "
        f"load {sample.load[0]:.2f}",
    )
    host.add_row(
        "memory",
        f"{format_bytes(sample.mem_used)} of {format_bytes(sample.mem_total)}"
        f" ({format_percent(sample.mem_percent, 0)})",
    )
    for d in sample.disks:
        host.add_row(
            f"disk {d.mount}",
            f"{format_bytes(d.used)} of {format_bytes(d.total)} ({format_percent(d.percent, 0)})",
        )
    host.add_row("processes", str(sample.process_count))
    console.print(host)
    counts = store.counts()
    console.print(
        f"{counts['up'] + counts['degraded']} up, {counts['down']} down "
        f"of {len(store.service_names())} services"
    )
