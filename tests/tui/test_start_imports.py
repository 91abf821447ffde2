"""`ultra --demo` starts without the optional packages it does not use (issue 19: RSS at
most 48 MiB with the demo). Each was imported at start until made lazy; the figure is
what it cost there:

* PyJWT, and through it cryptography: ~9 MiB (dashboard sign-in only);
* smtplib: ~0.1 MiB (an email channel only);
* zoneinfo, and through it sysconfig: ~0.3 MiB (a maintenance window's zone only);
* the Docker, Kubernetes and Redis clients (when configured only).

The real command runs in a tmux pane (a terminal) until its services show a status and
its exporter answers, then quits with `q`; its `sys.modules` is written as it exits.

The first frame needs only what it shows (issue 19: first frame within 1.2x a bare
Textual app): the runtime, SQLite and psutil are imported once it is on screen (~0.2 s
of CPU after it; aiohttp not before the exporter's first connection: test_exporter_lazy.py),
the views a key opens the first time one does (~14 ms), and what only other commands use
when they run.
"""

from __future__ import annotations

import shlex
import shutil
import sys
import urllib.request
from pathlib import Path

import pytest
from support import headless
from support.processes import REPO
from support.tmux import Pane
from support.waiting import wait_until

from devmentor_monitor.demo.fleet import free_port

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")

LAZY = ("cryptography", "jwt", "smtplib", "zoneinfo", *headless.SDKS)
AFTER_FIRST_FRAME = (
    "aiohttp",
    "sqlite3",
    "devmentor_monitor.runtime",
    "devmentor_monitor.demo",
    *(f"devmentor_monitor.tui.{m}" for m in ("topology", "workloads", "audit_view")),
    *(f"devmentor_monitor.tui.{m}" for m in ("events_view", "predictions")),
    # CPU before the first frame, each once imported there: psutil ~13 ms (the host pane's
    # netlines), the report records ~9 ms and importlib.resources ~4 ms (the command line),
    # hashlib ~2 ms (the TLS checks of --serve), rich's emoji table ~4 ms (loaded by the
    # first markup parse; the services table's cells are plain Text).
    "psutil",
    "devmentor_monitor.reports.model",
    "importlib.resources",
    "hashlib",
    "rich._emoji_codes",
)
# The console script, writing its sys.modules the moment the first frame is on screen
# (Textual's Ready, where the app starts its runtime).
AT_FIRST_FRAME = """
import json, os, sys
from devmentor_monitor.tui import app

ready = app.MonitorApp.on_ready

def on_ready(self):  # no other parameter: Textual passes the event to one that has it
    with open(os.environ["DEVMENTOR_MODULES_OUT"], "w") as f:
        json.dump(sorted(sys.modules), f)
    ready(self)

app.MonitorApp.on_ready = on_ready
from devmentor_monitor.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _answers(port: int) -> bool:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as resp:
        return bool(resp.status == 200)


def test_ultra_demo_start_leaves_the_optional_packages_unloaded(tmp_path: Path) -> None:
    out = tmp_path / "modules.json"
    env = headless.clean_env(tmp_path, TERM="xterm-256color", DEVMENTOR_MODULES_OUT=str(out))
    env.pop("TMUX", None)
    env.pop("NO_COLOR", None)
    port = free_port()
    cmd = shlex.join(headless.command(["ultra", "--demo", "--port", str(port)]))
    pane = Pane(f"cd {shlex.quote(str(REPO))} && {cmd}", env, tmp_path / "tmux.sock")
    try:
        wait_until(
            lambda: " UP " in pane.capture() or " SLOW " in pane.capture(),
            30,
            what="a service status on the dashboard",
        )
        wait_until(lambda: _answers(port), 15, what="the embedded exporter")
        pane.press("q")
        wait_until(out.exists, 15, what="the module list written at exit")
    finally:
        pane.kill()
    modules = headless.loaded(out)
    assert "textual" in modules  # the real start: the screen ...
    assert "devmentor_monitor.runtime" in modules  # ... and the monitor behind it
    assert headless.roots(modules, LAZY) == []


def test_ultra_demo_first_frame_waits_for_neither_the_runtime_nor_the_other_views(
    tmp_path: Path,
) -> None:
    out = tmp_path / "modules.json"
    env = headless.clean_env(tmp_path, TERM="xterm-256color", DEVMENTOR_MODULES_OUT=str(out))
    env.pop("TMUX", None)
    env.pop("NO_COLOR", None)
    port = free_port()
    cmd = shlex.join([sys.executable, "-c", AT_FIRST_FRAME, "ultra", "--demo", "--port", str(port)])
    pane = Pane(f"cd {shlex.quote(str(REPO))} && {cmd}", env, tmp_path / "tmux.sock")
    try:
        wait_until(out.exists, 30, what="the module list written at the first frame")
        wait_until(
            lambda: " UP " in pane.capture() or " SLOW " in pane.capture(),
            30,
            what="a service status: the runtime started after the hook",
        )
        pane.press("q")
    finally:
        pane.kill()
    modules = headless.loaded(out)
    assert "devmentor_monitor.tui.screens" in modules  # the overview: on screen
    assert headless.roots(modules, AFTER_FIRST_FRAME) == []
