"""`ultra --demo` starts without the optional packages it does not use (issue 19: RSS at
most 48 MiB with the demo). Each was imported at start until made lazy; the figure is
what it cost there:

* PyJWT, and through it cryptography: ~9 MiB (dashboard sign-in only);
* smtplib: ~0.1 MiB (an email channel only);
* zoneinfo, and through it sysconfig: ~0.3 MiB (a maintenance window's zone only);
* the Docker, Kubernetes and Redis clients (when configured only).

The real command runs in a tmux pane (a terminal) until its services show a status and
its exporter answers, then quits with `q`; its `sys.modules` is written as it exits.
"""

from __future__ import annotations

import shlex
import shutil
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
