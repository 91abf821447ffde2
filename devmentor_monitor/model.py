"""Plain domain types shared by sources, the store and every view. No I/O here.

The frozen records are msgspec Structs, not frozen slotted dataclasses: a dataclass's
methods are generated as source and compiled when its class is made, ~1-1.5 ms of CPU
each, and these seven are made before `ultra`'s first frame (~10 ms; a Struct's class is
made in C in ~0.02 ms). They compare, hash and refuse writes as the dataclasses did; a
change is `msgspec.structs.replace`.

Incident types live in `incidents/model.py`."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import msgspec


class Health(StrEnum):
    """A service's state after failure/success thresholds are applied."""

    UNKNOWN = "unknown"  # no check has completed yet
    UP = "up"
    DEGRADED = "degraded"  # up, but slower than its SLO response time
    DOWN = "down"


class SourceState(StrEnum):
    STARTING = "starting"
    OK = "ok"
    UNAVAILABLE = "unavailable"
    NOT_CONFIGURED = "not configured"


class CheckResult(msgspec.Struct, frozen=True):
    """One health request and what it showed."""

    service: str
    ts: float  # wall-clock seconds
    ok: bool
    latency: float | None  # seconds; None when no response came back
    status_code: int | None = None
    error: str | None = None  # short reason, e.g. "timeout after 2s", "connection refused"
    cert_days: float | None = None  # days until the TLS certificate expires


class DiskUsage(msgspec.Struct, frozen=True):
    mount: str
    total: int
    used: int
    percent: float


class ProcInfo(msgspec.Struct, frozen=True):
    pid: int
    name: str
    cpu_percent: float
    rss: int


class NetInterface(msgspec.Struct, frozen=True):
    """One network interface's counters and rates; loopback is kept apart from the host's
    NET figure (most of it is the monitor's own checks on 127.0.0.1)."""

    name: str
    rx_bytes: int  # cumulative, as the kernel reports them
    tx_bytes: int
    rx_rate: float | None = None  # bytes/s since the previous reading; None on the first
    tx_rate: float | None = None
    loopback: bool = False


class SystemSample(msgspec.Struct, frozen=True):
    """One reading of the host. Rates are per second since the previous reading."""

    ts: float
    cpu_percent: float
    cpu_per_core: tuple[float, ...]
    load: tuple[float, float, float]
    mem_total: int
    mem_used: int
    mem_available: int
    mem_percent: float
    swap_total: int
    swap_used: int
    swap_percent: float
    disks: tuple[DiskUsage, ...]
    disk_read_bytes: int  # cumulative counters, as the kernel reports them
    disk_write_bytes: int
    net_rx_bytes: int  # every interface but loopback (net_interfaces has them one by one)
    net_tx_bytes: int
    disk_read_rate: float | None = None  # bytes/s; None on the first reading
    disk_write_rate: float | None = None
    net_rx_rate: float | None = None
    net_tx_rate: float | None = None
    process_count: int = 0
    top_cpu: tuple[ProcInfo, ...] = ()
    top_mem: tuple[ProcInfo, ...] = ()
    top_ts: float | None = None  # when the process scan behind top_* ran
    net_interfaces: tuple[NetInterface, ...] = ()  # loopback included, marked


@dataclass(slots=True)
class SourceStatus:
    """What a source is doing, shown to the user verbatim ("docker: unavailable: no socket")."""

    name: str
    state: SourceState = SourceState.STARTING
    reason: str = ""
    last_ok: float | None = None
    retry_at: float | None = None
    detail: dict[str, object] = field(default_factory=dict)

    def describe(self, now: float) -> str:
        text = f"{self.name}: {self.state.value}"
        if self.reason:
            text += f": {self.reason}"
        if self.retry_at is not None and self.retry_at > now:
            text += f", retry in {self.retry_at - now:.0f} s"
        return text


class AuditEntry(msgspec.Struct, frozen=True):
    """Every write: who, what, when, from where, and how it ended."""

    ts: float
    actor: str
    action: str
    target: str
    source: str  # remote address, "tui", or "monitor"
    outcome: str  # ok, denied, failed: reason
    count: int = 1  # attempts the row stands for (refusals of a minute: server/auth.py)
    id: int = 0  # its place in the hash chain (storage/audit_chain.py); 0 before it is written
    hash: str = ""


class NotificationRecord(msgspec.Struct, frozen=True):
    """One notification of an incident, as the outbox keeps it (the notifications table):
    where, what kind (open, escalation, acknowledged, resolved), how it stands."""

    channel: str
    kind: str
    state: str  # pending, sent or failed
    created_at: float
    sent_at: float | None
    attempts: int
    last_error: str | None
