"""/health during 1,000 idle connections at an open-file limit of 1,024 (issue 12, finding 3).

Starts `--serve --demo` under RLIMIT_NOFILE 1,024, watching its fleet and its own /health
(as services.yaml does), opens 1,000 TCP connections that send part of a request head
and then nothing, and while they are open asks /health 30 times on fresh connections.
Reports how many answered 200, how many idle ones were refused with a 503, how long
the rest stayed open, whether an incident was opened against the monitor and whether
its log says "Too many open files". The monitor runs from a scratch folder, so
PYTHONPATH picks the package measured (PYTHONPATH=/tmp/base: the code before the fix).
Prints one JSON object; exit 1 if a target is missed.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from _common import emit, free_port, host_info

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from support.idle_flood import IdleFlood, allow_fds

FD_LIMIT, IDLE, PROBES = 1024, 1000, 30
TARGET = {"health_ok": PROBES, "incidents_against_monitor": 0, "emfile_in_log": False}
CONFIG = """intervals: {health: 0.5s, system: 1s}
health: {timeout: 0.4s, failure_threshold: 2}
services:
  - {name: auth, url: "http://127.0.0.1:9/health"}
  - {name: memory, url: "http://127.0.0.1:9/health"}
  - {name: project, url: "http://127.0.0.1:9/health"}
  - name: monitoring
    url: "http://127.0.0.1:%d/health"
    expect: {status: 200, body: {status: ok}}
"""


def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (FD_LIMIT, FD_LIMIT))


def get_json(url: str, timeout: float = 2.0) -> tuple[int | None, Any]:
    """(status, body) or (None, the error's name) when nothing usable came back."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, None
    except (OSError, ValueError) as exc:
        return None, type(exc).__name__


def wait_ready(base: str, proc: subprocess.Popen[bytes], deadline_s: float = 30) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"monitor exited with {proc.returncode}")
        status, body = get_json(base + "/api/services/monitoring")
        if status == 200 and body["status"] == "up":
            return
        time.sleep(0.2)
    raise RuntimeError("the monitor did not see itself up")


def measure(port: int, log: Path) -> dict[str, Any]:
    base = f"http://127.0.0.1:{port}"
    flood = IdleFlood(port, IDLE)
    flood.open()
    try:
        flood.watch(1.5)
        t0 = time.monotonic()
        probes = [get_json(base + "/health") for _ in range(PROBES)]
        probe_s = time.monotonic() - t0
        flood.watch(9.0)  # head timeout (5 s) and some
        still_open = flood.still_open
    finally:
        flood.close()
    time.sleep(2)  # the old code recovers once released; an incident it opened stays
    _, incidents = get_json(base + "/api/incidents?service=monitoring", 5)
    refused = {id(c) for c in flood.refused}
    lived = [
        c.closed_at - c.opened
        for c in flood.conns
        if c.closed_at is not None and id(c) not in refused
    ]
    ok = [b for s, b in probes if s == 200 and isinstance(b, dict) and b["status"] == "ok"]
    return {
        "health_ok": len(ok),
        "health_failures": sorted({str(s or b) for s, b in probes if s != 200}),
        "probe_seconds": round(probe_s, 2),
        "connections_seen_by_health": ok[-1].get("connections") if ok else None,
        "idle_connect_failed": flood.connect_failed,
        "refused_503": len(flood.refused),
        "idle_still_open_after_10s": still_open,
        "idle_lifetime_median_s": round(statistics.median(lived), 2) if lived else None,
        "incidents_against_monitor": len(incidents["incidents"])
        if isinstance(incidents, dict)
        else None,
        "emfile_in_log": "Too many open files" in log.read_text(errors="replace"),
    }


def main() -> int:
    result: dict[str, Any] = {
        "host": host_info(),
        "fd_limit": FD_LIMIT,
        "idle": IDLE,
        "probes": PROBES,
        "pythonpath": os.environ.get("PYTHONPATH"),
    }
    if not allow_fds(4096):
        result["error"] = "cannot raise this process's open-file limit to 4096"
        emit(result)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        cfg, log = Path(tmp, "services.yaml"), Path(tmp, "serve.log")
        cfg.write_text(CONFIG % port)
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "devmentor_monitor",
                    "--serve",
                    "--demo",
                    "--port",
                    str(port),
                    "-c",
                    str(cfg),
                    "--data-dir",
                    str(Path(tmp, "data")),
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=tmp,
                preexec_fn=_limit,
            )
            try:
                wait_ready(f"http://127.0.0.1:{port}", proc)
                result.update(measure(port, log))
            except RuntimeError as exc:
                result["error"] = f"{exc}: {log.read_text(errors='replace')[-1500:]}"
            finally:
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
    result["target"] = TARGET
    result["meets_target"] = "error" not in result and all(
        result.get(k) == v for k, v in TARGET.items()
    )
    emit(result)
    return 0 if result["meets_target"] else 1


if __name__ == "__main__":
    sys.exit(main())
