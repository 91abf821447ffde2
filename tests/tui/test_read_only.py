"""--read-only on the dashboard (issue 18): the write keys are refused with a visible
message and change nothing, the header and the incident pane say read-only, and Commands
refuses the write itself whoever asks."""

from __future__ import annotations

import re

import pytest
from msgspec.structs import replace
from support.waiting import until
from tui_data import CONFIG_TEXT, HOSTNAME, T, frozen_monitor, settle, views_of

from devmentor_monitor.commands import ReadOnlyError
from devmentor_monitor.config.schema import parse_text
from devmentor_monitor.incidents.engine import Actor
from devmentor_monitor.incidents.model import IncidentState, Severity
from devmentor_monitor.tui.app import MonitorApp
from devmentor_monitor.tui.silence import SilenceScreen

READ_ONLY = "the monitor runs read-only (--read-only)"


def flat(text: str) -> str:
    """The screen's words in one line, borders dropped: a toast wraps its message."""
    return " ".join(re.sub("[│▌╭╮╰╯─]", " ", text).split())


async def test_acknowledge_on_a_read_only_dashboard_says_so_and_changes_nothing(
    tmp_path, utc, no_color_unset, screen_text
):
    config = replace(parse_text(CONFIG_TEXT), data_dir=str(tmp_path))
    config = replace(config, server=replace(config.server, read_only=True))
    monitor = frozen_monitor(config)
    monitor.db.open()
    try:
        app = MonitorApp(config, **views_of(monitor), clock=lambda: T, hostname=HOSTNAME)
        async with app.run_test(size=(120, 40), notifications=True) as pilot:
            inc = await monitor.engine.open_manual(
                "auth", "login errors spiking", Severity.CRITICAL, Actor("ops", "test")
            )
            await pilot.press("i")
            await settle(pilot)
            view = screen_text(app)
            assert "read-only" in view.splitlines()[0]  # the header, on every view
            assert "read-only: a acknowledge · r resolve · S" in view  # the incident pane
            footer = app.screen.query_one("#keys").content
            struck = {
                footer.plain[s.start : s.end] for s in footer.spans if "strike" in str(s.style)
            }
            assert {"a", " Ack", "r", " Resolve"} <= struck  # the write keys show disabled
            assert " Incidents" not in struck

            await pilot.press("a")
            refused = f"{READ_ONLY}: acknowledge is disabled"
            await until(pilot, lambda: refused in flat(screen_text(app)), "the refusal toast")
            await pilot.press("S")
            refused = f"{READ_ONLY}: silence is disabled"
            await until(pilot, lambda: refused in flat(screen_text(app)), "the refusal toast")
            assert not isinstance(app.screen, SilenceScreen)  # no form to fill in vain

            saved = monitor.db.load_incident(inc.id)
            assert saved.state is IncidentState.OPEN
            assert saved.acknowledged_by is None
            assert monitor.store.incident(inc.id).acknowledged_by is None
            assert "incident.acknowledge" not in [a.action for a in monitor.db.load_audit()]
            with pytest.raises(ReadOnlyError, match="read-only"):  # whoever asks
                await monitor.commands.acknowledge(inc.id, Actor("ops", "test"))
            assert monitor.db.load_incident(inc.id).state is IncidentState.OPEN
    finally:
        monitor.db.close()
