"""Docker source: containers, their resource use, events, logs and actions.

The docker SDK is imported here, on first connect, and only when `docker:` is
configured (the runtime never builds this source otherwise). Every SDK call runs in a
thread with a timeout (rule 3); an absent engine is a visible, explained state that
retries with backoff and logs only when the reason changes (rule 4).

CPU is container CPU time over wall-clock time between two polls: right on Docker and
on podman (whose system CPU counter leaves out idle time, so the usual formula lies).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import re
import time
from collections import deque
from datetime import datetime
from typing import Any

from devmentor_monitor.backoff import Backoff
from devmentor_monitor.config.schema import DockerSettings
from devmentor_monitor.masking import mask_lines
from devmentor_monitor.observations import ContainersListed, Intake
from devmentor_monitor.sources.base import in_thread, status, timed
from devmentor_monitor.workloads.kube_source import check_cancelled
from devmentor_monitor.workloads.model import ContainerInfo, WorkloadEvent

SERVICE_LABEL = "devmentor.service"
EVENT_KINDS = ("start", "die", "oom", "health_status")
ACTIONS = ("start", "stop", "restart")
BACKOFF = (1.0, 60.0)  # first retry after 1 s, doubling to a minute
REINSPECT_EVERY = 12  # polls between inspects of an unchanged container (restart counts)
STOP_TIMEOUT = 10  # seconds a stop/restart waits before SIGKILL
# The events query's `until`, this far ahead. podman 4.3 needs ~50 ms to read its event
# log and answers an empty list, not an error, if `until` passes first: at 20 ms every
# poll came back empty and die events were never seen. The wait is in the poll's thread.
EVENTS_AHEAD = 0.25  # seconds
EVENTS_LOOKBACK = 5.0  # seconds


class DockerError(Exception):
    """An action or log request the engine refused or could not answer; str is for users."""


def default_host() -> str:
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def explain(exc: BaseException, host: str, timeout: float) -> str:
    """One stable sentence for an unavailable engine (stable: no log spam on retries)."""
    chain: list[BaseException] = []
    e: BaseException | None = exc
    while e is not None and len(chain) < 10:
        chain.append(e)
        e = e.__cause__ or e.__context__
    text = " ".join(str(x) for x in chain)
    path = host.removeprefix("unix://")
    if (
        isinstance(exc, TimeoutError)
        or "timed out" in text.lower()
        or "timeout" in type(exc).__name__.lower()
    ):
        return f"API timeout after {timeout:g} s ({host})"
    if any(isinstance(x, PermissionError) for x in chain) or "Permission denied" in text:
        return f"permission denied on {path}"
    if any(isinstance(x, FileNotFoundError) for x in chain) or "No such file" in text:
        return f"no socket at {path}"
    if any(isinstance(x, ConnectionRefusedError) for x in chain) or "refused" in text:
        return f"connection refused at {host}"
    explanation = getattr(exc, "explanation", None)
    if explanation:
        return str(explanation)[:160]
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return first[:160]


_RFC3339 = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?$")


def parse_time(raw: str | None) -> float | None:
    """Docker's RFC 3339 with nanoseconds; the zero time means never."""
    m = _RFC3339.match(raw or "")
    if m is None or raw is None or raw.startswith("0001-"):
        return None
    head, frac, tz = m.groups()
    zone = "+00:00" if tz in (None, "Z") else tz
    return datetime.fromisoformat(f"{head}.{(frac or '0')[:6].ljust(6, '0')}{zone}").timestamp()


def _ports(raw: list[dict[str, Any]] | None) -> tuple[str, ...]:
    out = []
    for p in raw or []:
        private = f"{p.get('PrivatePort')}/{p.get('Type', 'tcp')}"
        out.append(
            f"{p.get('IP') or '0.0.0.0'}:{p['PublicPort']}->{private}"
            if p.get("PublicPort")
            else private
        )
    return tuple(out)


