"""A real redis-server on a free loopback port, started and stopped by PID (RECIPES.md)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from devmentor_monitor.demo.fleet import free_port


class RedisServer:
    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}"
        self.pid: int | None = None

    def start(self) -> RedisServer:
        exe = shutil.which("redis-server")
        if exe is None:
            raise RuntimeError("redis-server is not installed (scripts/setup --test installs it)")
        pidfile = self.dir / "redis.pid"
        pidfile.unlink(missing_ok=True)
        subprocess.run(
            [
                exe,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "yes",
                "--dir",
                str(self.dir),
                "--pidfile",
                str(pidfile),
                "--logfile",
                str(self.dir / "redis.log"),
                "--client-output-buffer-limit",
                "pubsub 0 0 0",
            ],
            check=True,
            timeout=10,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if pidfile.exists() and pidfile.read_text().strip() and self.ping():
                self.pid = int(pidfile.read_text())
                return self
            time.sleep(0.02)
        raise RuntimeError(f"redis-server did not start; log:\n{self.log()}")

    def ping(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(port=self.port, socket_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def client(self):
        import redis

        return redis.Redis(port=self.port, socket_timeout=5)

    def log(self) -> str:
        path = self.dir / "redis.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """Kill by PID (SIGKILL: the test wants it gone now) and wait until it is."""
        if self.pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.02)
        self.pid = None
