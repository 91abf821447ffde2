"""A real HAProxy in front of monitor instances, on a free loopback port, stopped by PID.

Round robin over the backends with HTTP health checks on `/health`, as the README's
two-instance setup; `haproxy -db` runs in the foreground (RECIPES.md).
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from pathlib import Path

from devmentor_monitor.demo.fleet import free_port

CONFIG = """global
    maxconn 256
defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    option http-server-close
frontend monitor
    bind 127.0.0.1:{port}
    default_backend instances
backend instances
    balance roundrobin
    option httpchk GET /health
    http-check expect status 200
{servers}
"""


class HAProxy:
    def __init__(self, workdir: Path, backends: list[int], port: int | None = None) -> None:
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.backends = backends
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> HAProxy:
        exe = shutil.which("haproxy") or "/usr/sbin/haproxy"
        servers = "\n".join(
            f"    server m{i} 127.0.0.1:{port} check inter 500ms fall 2 rise 1"
            for i, port in enumerate(self.backends)
        )
        cfg = self.dir / "haproxy.cfg"
        cfg.write_text(CONFIG.format(port=self.port, servers=servers))
        self.proc = subprocess.Popen(
            [exe, "-f", str(cfg), "-db"],
            stdout=(self.dir / "haproxy.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        import socket

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"haproxy exited: {self.log()}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2),
            ):
                return self
            time.sleep(0.02)
        raise RuntimeError(f"haproxy did not listen: {self.log()}")

    def log(self) -> str:
        path = self.dir / "haproxy.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None