def _io(stats: dict[str, Any]) -> tuple[int | None, int | None, int | None, int | None]:
    nets = stats.get("networks") or {}
    rx = sum(n.get("rx_bytes", 0) for n in nets.values()) if nets else None
    tx = sum(n.get("tx_bytes", 0) for n in nets.values()) if nets else None
    blk = (stats.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []
    read = sum(b.get("value", 0) for b in blk if str(b.get("op", "")).lower() == "read")
    write = sum(b.get("value", 0) for b in blk if str(b.get("op", "")).lower() == "write")
    return rx, tx, read, write


def _memory(stats: dict[str, Any]) -> tuple[int | None, int | None]:
    mem = stats.get("memory_stats") or {}
    usage = mem.get("usage")
    if usage is None:
        return None, None
    detail = mem.get("stats") or {}
    cache = detail.get("inactive_file", detail.get("total_inactive_file", detail.get("cache", 0)))
    return max(0, usage - (cache or 0)), mem.get("limit")


class DockerSource:
    """Polls the engine every `interval`; events are read in the same poll (since/until)."""

    name = "docker"

    def __init__(
        self, settings: DockerSettings, services: tuple[str, ...], auto_discover: bool
    ) -> None:
        self.settings = settings
        self.host = settings.host or default_host()
        self.services = set(services)
        self.by_name = {container: service for service, container in settings.containers}
        self.auto_discover = auto_discover
        self._client: Any = None
        self._docker: Any = None
        self._cpu: dict[str, tuple[float, int]] = {}  # id -> (monotonic, CPU ns)
        self._inspect: dict[str, tuple[str, int, dict[str, Any]]] = {}  # id -> (state, age, data)
        self._dirty: set[str] = set()
        self._events_since: float | None = None
        self._seen: deque[tuple[int, str, str]] = deque(maxlen=4096)
        self._wake = asyncio.Event()
        self.engine = ""
        self.polls = 0
        self.last_poll_s = 0.0

    # ------------------------------------------------------------------ the loop
    async def run(self, intake: Intake) -> None:
        backoff = Backoff(*BACKOFF)
        timeout = self.settings.timeout
        while True:
            try:
                if self._client is None:
                    await self._connect()
                started = time.monotonic()
                with timed(intake, self.name, self.settings.interval):
                    items, events = await in_thread(self.collect, timeout * 3)
                self.last_poll_s = time.monotonic() - started
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                check_cancelled()
                self._drop_client()
                retry = backoff.next()
                intake.observe(
                    status(
                        self.name,
                        False,
                        explain(exc, self.host, timeout),
                        retry_at=time.time() + retry,
                    )
                )
                await self._sleep(retry)
                continue
            check_cancelled()
            backoff.reset()
            for ev in events:
                intake.observe(ev)
            intake.observe(ContainersListed(items))
            intake.observe(
                status(
                    self.name,
                    True,
                    self.engine,
                    containers=len(items),
                    running=sum(c.running for c in items),
                )
            )
            await self._sleep(self.settings.interval)

    async def _sleep(self, seconds: float) -> None:
        """Sleep until the next poll, or until an action asks for one now."""
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()

    def poll_soon(self) -> None:
        self._wake.set()

    async def _connect(self) -> None:
        if self._docker is None:  # lazily, and off the loop: only a configured source pays
            self._docker = await in_thread(lambda: importlib.import_module("docker"), 60)
        timeout = self.settings.timeout

        def connect() -> tuple[Any, str]:
            client = self._docker.DockerClient(base_url=self.host, timeout=int(max(1, timeout)))
            try:
                v = client.version()
            except Exception:
                client.close()
                raise
            return (
                client,
                f"{v.get('Platform', {}).get('Name') or 'engine'} "
                f"{v.get('Version', '?')} (API {v.get('ApiVersion', '?')})",
            )

        self._client, self.engine = await in_thread(connect, timeout * 2)
        if self._events_since is None:
            self._events_since = time.time()

    def _drop_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()

    # ------------------------------------------------------------------ one poll (thread)
    def collect(self) -> tuple[list[ContainerInfo], list[WorkloadEvent]]:
        """Events since the last poll, then every container with stats: blocking."""
        api = self._client.api
        events = self._events(api)
        listed = api.containers(all=True)
        now_m = time.monotonic()
        items: list[ContainerInfo] = []
        alive = set()
        for c in listed:
            cid = c["Id"]
            alive.add(cid)
            items.append(self._container(api, c, now_m))
        for gone in set(self._cpu) - alive:
            self._cpu.pop(gone, None)
        for gone in set(self._inspect) - alive:
            self._inspect.pop(gone, None)
        self.polls += 1
        return items, events

    def _events(self, api: Any) -> list[WorkloadEvent]:
        # `until` a moment ahead (EVENTS_AHEAD): podman answers nothing for an `until` it
        # reaches before reading its log, and both engines return once it passes.
        until = time.time() + EVENTS_AHEAD
        # Windows overlap by EVENTS_LOOKBACK: an engine may write an event after a query
        # that covered its timestamp; the seen-set drops the repeats.
        since = (self._events_since if self._events_since is not None else until) - EVENTS_LOOKBACK
        out = []
        for e in api.events(
            since=f"{since:.6f}", until=f"{until:.6f}", decode=True, filters={"type": "container"}
        ):
            action = str(e.get("Action") or e.get("status") or "")
            kind = action.split(":", 1)[0]
            key = (int(e.get("timeNano") or e.get("time", 0)), str(e.get("id")), action)
            if key in self._seen:
                continue
            self._seen.append(key)
            cid = str(e.get("id") or (e.get("Actor") or {}).get("ID") or "")
            self._dirty.add(cid)
            if kind not in EVENT_KINDS:
                continue
            attrs = (e.get("Actor") or {}).get("Attributes") or {}
            name = attrs.get("name") or cid[:12]
            message = action
            if kind == "die":
                message = f"die (exit {attrs.get('exitCode', '?')})"
            elif kind == "health_status":
                message = (
                    action if ":" in action else f"health_status: {attrs.get('health_status', '?')}"
                )
            out.append(
                WorkloadEvent(
                    ts=key[0] / 1e9 if key[0] > 1e12 else float(key[0]),
                    source="docker",
                    kind=kind,
                    subject=name,
                    message=message,
                    service=self._bind(name, attrs),
                    warning=kind in ("die", "oom") or "unhealthy" in action,
                )
            )
        self._events_since = until
        return out

    def _bind(self, name: str, labels: dict[str, str]) -> str | None:
        """Auto-discovery: a configured container name always binds; the label binds when
        AUTO_DISCOVER is on."""
        if name in self.by_name:
            return self.by_name[name]
        service = labels.get(SERVICE_LABEL)
        if self.auto_discover and service in self.services:
            return service
        return None

    def _container(self, api: Any, c: dict[str, Any], now_m: float) -> ContainerInfo:
        cid = c["Id"]
        state = c.get("State") or "unknown"
        if isinstance(state, dict):  # very old engines
            state = state.get("Status", "unknown")
        cached = self._inspect.get(cid)
        if (
            cached is None
            or cached[0] != state
            or cached[1] >= REINSPECT_EVERY
            or cid in self._dirty
        ):
            data = api.inspect_container(cid)
            self._dirty.discard(cid)
            self._inspect[cid] = (state, 0, data)
        else:
            data = cached[2]
            self._inspect[cid] = (state, cached[1] + 1, data)
        st = data.get("State") or {}
        health = ((st.get("Health") or {}).get("Status")) or None
        name = (c.get("Names") or [data.get("Name", cid[:12])])[0].lstrip("/")
        labels = c.get("Labels") or {}
        cpu = mem = limit = rx = tx = rd = wr = None
        if state == "running":
            stats = api.stats(cid, stream=False, one_shot=True)
            now_m = time.monotonic()
            total = ((stats.get("cpu_stats") or {}).get("cpu_usage") or {}).get("total_usage")
            if total is not None:
                prev = self._cpu.get(cid)
                if prev is not None and now_m > prev[0] and total >= prev[1]:
                    cpu = (total - prev[1]) / 1e9 / (now_m - prev[0])
                self._cpu[cid] = (now_m, total)
            mem, limit = _memory(stats)
            rx, tx, rd, wr = _io(stats)
        else:
            self._cpu.pop(cid, None)
        return ContainerInfo(
            id=cid,
            name=name,
            image=c.get("Image") or "",
            state=state,
            status=c.get("Status") or state,
            health=health,
            restart_count=int(data.get("RestartCount") or 0),
            exit_code=st.get("ExitCode") if state != "running" else None,
            oom_killed=bool(st.get("OOMKilled")),
            started_at=parse_time(st.get("StartedAt")),
            created=float(c["Created"]) if isinstance(c.get("Created"), int | float) else None,
            ports=_ports(c.get("Ports")),
            labels=tuple(sorted(labels.items())),
            service=self._bind(name, labels),
            cpu_ratio=cpu,
            memory_bytes=mem,
            memory_limit=limit,
            net_rx_bytes=rx,
            net_tx_bytes=tx,
            block_read_bytes=rd,
            block_write_bytes=wr,
        )

    # ------------------------------------------------------------------ on demand
    def _require(self) -> Any:
        if self._client is None:
            raise DockerError("docker is not available right now")
        return self._client.api

    async def logs(self, container_id: str, lines: int | None = None) -> list[str]:
        """The last lines of a container's output (stdout and stderr), secrets masked."""
        api = self._require()
        n = lines or self.settings.log_lines

        def tail() -> list[str]:
            out: bytes = api.logs(container_id, stdout=True, stderr=True, tail=n, timestamps=False)
            # Masked here, in the worker thread: every reader (API, TUI) gets this list.
            return mask_lines(out.decode(errors="replace").splitlines()[-n:])

        try:
            return await in_thread(tail, self.settings.timeout * 2)
        except Exception as exc:
            raise DockerError(f"logs: {explain(exc, self.host, self.settings.timeout)}") from None

    async def act(self, container_id: str, action: str) -> None:
        """start, stop or restart; raises DockerError with the engine's reason."""
        if action not in ACTIONS:
            raise DockerError(f"unknown action {action!r} (one of {', '.join(ACTIONS)})")
        api = self._require()

        def call() -> None:
            if action == "start":
                api.start(container_id)
            else:
                getattr(api, action)(container_id, timeout=STOP_TIMEOUT)

        try:
            await in_thread(call, self.settings.timeout + STOP_TIMEOUT + 5)
        except Exception as exc:
            raise DockerError(explain(exc, self.host, self.settings.timeout)) from None
        finally:
            self._dirty.add(container_id)
            self.poll_soon()
