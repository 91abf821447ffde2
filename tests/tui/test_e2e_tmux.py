"""End to end, as a person would: `devmentor-monitor ultra` in a real 120x40 tmux pane,
watching the demo fleet; read the screen with capture-pane, type keys with send-keys."""

from __future__ import annotations

import re
import shlex
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.tmux import HEIGHT, WIDTH, Pane, pane_environ

from devmentor_monitor.demo.fleet import free_port

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")


@pytest.fixture
def pane_env(tmp_path: Path) -> dict[str, str]:
    return pane_environ(tmp_path / "state")


@pytest.fixture
def panes() -> Iterator[list[Pane]]:
    started: list[Pane] = []
    yield started
    for pane in started:  # always: a left-over tmux server would outlive the test run
        pane.kill()


def row(screen: str, name: str) -> str:
    """The services-table row of ``name`` (the overview's left pane)."""
    for line in screen.splitlines():
        if re.match(rf"│ {re.escape(name)} +", line):
            return line
    return ""


def test_ultra_in_tmux(
    fleet: Any,
    write_config: Callable[..., Path],
    fast: Callable[..., list[dict[str, Any]]],
    wait: Callable[..., Any],
    pane_env: dict[str, str],
    panes: list[Pane],
    tmp_path: Path,
) -> None:
    config = write_config(fast(fleet.urls))  # checks every 0.5 s, DOWN after 2 failures
    port = free_port()
    exit_file = tmp_path / "exit-code"
    cmd = " ".join(
        shlex.quote(a)
        for a in (
            sys.executable,
            "-m",
            "devmentor_monitor",
            "ultra",
            "-c",
            str(config),
            "--port",
            str(port),
        )
    )
    pane = Pane(
        f"cd {shlex.quote(str(REPO))} && {cmd}; echo $? > {exit_file}",
        pane_env,
        tmp_path / "tmux.sock",
    )
    panes.append(pane)
    assert pane.size() == (WIDTH, HEIGHT)
    names = list(fleet.urls)  # auth, memory, project

    def fail(what: str) -> str:
        return f"{what}; the screen was:\n{pane.capture()}"

    # 1. The panes, with real values: every service UP with a measured latency, host meters.
    def overview_live() -> bool:
        screen = pane.capture()
        rows = [row(screen, n) for n in names]
        return (
            all(re.search(r"\bUP\b.*\d+(\.\d+)? ms", r) for r in rows)
            and f"services {len(names)}/{len(names)} up" in screen
            and re.search(r"CPU .*\d+\.\d %", screen) is not None
            and re.search(r"MEM .*\d+\.\d %", screen) is not None
            and "─ Services ─" in screen
            and "─ Host ─" in screen
            and "no incidents" in screen
        )

    try:
        wait(overview_live, 20, interval=0.2, what="the live overview")
    except AssertionError as exc:
        raise AssertionError(fail(str(exc))) from None

    # The embedded exporter keeps serving while the TUI runs.
    api = httpx.get(f"http://127.0.0.1:{port}/api/services", timeout=5)
    assert api.status_code == 200
    assert {s["name"] for s in api.json()["services"]} == set(names)

    # 2. m: the metrics view, with its range line and charts.
    pane.press("m")
    try:
        wait(
            lambda: "range:" in (s := pane.capture()) and "CPU" in s and "Memory" in s,
            5,
            interval=0.1,
            what="the metrics view",
        )
    except AssertionError as exc:
        raise AssertionError(fail(str(exc))) from None
    assert "─ Host ─" not in pane.capture()
    pane.press("o")
    wait(lambda: "─ Host ─" in pane.capture(), 5, interval=0.1, what="back to the overview")

    # 3. Stop a service: its row turns DOWN, with the reason, within its failure threshold
    # (2 checks 0.5 s apart) plus one screen refresh (1 s) and some slack for a busy host.
    fleet.stop("memory")
    started = time.monotonic()
    try:
        wait(
            lambda: re.search(r"\bDOWN\b", row(pane.capture(), "memory")),
            6,
            interval=0.1,
            what="memory to show DOWN",
        )
    except AssertionError as exc:
        raise AssertionError(fail(str(exc))) from None
    took = time.monotonic() - started
    screen = pane.capture()
    assert "refused" in row(screen, "memory")  # "connection refused", shortened
    assert "1 down" in screen.splitlines()[0]
    assert all(re.search(r"\bUP\b", row(screen, n)) for n in names if n != "memory"), screen
    assert took < 2 * 0.5 + 0.4 + 1.0 + 2.0, f"DOWN showed after {took:.1f} s"
    api = httpx.get(f"http://127.0.0.1:{port}/api/services", timeout=5).json()
    assert {s["name"]: s["status"] for s in api["services"]}["memory"] == "down"

    # Logs went to the state directory, never over the dashboard.
    log = Path(pane_env["XDG_STATE_HOME"]) / "devmentor-monitor" / "ultra.log"
    assert log.is_file()
    assert log.stat().st_size > 0
    assert "monitor started" not in screen
    assert "Traceback" not in screen

    # 4. q exits with code 0 and stops the exporter.
    pane.press("q")
    try:
        wait(
            lambda: exit_file.exists() and exit_file.read_text().strip(),
            10,
            interval=0.1,
            what="the monitor to exit",
        )
    except AssertionError as exc:
        raise AssertionError(fail(str(exc))) from None
    assert exit_file.read_text().strip() == "0"
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/api/services", timeout=2)
