"""End to end, as the issue's new user tried it: `ultra --demo` in a real tmux pane at 160x50
(and 240x70), read with capture-pane. Each pane is found by its rounded border and title,
and no pane may be more than a quarter empty while the demo fleet has data to show.

The counting rule is the pilot test's (test_overview_adaptive.empty_rows): a pane's empty
rows are the blank rows below its last non-blank one; rows inside a chart count as used.
Before the adaptive overview (6d5663c) this fails: at 160x50 the services pane left 31 of
its 37 rows empty, the host 26 of 37, incidents and predictions 5 of 6 each.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.tmux import Pane, pane_environ

REPO = Path(__file__).resolve().parents[2]
DEMO = ("auth", "memory", "ai-gateway", "project", "monitoring")  # the demo fleet
BASE = ("Services", "Host", "Incidents", "Predictions")  # the overview's panes at any size
CAP = 0.25  # "no pane is more than about a quarter empty"

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")


def boxes(screen: str) -> dict[str, list[str]]:
    """Every complete bordered pane on ``screen``: its title -> its content rows (the
    text between its left and right borders, one string per row)."""
    lines = screen.splitlines()
    found: dict[str, list[str]] = {}
    for y, line in enumerate(lines):
        for top in re.finditer(r"╭─ (.+?) ─", line):
            left = top.start()
            right = line.find("╮", left)
            if right < 0:
                continue
            rows: list[str] = []
            for below in lines[y + 1 :]:
                edge = below[left : left + 1]
                if edge == "╰" and below[right : right + 1] == "╯":
                    found[top.group(1)] = rows
                    break
                if edge != "│" or below[right : right + 1] != "│":
                    break  # not a whole box (a frame caught mid-paint): leave it out
                rows.append(below[left + 1 : right])
    return found


def emptiness(panes: dict[str, list[str]]) -> dict[str, tuple[int, int, int]]:
    """Per pane: (blank rows below its last non-blank row, blank rows in all, rows)."""
    out = {}
    for title, rows in panes.items():
        filled = [i for i, row in enumerate(rows) if row.strip()]
        last = filled[-1] if filled else -1
        out[title] = (len(rows) - 1 - last, len(rows) - len(filled), len(rows))
    return out


def live(screen: str) -> dict[str, list[str]] | None:
    """The overview's panes once every demo service shows a real status with a measured
    latency and the host pane its first sample; None before."""
    panes = boxes(screen)
    if not all(name in panes for name in BASE):
        return None
    services = panes["Services"]
    for name in DEMO:
        row = next((r for r in services if re.match(rf" {re.escape(name)} ", r)), "")
        if not re.search(r"\b(UP|SLOW|DOWN)\b", row) or not re.search(r"\d ms\b", row):
            return None
    if not any(re.search(r"CPU .*\d+\.\d %", r) for r in panes["Host"]):
        return None
    return panes


@pytest.fixture
def pane_env(tmp_path: Path) -> dict[str, str]:
    return pane_environ(tmp_path / "state")


@pytest.fixture
def started(tmp_path: Path) -> Iterator[list[tuple[Pane, Path]]]:
    """The panes a test starts, each with the file its monitor's PID is written to."""
    out: list[tuple[Pane, Path]] = []
    yield out
    for pane, pid_file in out:
        pane.kill()  # the monitor gets SIGHUP from its pane and exits
        pid = int(pid_file.read_text()) if pid_file.is_file() else 0
        cmdline = Path(f"/proc/{pid}/cmdline")
        if pid and cmdline.is_file() and b"devmentor_monitor" in cmdline.read_bytes():
            os.kill(pid, signal.SIGKILL)  # it outlived its tmux server


@pytest.mark.parametrize("size", [(160, 50), (240, 70)], ids=["160x50", "240x70"])
def test_no_pane_more_than_a_quarter_empty(
    size: tuple[int, int],
    wait: Callable[..., Any],
    pane_env: dict[str, str],
    started: list[tuple[Pane, Path]],
    tmp_path: Path,
) -> None:
    pid_file = tmp_path / "monitor.pid"
    cmd = shlex.join([sys.executable, "-m", "devmentor_monitor", "ultra", "--demo", "--no-serve"])
    pane = Pane(
        f"cd {shlex.quote(str(REPO))} && echo $$ > {shlex.quote(str(pid_file))} && exec {cmd}",
        pane_env,
        tmp_path / "tmux.sock",
        size=size,
    )
    started.append((pane, pid_file))
    assert pane.size() == size

    seen: dict[str, Any] = {}

    def overview_live() -> bool:
        seen["screen"] = pane.capture()
        seen["panes"] = live(seen["screen"])
        return seen["panes"] is not None

    try:
        wait(overview_live, 30, interval=0.2, what="the demo fleet's real statuses")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; the screen was:\n{seen.get('screen', '')}") from None
    screen, panes = seen["screen"], seen["panes"]
    lines = screen.splitlines()
    assert len(lines) == size[1], screen
    assert "q Quit" in lines[-1], f"the monitor drew for another size than the pane's:\n{screen}"

    counts = emptiness(panes)
    report = "\n".join(
        f"  {title}: {tail} of {rows} rows empty below its content ({blank} blank in all)"
        for title, (tail, blank, rows) in counts.items()
    )
    over = [title for title, (tail, _, rows) in counts.items() if tail >= rows * CAP]
    assert not over, (
        f"at {size[0]}x{size[1]} more than a quarter empty: {', '.join(over)}\n"
        f"{report}\nthe screen was:\n{screen}"
    )
    # The rows a short pane leaves go to what helps most: a latency trend per service.
    assert "Latency trends" in panes, f"{report}\nthe screen was:\n{screen}"
    trends = "\n".join(panes["Latency trends"])
    assert all(re.search(rf"^ {re.escape(name)} ", trends, re.M) for name in DEMO), screen
    assert "Traceback" not in screen
