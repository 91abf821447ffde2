"""Heartbeat services in the config and the one-shot commands: `config check` shows one,
`status` leaves it unknown (nothing to probe) instead of checking a URL it has not got,
and a missed grace is down at once (failure_threshold defaults to 1 for them)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from devmentor_monitor.config.schema import parse_text

CONFIG = """\
services:
  - name: nightly-backup
    heartbeat: {grace: 25h}
  - name: etl
    heartbeat: {grace: 10m}
    failure_threshold: 3
"""


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "hb.yaml").write_text(CONFIG)
    env = {k: v for k, v in os.environ.items() if k not in ("SERVICES_CONFIG", "MONITORING_PORT")}
    return subprocess.run(
        [sys.executable, "-m", "devmentor_monitor", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_missed_grace_is_down_at_once_unless_the_service_says_otherwise():
    nightly, etl = parse_text(CONFIG).services
    assert (nightly.url, nightly.heartbeat and nightly.heartbeat.grace) == (None, 25 * 3600.0)
    assert nightly.failure_threshold == 1
    assert etl.failure_threshold == 3


def test_config_check_shows_a_heartbeat_service(tmp_path):
    proc = run(tmp_path, "config", "check", "hb.yaml")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout[proc.stdout.index("\n{") + 1 :])
    first = data["services"][0]
    assert (first["url"], first["heartbeat"]) == (None, {"grace": 90000.0})
    assert data["custom_metrics"]["max_series"] == 1000


def test_status_leaves_a_heartbeat_service_unknown(tmp_path):
    proc = run(tmp_path, "status", "--json", "-c", "hb.yaml")
    assert proc.returncode == 0, proc.stderr
    services = json.loads(proc.stdout)["services"]
    assert [(s["name"], s["status"], s["url"]) for s in services] == [
        ("nightly-backup", "unknown", None),
        ("etl", "unknown", None),
    ]
    assert services[0]["heartbeat"] == {"grace_s": 90000.0, "last_beat": None}
