"""Which modules a headless entry point loads: the real `devmentor-monitor` command, run in
a fresh interpreter that writes its `sys.modules` to a file as it exits."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from support.processes import REPO
from support.waiting import wait_until

# The console script's body, behind an exit hook that records what was imported.
_ENTRY = """
import atexit, json, os, sys

def _dump():
    with open(os.environ["DEVMENTOR_MODULES_OUT"], "w") as f:
        json.dump(sorted(sys.modules), f)

atexit.register(_dump)
from devmentor_monitor.cli import main
sys.exit(main(sys.argv[1:]))
"""

# Never imported by an entry point that does not show a screen.
VIEW_ONLY = ("textual",)
# The Docker and Kubernetes SDKs, Redis's and PostgreSQL's: loaded only when configured.
SDKS = ("docker", "kubernetes", "redis", "psycopg")


def command(args: list[str]) -> list[str]:
    """The entry point as a command line (for a terminal, e.g. a tmux pane); it writes its
    module list to $DEVMENTOR_MODULES_OUT as it exits."""
    return [sys.executable, "-c", _ENTRY, *args]


def clean_env(tmp: Path, **extra: str) -> dict[str, str]:
    """The test process's environment without the monitor's own settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("SERVICES_CONFIG", "MONITORING_PORT", "REDIS_URL", "DATABASE_URL")
    }
    env["XDG_STATE_HOME"] = str(tmp / "state")
    env.update(extra)
    return env


def start(args: list[str], out: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    """Start a long-running entry point (`--serve`); its output goes to ``out``.log."""
    env = {**env, "DEVMENTOR_MODULES_OUT": str(out)}
    with out.with_suffix(".log").open("w") as log:
        return subprocess.Popen(
            [sys.executable, "-c", _ENTRY, *args],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )


def run(
    args: list[str], out: Path, env: dict[str, str], timeout: float = 60
) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run to completion; the result and the modules loaded."""
    env = {**env, "DEVMENTOR_MODULES_OUT": str(out)}
    done = subprocess.run(
        [sys.executable, "-c", _ENTRY, *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return done, loaded(out)


def stop(proc: subprocess.Popen[str], out: Path) -> set[str]:
    """SIGTERM a running entry point (it shuts down cleanly); the modules it loaded."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise
    assert proc.returncode == 0, out.with_suffix(".log").read_text(errors="replace")
    wait_until(out.exists, 5, what="the module list")
    return loaded(out)


def loaded(out: Path) -> set[str]:
    modules = set(json.loads(out.read_text()))
    assert "devmentor_monitor.cli" in modules, "the list is not the entry point's"
    return modules


def roots(modules: set[str], names: tuple[str, ...]) -> list[str]:
    """Which of the top-level packages `names` were imported."""
    return sorted(n for n in names if n in modules)
