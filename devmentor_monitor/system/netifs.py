"""Network counters per interface, loopback apart.

psutil's all-interface total counts loopback, and on a monitoring host most loopback
traffic is the monitor's own health checks on 127.0.0.1: a NET figure that includes it
mostly measures the monitor. The host's NET figure is the sum of the other interfaces;
each interface keeps its own counters and rates, loopback marked.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import msgspec

from devmentor_monitor.model import NetInterface

RELIST_EVERY = 60.0  # interface flags rarely change; read them again once a minute
_LOOPBACK_NAME = re.compile(r"lo\d*")  # Linux `lo`, BSD and macOS `lo0`
# A container's end of a veth pair (Docker/podman `veth*`, Calico `cali*`, Cilium `lxc*`,
# 15 hex digits for some CNIs): one per pod, gone with it. Exported per interface they
# would make the metric's label set grow without bound on a node; kube-prometheus-stack
# leaves the same names out of node_exporter's netdev collector.
_PER_CONTAINER = re.compile(r"(veth|cali|lxc).*|[a-f0-9]{15}")


def loopbacks(stats: Mapping[str, Any]) -> frozenset[str]:
    """The loopback interfaces among psutil.net_if_stats(): by their flags (psutil 5.9.3
    and later), by name where a platform gives no flags."""
    out = set()
    for name, st in stats.items():
        flags = getattr(st, "flags", None)
        if flags:
            if "loopback" in flags.split(","):
                out.add(name)
        elif _LOOPBACK_NAME.fullmatch(name):
            out.add(name)
    return frozenset(out)


def interfaces(
    counters: Mapping[str, Any],
    previous: Mapping[str, tuple[int, int]] | None,
    dt: float,
    loopback: frozenset[str],
) -> tuple[NetInterface, ...]:
    """Each interface of psutil.net_io_counters(pernic=True) with its rates since
    ``previous`` (name -> (rx, tx) ``dt`` seconds ago); a new interface has no rate yet."""
    out = []
    for name, c in counters.items():
        rx_rate = tx_rate = None
        old = previous.get(name) if previous is not None else None
        if old is not None and dt > 0:
            rx_rate = max(0.0, (c.bytes_recv - old[0]) / dt)  # counters can reset
            tx_rate = max(0.0, (c.bytes_sent - old[1]) / dt)
        out.append(
            NetInterface(name, c.bytes_recv, c.bytes_sent, rx_rate, tx_rate, name in loopback)
        )
    return tuple(out)


def per_container(name: str) -> bool:
    """An interface that comes and goes with a container (left out of the per-interface
    metric; still in the NET total)."""
    return _PER_CONTAINER.fullmatch(name) is not None


class NetTotals(msgspec.Struct, frozen=True):
    """Every interface but loopback: cumulative bytes and rates (None: no rate known)."""

    rx_bytes: int
    tx_bytes: int
    rx_rate: float | None
    tx_rate: float | None


def totals(ifaces: tuple[NetInterface, ...]) -> NetTotals:
    """The host's NET figure: the sum over the interfaces that are not loopback."""
    real = [i for i in ifaces if not i.loopback]
    known = [i for i in real if i.rx_rate is not None]
    return NetTotals(
        sum(i.rx_bytes for i in real),
        sum(i.tx_bytes for i in real),
        sum(i.rx_rate or 0.0 for i in known) if known else None,
        sum(i.tx_rate or 0.0 for i in known) if known else None,
    )


def busiest(ifaces: tuple[NetInterface, ...], count: int) -> list[NetInterface]:
    """The ``count`` non-loopback interfaces with the most traffic now (idle ones left
    out), busiest first."""
    moving = [i for i in ifaces if not i.loopback and (i.rx_rate or 0) + (i.tx_rate or 0) > 0]
    moving.sort(key=lambda i: (-((i.rx_rate or 0) + (i.tx_rate or 0)), i.name))
    return moving[:count]


class NetReader:
    """Blocking reads (in the system source's thread): the per-interface counters, with
    the previous reading kept for rates and the loopback names re-listed once a minute
    (or when an interface appears)."""

    def __init__(self) -> None:
        self._prev: tuple[float, dict[str, tuple[int, int]]] | None = None
        self._loopback: frozenset[str] = frozenset()
        self._known: frozenset[str] = frozenset()
        self._listed_at: float | None = None

    def read(self, mono: float) -> tuple[NetInterface, ...]:
        # Imported here, not with the module: the TUI imports this module (`busiest`)
        # before its first frame, and psutil's import was ~13 ms of CPU ahead of it.
        import psutil

        counters = psutil.net_io_counters(pernic=True) or {}
        names = frozenset(counters)
        if (
            self._listed_at is None
            or mono - self._listed_at >= RELIST_EVERY
            or names - (self._known)
        ):
            stats = psutil.net_if_stats()
            unlisted = {n for n in names if n not in stats and _LOOPBACK_NAME.fullmatch(n)}
            self._loopback = loopbacks(stats) | unlisted
            self._known = names
            self._listed_at = mono
        prev = self._prev
        dt = mono - prev[0] if prev is not None else 0.0
        out = interfaces(counters, prev[1] if prev is not None else None, dt, self._loopback)
        self._prev = (mono, {i.name: (i.rx_bytes, i.tx_bytes) for i in out})
        return out
