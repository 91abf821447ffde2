"""`S`: silence a service from the dashboard, through the same commands as the API.

The Services view silences the selected service, the Incidents view the selected
incident's service. A small modal asks how long and why; the silence (matcher
service="<name>", creator "tui") is written by `Commands.silence_add`: on disk, audited,
and read by the dispatcher like one made over HTTP or with `devmentor-monitor silence`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from devmentor_monitor.incidents.silence_book import MAX_COMMENT, MAX_SILENCE
from devmentor_monitor.units import format_duration, parse_duration

if TYPE_CHECKING:
    from devmentor_monitor.incidents.silences import Silence
    from devmentor_monitor.tui.app import MonitorApp

DEFAULT_DURATION = "2h"


def silenced_line(silence: Silence) -> str:
    """How an incident or service says it is muted: by which silence, why, until when."""
    until = time.strftime("%Y-%m-%d %H:%M", time.localtime(silence.ends_at))
    return f"silenced by {silence.id} ({silence.comment}, until {until})"


class SilenceScreen(ModalScreen[tuple[float, str] | None]):
    """How long and why; enter in the comment creates, esc cancels (app.action_back)."""

    DEFAULT_CSS = """
    SilenceScreen { align: center middle; }
    SilenceScreen > Vertical { width: 72; height: auto; padding: 1 2;
                               border: thick $warning; background: $surface; }
    SilenceScreen Input { width: 1fr; }
    SilenceScreen #silence-error { color: $error; height: auto; }
    """

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def compose(self) -> ComposeResult:
        with Vertical(id="silence"):
            title = Text(f"Silence {self.service}\n", style="bold")
            title.append(
                f'mutes every notification of service="{self.service}" until it ends',
                style="dim",
            )
            yield Static(title)
            yield Static("for (30m, 2h, 1d)")
            yield Input(DEFAULT_DURATION, id="silence-for")
            yield Static("why (shown on every silenced incident)")
            yield Input(placeholder="e.g. planned auth deploy", id="silence-comment")
            yield Static(id="silence-error")
            yield Static(Text("enter create · tab next field · esc cancel", style="dim"))

    def on_mount(self) -> None:
        self.query_one("#silence-for", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "silence-for" and not self._comment():
            self.query_one("#silence-comment", Input).focus()
            return
        self.submit()

    def _comment(self) -> str:
        return self.query_one("#silence-comment", Input).value.strip()

    def submit(self) -> None:
        raw = self.query_one("#silence-for", Input).value.strip()
        try:
            seconds = parse_duration(raw)
        except ValueError as exc:
            self._error(str(exc))
            return
        if not 1 <= seconds <= MAX_SILENCE:
            self._error(f"between 1s and {format_duration(MAX_SILENCE)}, got {raw!r}")
            return
        comment = self._comment()
        if not comment:
            self._error("say why: the comment shows on every silenced incident")
            self.query_one("#silence-comment", Input).focus()
            return
        if len(comment) > MAX_COMMENT:
            self._error(f"the comment is over {MAX_COMMENT} characters")
            return
        self.dismiss((seconds, comment))

    def _error(self, message: str) -> None:
        self.query_one("#silence-error", Static).update(message)


def open_silence(app: MonitorApp, service: str | None) -> None:
    """Ask for a silence of ``service``; on an answer, write it in a worker and say so."""
    if service is None:
        app.notify("S silences a service: select one on the Services or Incidents view", timeout=3)
        return
    commands = app.commands
    if commands is None:
        app.notify("the monitor is still starting", timeout=2)
        return

    async def create(seconds: float, comment: str) -> None:
        from devmentor_monitor.incidents.engine import Actor
        from devmentor_monitor.incidents.silence_book import SilenceError
        from devmentor_monitor.incidents.silences import Matcher

        try:
            made = await commands.silence_add(
                [Matcher("service", service)],
                comment=comment,
                actor=Actor("tui", "tui"),
                duration=seconds,
            )
        except SilenceError as exc:
            app.notify(str(exc), severity="warning", timeout=4)
        except Exception as exc:  # storage trouble: say so, keep running
            app.notify(f"silence failed: {exc}", severity="error", timeout=5)
        else:
            app.notify(f"{service} silenced for {format_duration(seconds)} ({made.id})", timeout=3)
            app.tick(force=True)

    def answered(answer: tuple[float, str] | None) -> None:
        if answer is not None:
            app.run_worker(create(*answer), group="silence", exit_on_error=False)

    app.push_screen(SilenceScreen(service), answered)
