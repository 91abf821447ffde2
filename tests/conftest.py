"""Shared fixtures: a demo fleet on loopback, config files, `--serve` subprocesses.

Everything real: HTTP servers bind free loopback ports, processes are stopped by PID.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from devmentor_monitor.demo.fleet import Behaviour, DemoFleet, free_port

REPO = Path(__file__).resolve().parent.parent


def wait_until(predicate: Callable[[], Any], timeout: float, interval: float = 0.05,
               what: str = "condition") -> Any:
    """Poll ``predicate`` until it returns something truthy, or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    last_exc: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except (httpx.HTTPError, OSError, KeyError, ValueError) as exc:
            last_exc = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}"
                         + (f" (last error: {last_exc})" if last_exc else ""))


@pytest.fixture
def wait() -> Callable[..., Any]:
    return wait_until


class FleetThread:
    """A DemoFleet running in its own thread and event loop, so sync tests can drive it."""

    def __init__(self, names: list[str]) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.fleet = DemoFleet(names, seed=7)
        for svc in self.fleet.services.values():  # steady and fast: tests assert on states
            svc.behaviour = Behaviour(latency_ms=2, jitter=0.1, error_rate=0.0)
        self._call(self.fleet.start())

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    @property
    def urls(self) -> dict[str, str]:
        return self.fleet.urls

    def stop(self, name: str) -> None:
        self._call(self.fleet[name].stop())

    def start(self, name: str) -> None:
        self._call(self.fleet[name].start())

    def behave(self, name: str, **changes: Any) -> None:
        self.loop.call_soon_threadsafe(self.fleet[name].behaviour.update, changes)

    def close(self) -> None:
        self._call(self.fleet.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture
def fleet() -> Iterator[FleetThread]:
    ft = FleetThread(["auth", "memory", "project"])
    yield ft
    ft.close()


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    """Write a services.yaml from Python data; returns its path."""

    def write(services: list[dict[str, Any]], name: str = "services.yaml",
              **top: Any) -> Path:
        path = tmp_path / name
        path.write_text(yaml.safe_dump({**top, "services": services}, sort_keys=False))
        return path

    return write


def fast_services(urls: dict[str, str], **overrides: Any) -> list[dict[str, Any]]:
    """Service entries that check every 0.5 s, for tests that watch states change."""
    base = {"interval": "0.5s", "timeout": "0.4s", "failure_threshold": 2,
            "success_threshold": 1, "expect": {"status": 200, "body": {"status": "ok"}}}
    return [{"name": n, "url": u, **base, **overrides} for n, u in urls.items()]


@pytest.fixture
def fast() -> Callable[..., list[dict[str, Any]]]:
    return fast_services


class ServeProc:
    """A `devmentor-monitor --serve` subprocess on a free port."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        cmd = [sys.executable, "-m", "devmentor_monitor", "--serve", "--port", str(self.port),
               *args]
        full_env = {k: v for k, v in os.environ.items()
                    if k not in ("SERVICES_CONFIG", "MONITORING_PORT", "REDIS_URL")}
        full_env["XDG_STATE_HOME"] = str(log.parent / "state")  # incidents DB per test
        full_env.update(env or {})
        self._log_file = log.open("wb")
        self.proc = subprocess.Popen(cmd, stdout=self._log_file, stderr=subprocess.STDOUT,
                                     env=full_env, cwd=REPO)

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return httpx.get(self.url + path, timeout=5, **kw)

    def wait_ready(self, timeout: float = 15) -> None:
        def ready() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"--serve exited {self.proc.returncode}:\n{self.output()}")
            return self.get("/api/services").status_code == 200

        wait_until(ready, timeout, what="--serve to answer")

    def output(self) -> str:
        self._log_file.flush()
        return self.log.read_text(errors="replace")

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log_file.close()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., ServeProc]]:
    procs: list[ServeProc] = []

    def start(*args: str, env: dict[str, str] | None = None, ready: bool = True) -> ServeProc:
        p = ServeProc(list(args), tmp_path / f"serve-{len(procs)}.log", env)
        procs.append(p)
        if ready:
            p.wait_ready()
        return p

    yield start
    for p in procs:
        p.close()


@pytest.fixture(scope="session")
def podman_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real Docker-API engine (podman's service, tests/podman.py) with the busybox image,
    started once per session and stopped by PID; its containers are removed at the end."""
    from podman import Podman, missing

    why = missing()
    if why:
        pytest.fail(f"no container engine for the Docker tests: {why}")
    engine = Podman(tmp_path_factory.mktemp("podman"))
    engine.import_busybox()
    engine.start()
    yield engine
    try:
        engine.remove_all()
    finally:
        engine.stop()
        engine.unmount()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[Any]:
    """A real redis-server on a free loopback port, killed by PID afterwards."""
    from redis_server import RedisServer

    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()
