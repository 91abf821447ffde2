"""Shared helpers for the benchmarks: free ports, child processes stopped by PID, HTTP polling.

Children log to a temp file (never a pipe that could fill up); `Children.stop_all` sends
SIGTERM to each PID, waits, then SIGKILLs whatever is left, and runs even on failure.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil


def cli() -> list[str]:
    """The venv's console script next to sys.executable, else `python -m devmentor_monitor`."""
    script = Path(sys.executable).parent / "devmentor-monitor"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "devmentor_monitor"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def emit(result: dict[str, Any]) -> None:
    print(json.dumps(result, indent=2), flush=True)


def _sigterm_to_exit() -> None:
    """SIGTERM to the bench itself raises SystemExit, so `finally` blocks stop the children."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


class Children:
    """Subprocesses started by one benchmark, each stopped by its own PID."""

    def __init__(self) -> None:
        self.procs: list[tuple[str, subprocess.Popen[bytes], Any]] = []
        _sigterm_to_exit()

    def start(self, name: str, cmd: list[str]) -> subprocess.Popen[bytes]:
        log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in stop_all)
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
            cwd=Path(__file__).resolve().parent.parent,
        )
        self.procs.append((name, proc, log))
        return proc

    def log_tail(self, proc: subprocess.Popen[bytes], limit: int = 1500) -> str:
        for _, p, log in self.procs:
            if p is proc:
                log.seek(0)
                return log.read().decode(errors="replace")[-limit:]
        return ""

    def stop_all(self) -> None:
        for _, proc, _ in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for _, proc, log in self.procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
            log.close()

    def __enter__(self) -> Children:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()


def get(url: str, timeout: float = 5.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return resp.read()


def wait_http(
    url: str, proc: subprocess.Popen[bytes], kids: Children, deadline_s: float = 30.0
) -> None:
    """Poll until `url` answers 200; raise with the child's log if it dies or times out."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}: {kids.log_tail(proc)}")
        try:
            get(url, timeout=2.0)
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} not answering after {deadline_s:g} s: {kids.log_tail(proc)}")


def cpu_seconds(pid: int) -> float:
    t = psutil.Process(pid).cpu_times()
    return t.user + t.system


def host_info() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "loadavg_at_start": [round(x, 2) for x in os.getloadavg()]}


def have_wrk() -> bool:
    return shutil.which("wrk") is not None
