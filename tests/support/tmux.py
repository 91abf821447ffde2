"""A TUI in a real tmux pane: read the screen with capture-pane, type with send-keys."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

WIDTH, HEIGHT = 120, 40
# Left out of a pane's environment: the monitor's own settings, and COLUMNS/LINES, which
# pytest-xdist workers set to 80x24 and Textual would take over the pane's real size.
DROPPED = (
    "SERVICES_CONFIG",
    "MONITORING_PORT",
    "REDIS_URL",
    "NO_COLOR",
    "TMUX",
    "COLUMNS",
    "LINES",
)


def pane_environ(state: Path) -> dict[str, str]:
    """This process's environment for a monitor in a pane, its state kept in ``state``."""
    env = {k: v for k, v in os.environ.items() if k not in DROPPED}
    env.update(XDG_STATE_HOME=str(state), TERM="xterm-256color")
    return env


class Pane:
    """One tmux server on its own socket, holding one session that runs ``command``.

    The socket lives in the test's tmp dir (tmux -S), so it never meets another server.
    """

    def __init__(
        self,
        command: str,
        env: dict[str, str],
        socket: Path,
        size: tuple[int, int] = (WIDTH, HEIGHT),
    ) -> None:
        self.socket = str(socket)
        self.env = env
        width, height = size
        self._tmux("new-session", "-d", "-s", "ultra", "-x", str(width), "-y", str(height), command)

    def _tmux(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["tmux", "-S", self.socket, "-f", "/dev/null", *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=10,
            check=check,
        )

    def capture(self) -> str:
        """The visible screen as text ('' once the session is gone)."""
        done = self._tmux("capture-pane", "-p", "-t", "ultra", check=False)
        return done.stdout if done.returncode == 0 else ""

    def press(self, *keys: str) -> None:
        self._tmux("send-keys", "-t", "ultra", *keys)

    def size(self) -> tuple[int, int]:
        out = self._tmux(
            "display-message", "-p", "-t", "ultra", "#{pane_width} #{pane_height}"
        ).stdout.split()
        return int(out[0]), int(out[1])

    def kill(self) -> None:
        self._tmux("kill-server", check=False)
