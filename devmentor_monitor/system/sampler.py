"""Host metrics from psutil: cheap every tick, with the process scan on its own slower clock."""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from typing import Any

import psutil

from devmentor_monitor.model import DiskUsage, ProcInfo, SystemSample
from devmentor_monitor.observations import Intake
from devmentor_monitor.sources.base import every, in_thread, status
from devmentor_monitor.system.netifs import NetReader, totals

log = logging.getLogger(__name__)

TOP_N = 5
FIRST_WINDOW = 0.15  # seconds the first sample's CPU and rates are measured over
PARTITIONS_EVERY = 60.0  # mounts rarely change; re-list them once a minute


class SystemReader:
    """Blocking reads of the host; one instance keeps the previous counters for rates."""

    def __init__(self, processes_interval: float, top_n: int = TOP_N) -> None:
        self.processes_interval = processes_interval
        self.top_n = top_n
        self._prev: tuple[float, int, int] | None = None  # disk I/O counters, for rates
        self._net = NetReader()
        self._mounts: list[str] = []
        self._mounts_at = 0.0
        self._top: tuple[tuple[ProcInfo, ...], tuple[ProcInfo, ...]] = ((), ())
        self._top_at: float | None = None
        self._procs: dict[int, psutil.Process] = {}
        # Our own previous CPU times, not psutil.cpu_percent's: that keeps one per thread,
        # and reads made from a thread pool would each compare with a different past
        # (or with nothing: 0.0 %, as `status` always showed).
        self._cpu_prev = psutil.cpu_times(percpu=True)

    def prime(self) -> None:
        """A read whose figures are thrown away: the next read's CPU (host and per
        process) and I/O rates are differences from it, not from nothing."""
        self.read()
        self._top_at = None  # the next read scans the processes again, against this one

    def read(self) -> SystemSample:
        now = time.time()
        mono = time.monotonic()
        per_core = self._cpu_per_core()
        total = sum(per_core) / len(per_core) if per_core else 0.0
        vm = psutil.virtual_memory()
        sw = psutil.swap_memory()
        try:
            load = psutil.getloadavg()
        except (AttributeError, OSError):
            load = (0.0, 0.0, 0.0)
        dio = psutil.disk_io_counters()
        d_read, d_write = (dio.read_bytes, dio.write_bytes) if dio else (0, 0)
        rates: dict[str, float | None] = dict.fromkeys(("dr", "dw"))
        if self._prev is not None:
            dt = mono - self._prev[0]
            if dt > 0:
                for key, cur, old in zip(
                    ("dr", "dw"), (d_read, d_write), self._prev[1:], strict=True
                ):
                    rates[key] = max(0.0, (cur - old) / dt)  # counters can reset
        self._prev = (mono, d_read, d_write)
        ifaces = self._net.read(mono)
        net = totals(ifaces)  # loopback apart: mostly the monitor's own checks
        if self._top_at is None or now - self._top_at >= self.processes_interval:
            self._top = self._scan_processes()
            self._top_at = now
        return SystemSample(
            ts=now,
            cpu_percent=total,
            cpu_per_core=per_core,
            load=(load[0], load[1], load[2]),
            mem_total=vm.total,
            mem_used=vm.total - vm.available,
            mem_available=vm.available,
            mem_percent=vm.percent,
            swap_total=sw.total,
            swap_used=sw.used,
            swap_percent=sw.percent,
            disks=self._disks(now),
            disk_read_bytes=d_read,
            disk_write_bytes=d_write,
            net_rx_bytes=net.rx_bytes,
            net_tx_bytes=net.tx_bytes,
            disk_read_rate=rates["dr"],
            disk_write_rate=rates["dw"],
            net_rx_rate=net.rx_rate,
            net_tx_rate=net.tx_rate,
            process_count=len(psutil.pids()),
            top_cpu=self._top[0],
            top_mem=self._top[1],
            top_ts=self._top_at,
            net_interfaces=ifaces,
        )

    def _cpu_per_core(self) -> tuple[float, ...]:
        """Busy percent of each core since the previous read."""
        current = psutil.cpu_times(percpu=True)
        previous, self._cpu_prev = self._cpu_prev, current
        return tuple(busy_percent(old, new) for old, new in zip(previous, current, strict=False))

    def _disks(self, now: float) -> tuple[DiskUsage, ...]:
        if not self._mounts or now - self._mounts_at >= PARTITIONS_EVERY:
            seen: set[str] = set()
            mounts = []
            for part in psutil.disk_partitions(all=False):
                if part.mountpoint not in seen and not part.mountpoint.startswith("/snap"):
                    seen.add(part.mountpoint)
                    mounts.append(part.mountpoint)
            self._mounts, self._mounts_at = mounts or ["/"], now
        out = []
        for mount in self._mounts:
            try:
                du = psutil.disk_usage(mount)
            except OSError:
                continue
            out.append(DiskUsage(mount, du.total, du.used, du.percent))
        return tuple(out)

    def _scan_processes(self) -> tuple[tuple[ProcInfo, ...], tuple[ProcInfo, ...]]:
        """The one full process scan; cpu_percent needs the Process kept between scans."""
        infos: list[ProcInfo] = []
        alive: dict[int, psutil.Process] = {}
        for pid in psutil.pids():
            try:
                proc = self._procs.get(pid) or psutil.Process(pid)
                with proc.oneshot():
                    cpu = proc.cpu_percent(None)
                    infos.append(ProcInfo(pid, proc.name(), cpu, proc.memory_info().rss))
                alive[pid] = proc
            except (psutil.Error, OSError):
                continue
        self._procs = alive
        top_cpu = heapq.nlargest(self.top_n, infos, key=lambda p: p.cpu_percent)
        top_mem = heapq.nlargest(self.top_n, infos, key=lambda p: p.rss)
        return tuple(top_cpu), tuple(top_mem)


