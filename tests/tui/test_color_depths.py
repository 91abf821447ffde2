"""The dashboard in a real terminal (tmux) at 256 and at 16 colours, as an SSH user sees it."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from devmentor_monitor.demo.fleet import free_port

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed")

REPO = Path(__file__).resolve().parents[2]
SGR = re.compile(r"\x1b\[([0-9;]*)m")


def colour_codes(screen: str) -> set[str]:
    """Every SGR parameter list tmux reports for the cells on screen."""
    return {m.group(1) for m in SGR.finditer(screen)}


@pytest.mark.parametrize(("term", "deep"), [("xterm-256color", True), ("xterm", False)])
def test_renders_within_the_terminals_colours(tmp_path, write_config, wait, term, deep):
    down_url = f"http://127.0.0.1:{free_port()}/health"  # nothing listens: DOWN at once
    cfg = write_config([{"name": "gone", "url": down_url, "interval": "0.5s", "timeout": "0.3s"}])
    sock = str(tmp_path / "tmux.sock")  # -S: the socket dies with tmp_path
    cmd = (
        f"env TERM={term} COLORTERM= NO_COLOR= XDG_STATE_HOME={tmp_path} "
        f"{sys.executable} -m devmentor_monitor ultra --no-serve -c {cfg}"
    )
    tmux = ["tmux", "-S", sock]
    subprocess.run(
        [*tmux, "-f", "/dev/null", "new-session", "-d", "-x", "100", "-y", "30", cmd],
        check=True,
        cwd=REPO,
    )
    try:

        def screen() -> str:
            return subprocess.run(
                [*tmux, "capture-pane", "-e", "-p"], capture_output=True, text=True, check=True
            ).stdout

        def down_shown() -> str | None:
            text = screen()
            return text if "DOWN" in text else None

        shown = wait(down_shown, 20, what="the DOWN service on screen")
        codes = colour_codes(shown)
        truecolor = {c for c in codes if "38;2;" in c or "48;2;" in c}
        indexed = {c for c in codes if "38;5;" in c or "48;5;" in c}
        assert not truecolor, f"24-bit colour sent to a {term} terminal"
        if deep:
            assert indexed, "a 256-colour terminal should get 256-colour codes"
        else:
            assert not indexed, "a 16-colour terminal must get only the 16 standard colours"
            basic = {p for c in codes for p in c.split(";")}
            assert basic & {str(n) for n in [*range(30, 38), *range(90, 98)]}
        # The DOWN word carries a colour that differs from the plain text around it.
        line = next(ln for ln in shown.splitlines() if "DOWN" in ln)
        before = line[: line.index("DOWN")]
        last_sgr = SGR.findall(before)[-1]
        assert last_sgr not in ("", "0", "39"), f"DOWN is not coloured: {line!r}"
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)
