"""Small wrong answers of the command line (issue 12, finding 10), as a user meets them:
`status` shows a real CPU reading, `status --json | head` exits quietly, and each
command's --help lists only the options it takes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PROG = "devmentor-monitor"
COMMAND = [sys.executable, "-m", "devmentor_monitor"]


def env() -> dict[str, str]:
    return {
        k: v
        for k, v in os.environ.items()
        if k not in ("SERVICES_CONFIG", "MONITORING_PORT", "REDIS_URL")
    }


@pytest.fixture
def no_services(tmp_path: Path) -> Path:
    path = tmp_path / "services.yaml"
    path.write_text("services: []\n")
    return path


@pytest.fixture
def busy_core() -> Iterator[None]:
    """One core kept busy, so a CPU reading of 0.0 % cannot be right."""
    burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    yield
    burner.kill()
    burner.wait(5)


def test_status_reports_cpu_measured_over_a_window(no_services, busy_core):
    done = subprocess.run(
        [*COMMAND, "status", "--json", "-c", str(no_services)],
        env=env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    host = json.loads(done.stdout)["host"]
    cores = len(host["cpu_per_core_percent"])
    assert host["cpu_percent"] >= 100 / cores / 2, host["cpu_per_core_percent"]  # >= half a core
    assert host["disk_io_bytes_per_s"]["read"] is not None  # rates need a window too
    assert host["top_cpu"][0]["cpu_percent"] > 0


def test_status_json_into_a_closed_pipe_exits_quietly(no_services):
    read_end, write_end = os.pipe()
    os.close(read_end)  # like `| head` that has already gone: nobody will read
    try:
        done = subprocess.run(
            [*COMMAND, "status", "--json", "-c", str(no_services)],
            env=env(),
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    finally:
        os.close(write_end)
    assert done.stderr == ""
    assert done.returncode == 1


def help_options(*command: str) -> set[str]:
    done = subprocess.run(
        [*COMMAND, *command, "--help"], env=env(), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return {word.rstrip(",") for word in done.stdout.split() if word.startswith("--")}


SERVING = {"--host", "--port", "--data-dir", "--insecure"}


@pytest.mark.parametrize(
    ("command", "has", "has_not"),
    [
        (("emit",), {"--config", "--log-level", "--service"}, SERVING | {"--demo"}),
        (("status",), {"--config", "--demo", "--json"}, SERVING),
        (("ultra",), {"--config", "--demo", "--no-serve"} | SERVING, set()),
        ((), {"--serve", "--config", "--demo"} | SERVING, set()),
    ],
    ids=["emit", "status", "ultra", "top"],
)
def test_help_lists_the_options_each_command_takes(command, has, has_not):
    options = help_options(*command)
    assert has <= options, has - options
    assert not has_not & options, has_not & options


def test_top_level_options_still_reach_the_command(tmp_path, no_services):
    """Options written before the command keep applying to it: `-c FILE status`."""
    (tmp_path / "elsewhere").mkdir()
    done = subprocess.run(
        [*COMMAND, "-c", str(no_services), "--log-level", "error", "status", "--json"],
        env=env(),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path / "elsewhere",
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["services"] == []