def busy_percent(old: Any, new: Any) -> float:
    """Share of the time between two psutil cpu_times readings not spent idle, as
    psutil computes it (guest time is already counted in user and nice)."""
    delta: dict[str, float] = {f: max(0.0, getattr(new, f) - getattr(old, f)) for f in new._fields}
    total = sum(delta.values()) - delta.get("guest", 0.0) - delta.get("guest_nice", 0.0)
    idle = delta.get("idle", 0.0) + delta.get("iowait", 0.0)
    if total <= 0:
        return 0.0
    return round(min(100.0, max(0.0, 100.0 * (total - idle) / total)), 1)


class SystemSource:
    """Polls the host every ``interval`` seconds in a worker thread."""

    name = "system"

    def __init__(self, interval: float, processes_interval: float) -> None:
        self.interval = interval
        self.processes_interval = processes_interval
        self._reader: SystemReader | None = None

    def _primed(self) -> SystemReader:
        reader = SystemReader(self.processes_interval)
        reader.prime()
        return reader

    async def run(self, intake: Intake) -> None:
        # The host pane's first sample comes FIRST_WINDOW after start, not an interval
        # later, and its CPU figures are real (a read just after another shows nothing).
        try:
            self._reader = await in_thread(self._primed, self.interval)
            await asyncio.sleep(FIRST_WINDOW)
        except Exception as exc:  # the first tick says so (and tries again)
            log.debug("system source: first read failed: %s", exc)

        async def tick() -> None:
            try:
                if self._reader is None:
                    self._reader = await in_thread(
                        lambda: SystemReader(self.processes_interval), self.interval
                    )
                sample = await in_thread(self._reader.read, self.interval)
            except TimeoutError:
                intake.observe(
                    status(
                        self.name,
                        False,
                        f"psutil took over {self.interval:g} s",
                        retry_at=time.time() + self.interval,
                    )
                )
                return
            except Exception as exc:  # psutil or OS failure: state, not a crash
                log.warning("system source failed: %s", exc)
                intake.observe(
                    status(
                        self.name,
                        False,
                        str(exc) or type(exc).__name__,
                        retry_at=time.time() + self.interval,
                    )
                )
                return
            intake.observe(sample)
            intake.observe(status(self.name, True, interval=self.interval))

        await every(self.interval, tick, (intake, self.name))
