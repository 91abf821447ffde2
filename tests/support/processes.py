"""Real processes and servers for the fixtures in tests/conftest.py: a demo fleet in its
own thread, `--serve` subprocesses on free ports, service entries that check fast."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from devmentor_monitor.demo.fleet import Behaviour, DemoFleet, free_port
from support.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]


def stop_process(proc: subprocess.Popen[Any], grace: float = 10) -> None:
    """SIGTERM by PID, then SIGKILL if it has not gone after ``grace`` seconds."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


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


def fast_services(urls: dict[str, str], **overrides: Any) -> list[dict[str, Any]]:
    """Service entries that check every 0.5 s, for tests that watch states change."""
    base = {
        "interval": "0.5s",
        "timeout": "0.4s",
        "failure_threshold": 2,
        "success_threshold": 1,
        "expect": {"status": 200, "body": {"status": "ok"}},
    }
    return [{"name": n, "url": u, **base, **overrides} for n, u in urls.items()]


class ServeProc:
    """A `devmentor-monitor --serve` subprocess on a free port."""

    def __init__(
        self,
        args: list[str],
        log: Path,
        env: dict[str, str] | None = None,
        *,
        program: Sequence[str] = (sys.executable, "-m", "devmentor_monitor"),
        cwd: Path = REPO,
    ) -> None:
        """`program` and `cwd`: another install run from another place (test_install.py)."""
        self.log = log
        self._program, self._args, self._cwd = list(program), list(args), cwd
        full_env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("SERVICES_CONFIG", "MONITORING_PORT", "REDIS_URL", "DATABASE_URL")
        }
        full_env["XDG_STATE_HOME"] = str(log.parent / "state")  # incidents DB per test
        full_env.update(env or {})
        self._env = full_env
        self._log_file = log.open("wb")
        self._spawn()

    def _spawn(self) -> None:
        """Start on a port the OS says is free now; wait_ready starts again on another if
        a process (the other xdist worker's) took it in between."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [*self._program, "--serve", "--port", str(self.port), *self._args]
        self.proc = subprocess.Popen(
            cmd, stdout=self._log_file, stderr=subprocess.STDOUT, env=self._env, cwd=self._cwd
        )

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return httpx.get(self.url + path, timeout=5, **kw)

    def wait_ready(self, timeout: float = 15) -> None:
        respawns = [3]

        def ready() -> bool:
            if self.proc.poll() is not None:
                if respawns[0] and "address already in use" in self.output().lower():
                    respawns[0] -= 1
                    self._spawn()
                    return False
                raise AssertionError(f"--serve exited {self.proc.returncode}:\n{self.output()}")
            # 401: up, with reads closed (a non-loopback bind without a key)
            return self.get("/api/services").status_code in (200, 401)

        wait_until(ready, timeout, what="--serve to answer")

    def output(self) -> str:
        self._log_file.flush()
        return self.log.read_text(errors="replace")

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def close(self) -> None:
        stop_process(self.proc, grace=5)
        self._log_file.close()
