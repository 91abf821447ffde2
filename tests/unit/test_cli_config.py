"""The command line as a user runs it: config errors are one line and exit 2, no traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PROG = "devmentor-monitor"
ENV_VARS = (
    "SERVICES_CONFIG",
    "MONITORING_PORT",
    "REDIS_URL",
    "EVENT_RETENTION",
    "METRICS_RETENTION",
    "AUTO_DISCOVER",
    "ALERT_CHANNELS",
    "AUTO_SCALE_ENABLED",
    "MIN_REPLICAS",
    "MAX_REPLICAS",
)

GOOD = """\
server:
  port: 3011
redis:
  url: redis://:s3cret@localhost:6379
services:
  - name: auth
    url: http://127.0.0.1:3002/health
    headers: {Authorization: Bearer abc123}
  - name: memory
    url: http://127.0.0.1:3003/health
    depends_on: [auth]
"""

BAD_FILES = {
    "semantic": (
        "services:\n  - name: auth\n    url: http://x/\n    interval: 0s\n",
        "bad.yaml:4: services.auth.interval: ",
    ),
    "syntax": ("server:\n  port: 3006\n bad: 1\n", "bad.yaml:3: YAML syntax error"),
}


def run(tmp_path: Path, *args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ENV_VARS}
    env.update(extra_env)
    return subprocess.run(
        [sys.executable, "-m", "devmentor_monitor", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def write(tmp_path: Path, name: str, text: str) -> None:
    (tmp_path / name).write_text(textwrap.dedent(text), encoding="utf-8")


def effective(stdout: str) -> dict:
    return json.loads(stdout[stdout.index("\n{") + 1 :])


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
@pytest.mark.parametrize(
    "args",
    [
        ("--serve", "-c", "bad.yaml"),
        ("status", "-c", "bad.yaml"),
        ("config", "check", "bad.yaml"),
    ],
    ids=["serve", "status", "config-check"],
)
def test_bad_file_exits_2_with_one_line(tmp_path, args, kind):
    text, where = BAD_FILES[kind]
    write(tmp_path, "bad.yaml", text)
    proc = run(tmp_path, *args)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"{PROG}: config error: {where}")
    assert "Traceback" not in proc.stdout + proc.stderr
    assert proc.stdout == ""


def test_config_check_good_file_prints_effective_config(tmp_path):
    write(tmp_path, "good.yaml", GOOD)
    proc = run(tmp_path, "config", "check", "good.yaml", MONITORING_PORT="3012")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("good.yaml: OK, 2 services\n")
    assert "overridden by: env MONITORING_PORT" in proc.stdout
    data = effective(proc.stdout)
    assert data["server"]["port"] == 3012
    assert [s["name"] for s in data["services"]] == ["auth", "memory"]
    assert data["services"][1]["depends_on"] == ["auth"]
    assert data["redis_url"] == "redis://:***@localhost:6379"
    assert data["services"][0]["headers"] == [["Authorization", "***"]]


def test_config_check_hides_secrets(tmp_path):
    write(tmp_path, "good.yaml", GOOD)
    for extra in ({}, {"REDIS_URL": "redis://:s3cret@localhost:6380"}):
        proc = run(tmp_path, "config", "check", "good.yaml", **extra)
        assert proc.returncode == 0, proc.stderr
        out = proc.stdout + proc.stderr
        assert "s3cret" not in out
        assert "abc123" not in out
        assert "redis://:***@localhost" in out


def test_config_check_missing_file(tmp_path):
    proc = run(tmp_path, "config", "check", "missing.yaml")
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"{PROG}: config error: missing.yaml: file not found"
    assert "Traceback" not in proc.stderr


def test_bad_environment_value_exits_2(tmp_path):
    write(tmp_path, "good.yaml", GOOD)
    proc = run(tmp_path, "config", "check", "good.yaml", MONITORING_PORT="abc")
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith(f"{PROG}: config error: environment MONITORING_PORT:")


@pytest.mark.parametrize(
    ("flag", "expected"),
    [
        ("--version", f"{PROG} 0.1.0"),
        ("--help", f"usage: {PROG}"),
    ],
)
def test_version_and_help(tmp_path, flag, expected):
    proc = run(tmp_path, flag)
    assert proc.returncode == 0
    assert expected in proc.stdout
    assert proc.stderr == ""


@pytest.mark.parametrize(
    ("text", "extra_env"),
    [
        ("redis:\n  url: http://:s3cret@localhost:6379\n", {}),
        ("services: []\n", {"REDIS_URL": "redis://:s3cret@localhost:0"}),
    ],
)
def test_config_error_does_not_leak_password(tmp_path, text, extra_env):
    write(tmp_path, "bad.yaml", text)
    proc = run(tmp_path, "config", "check", "bad.yaml", **extra_env)
    assert proc.returncode == 2
    assert "s3cret" not in proc.stderr


def test_config_check_honours_top_level_config_flag(tmp_path):
    write(tmp_path, "bad.yaml", BAD_FILES["semantic"][0])
    proc = run(tmp_path, "-c", "bad.yaml", "config", "check")
    assert proc.returncode == 2
    assert "bad.yaml:4: services.auth.interval" in proc.stderr


def test_config_check_masks_notification_secrets(tmp_path):
    cfg = tmp_path / "s.yaml"
    cfg.write_text("""
notifications:
  channels:
    - {name: team, type: slack, url: "https://hooks.slack.com/services/T0/B0/sekr1tT0ken"}
    - {name: pd, type: pagerduty, routing_key: "R0utingKeyR0utingKey"}
    - {name: mail, type: email, host: 127.0.0.1, from: a@x.test, to: [b@x.test],
       username: u, password: "pa55w0rdpa55"}
auth:
  keys: [{name: ops, key: "0p3r4t0r-k3y-0123456789", role: operator}]
services: []
""")
    done = subprocess.run(
        [sys.executable, "-m", "devmentor_monitor", "config", "check", str(cfg)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    for secret in (
        "sekr1tT0ken",
        "R0utingKeyR0utingKey",
        "pa55w0rdpa55",
        "0p3r4t0r-k3y-0123456789",
    ):
        assert secret not in done.stdout
    assert "hooks.slack.com" in done.stdout  # where it goes is still shown
