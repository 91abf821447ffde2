"""`POST /api/incidents` throughput with durable writes (SQLite WAL, synchronous=FULL).

Every 201 means the incident is on disk, so this measures fsync-bound writes. wrk with
a Lua body at 16 connections for 10 s against `--serve`; afterwards the incident count
on disk is checked against the 201s wrk saw. Prints JSON.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import tempfile
from importlib.resources import files
from pathlib import Path

from _common import Children, cli, emit, free_port, have_wrk, host_info, wait_http
from exporter_load import parse_wrk

KEY = "bench-operator-key-0123456789"
CONNECTIONS, DURATION_S = 16, 10
LUA = f"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {KEY}"
wrk.body = '{{"service":"auth","description":"bench","severity":"low"}}'
"""


def main() -> int:
    if not have_wrk():
        emit({"error": "wrk not found on PATH (apt-get install wrk)"})
        return 1
    with tempfile.TemporaryDirectory() as tmp, Children() as kids:
        port = free_port()
        data = Path(tmp) / "data"
        # The packaged default without the per-key write limit (auth.write_rate: 0), so
        # wrk measures durable writes, not 429s.
        cfg = Path(tmp) / "services.yaml"
        default = files("devmentor_monitor.defaults").joinpath("services.yaml").read_text()
        cfg.write_text(default + "\nauth: {write_rate: 0}\n")
        # The key comes in through the environment, as an operator would set it.
        env_cmd = [
            "env",
            f"DEVMENTOR_API_KEYS=bench:operator:{KEY}",
            *cli(),
            "--serve",
            "--demo",
            "-c",
            str(cfg),
            "--port",
            str(port),
            "--data-dir",
            str(data),
            "--log-level",
            "warning",
        ]
        proc = kids.start("serve", env_cmd)
        wait_http(f"http://127.0.0.1:{port}/api/services", proc, kids)
        script = Path(tmp) / "post.lua"
        script.write_text(LUA)
        out = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{CONNECTIONS}",
                f"-d{DURATION_S}s",
                "--latency",
                "-s",
                str(script),
                f"http://127.0.0.1:{port}/api/incidents",
            ],
            capture_output=True,
            text=True,
            timeout=DURATION_S + 30,
            check=True,
        ).stdout
        result = parse_wrk(out)
        kids.stop_all()
        with sqlite3.connect(data / "monitor.db") as db:
            on_disk = db.execute("SELECT COUNT(*) FROM incidents WHERE rule = 'manual'").fetchone()[
                0
            ]
    emit(
        {
            "host": host_info(),
            "load": {"tool": "wrk", "connections": CONNECTIONS, "duration_s": DURATION_S},
            "post_incidents": result,
            "incidents_on_disk": on_disk,
            "all_acknowledged_on_disk": on_disk >= result["requests"] - result["non_2xx"],
            "durability": "WAL, synchronous=FULL: committed before the 201",
        }
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
