"""Plain types for what runs the services: containers, pods, deployments, nodes.

Sources fill them from the Docker and Kubernetes APIs; the store keeps the latest of
each (bounded by what the engine or cluster holds) and a short ring of their events.
No I/O and no SDK types here, so every view can read them without importing an SDK.
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec.structs import asdict


class ContainerInfo(msgspec.Struct, frozen=True):
    """One container as the engine reports it, plus rates derived between two polls."""

    id: str
    name: str
    image: str
    state: str  # created, running, paused, restarting, exited, dead
    status: str  # the engine's own words, e.g. "Up 5 minutes", "Exited (137) 2 s ago"
    health: str | None = None  # healthy, unhealthy, starting; None without a healthcheck
    restart_count: int = 0
    exit_code: int | None = None
    oom_killed: bool = False
    started_at: float | None = None  # Unix time of the last start
    created: float | None = None
    ports: tuple[str, ...] = ()  # "0.0.0.0:8080->80/tcp"
    labels: tuple[tuple[str, str], ...] = ()
    service: str | None = None  # the DevMentor service it is bound to (auto-discovery)
    cpu_ratio: float | None = None  # share of one core; None until two samples exist
    memory_bytes: int | None = None
    memory_limit: int | None = None
    net_rx_bytes: int | None = None
    net_tx_bytes: int | None = None
    block_read_bytes: int | None = None
    block_write_bytes: int | None = None

    @property
    def running(self) -> bool:
        return self.state == "running"

    def uptime(self, now: float) -> float | None:
        return now - self.started_at if self.running and self.started_at else None

    def to_json(self, now: float) -> dict[str, Any]:
        out = asdict(self)
        out["labels"] = dict(self.labels)
        out["ports"] = list(self.ports)
        out["uptime_s"] = None if (u := self.uptime(now)) is None else round(u, 1)
        out["cpu_percent"] = None if self.cpu_ratio is None else round(self.cpu_ratio * 100, 1)
        return out


class PodInfo(msgspec.Struct, frozen=True):
    name: str
    namespace: str
    phase: str  # Pending, Running, Succeeded, Failed, Unknown
    ready: bool
    ready_containers: int
    containers: int
    restarts: int
    node: str | None
    created: float | None
    last_termination: str | None = None  # e.g. "OOMKilled (exit 137)"
    waiting: str | None = None  # why a container waits: CrashLoopBackOff, ImagePullBackOff
    labels: tuple[tuple[str, str], ...] = ()
    owner: str | None = None  # the deployment behind it, when known
    service: str | None = None

    def to_json(self, now: float) -> dict[str, Any]:
        out = asdict(self)
        out["labels"] = dict(self.labels)
        out["age_s"] = None if self.created is None else round(now - self.created, 1)
        return out


class DeploymentInfo(msgspec.Struct, frozen=True):
    name: str
    namespace: str
    desired: int
    ready: int
    updated: int
    available: int
    labels: tuple[tuple[str, str], ...] = ()
    selector: tuple[tuple[str, str], ...] = ()
    service: str | None = None

    def to_json(self, now: float) -> dict[str, Any]:
        out = asdict(self)
        out["labels"] = dict(self.labels)
        out["selector"] = dict(self.selector)
        return out


class NodeInfo(msgspec.Struct, frozen=True):
    name: str
    ready: bool
    pressure: tuple[str, ...]  # MemoryPressure, DiskPressure, PIDPressure that are True
    allocatable: tuple[tuple[str, str], ...] = ()  # cpu, memory, pods as the API writes them

    def to_json(self, now: float) -> dict[str, Any]:
        out = asdict(self)
        out["pressure"] = list(self.pressure)
        out["allocatable"] = dict(self.allocatable)
        return out


class WorkloadEvent(msgspec.Struct, frozen=True):
    """A container or cluster event, as handed to the intake (observations.py).

    source: "docker" or "kubernetes"; kind: start, die, oom, health_status (Docker) or the
    Kubernetes event's reason (BackOff, FailedScheduling, ...); subject: container name,
    or "Pod/name"; service: the bound DevMentor service, when known.
    """

    ts: float
    source: str
    kind: str
    subject: str
    message: str = ""
    service: str | None = None
    warning: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
