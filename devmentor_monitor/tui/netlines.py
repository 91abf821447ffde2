"""The host pane's lines per network interface, under its NET line (which is every
interface but loopback): the busiest few, then loopback on its own, labelled, since most
of it is the monitor's own checks on 127.0.0.1."""

from __future__ import annotations

from rich.text import Text

from devmentor_monitor.model import SystemSample
from devmentor_monitor.system.netifs import busiest
from devmentor_monitor.tui.render import ellipsize
from devmentor_monitor.units import format_rate

SHOWN = 3  # the busiest interfaces listed; the pane drops these lines first when short
PREFIX = " ↳ "  # what the pane's fit_lines drops them by


def interface_lines(sample: SystemSample, dim: str = "dim") -> list[Text]:
    """``↳ eth0  rx 1.2 MiB/s tx 80.0 KiB/s`` per busy interface, then loopback."""
    lines = []
    name_w = max([4, *(min(10, len(i.name)) for i in sample.net_interfaces)])
    shown = busiest(sample.net_interfaces, SHOWN)
    shown += [i for i in sample.net_interfaces if i.loopback]
    for nic in shown:
        line = Text(f"{PREFIX}{ellipsize(nic.name, 10):<{name_w}} ")
        line.append(f"rx {format_rate(nic.rx_rate)} tx {format_rate(nic.tx_rate)}")
        if nic.loopback:
            line.append("  loopback, not in NET", style=dim)
        lines.append(line)
    return lines
