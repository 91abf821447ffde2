"""`S`: silence the selected incident's (or service's) service from a modal, through the
same commands as the API; the incident detail then says which silence mutes it."""

from __future__ import annotations

from msgspec.structs import replace
from support.waiting import until
from textual.widgets import Input, Static
from tui_data import CONFIG_TEXT, HOSTNAME, T, frozen_monitor, settle, views_of

from devmentor_monitor.config.schema import parse_text
from devmentor_monitor.incidents.engine import Actor
from devmentor_monitor.incidents.model import Severity
from devmentor_monitor.incidents.silences import Matcher
from devmentor_monitor.tui.app import MonitorApp
from devmentor_monitor.tui.silence import SilenceScreen

SIZE = (120, 40)


def _app(tmp_path):
    config = replace(parse_text(CONFIG_TEXT), data_dir=str(tmp_path))
    monitor = frozen_monitor(config)
    monitor.db.open()
    app = MonitorApp(config, **views_of(monitor), clock=lambda: T, hostname=HOSTNAME)
    return monitor, app


async def test_s_on_an_incident_silences_its_service_and_the_detail_says_so(
    tmp_path, utc, no_color_unset, screen_text
):
    monitor, app = _app(tmp_path)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await monitor.engine.open_manual(
                "auth", "login errors spiking", Severity.CRITICAL, Actor("ops", "test")
            )
            await pilot.press("i")
            await settle(pilot)
            assert "silenced by" not in screen_text(app)
            assert "r resolve · S silence" in screen_text(app)

            await pilot.press("S")  # esc cancels: nothing is written
            await until(pilot, lambda: isinstance(app.screen, SilenceScreen), "the modal")
            await pilot.press("escape")
            await pilot.pause()
            assert not isinstance(app.screen, SilenceScreen)
            assert monitor.queries.silences() == []

            await pilot.press("S")
            await until(pilot, lambda: isinstance(app.screen, SilenceScreen), "the modal")
            text = screen_text(app)
            assert "Silence auth" in text
            assert 'service="auth"' in text
            assert app.screen.query_one("#silence-for", Input).value == "2h"
            await pilot.press("enter")  # the duration as offered; on to the comment
            await pilot.press("enter")  # no comment: the modal says why it stays
            assert isinstance(app.screen, SilenceScreen)
            assert "say why" in screen_text(app)
            await pilot.press(*"auth deploy", "enter")
            await until(pilot, lambda: monitor.queries.silences(), "the silence")
            await settle(pilot)

            (made,) = monitor.queries.silences()
            assert made.matchers == (Matcher("service", "auth"),)
            assert made.created_by == "tui"
            assert made.comment == "auth deploy"
            assert (made.starts_at, made.ends_at) == (T, T + 7200)
            assert [s.id for s in monitor.db.load_silences()] == [made.id]  # on disk
            audit = [(a.actor, a.action, a.target) for a in monitor.db.load_audit()]
            assert ("tui", "silence.create", made.id) in audit
            assert app.current_mode == "incidents"
            assert "silenced by" in screen_text(app)
            detail = str(app.screen.query_one("#inc-timeline", Static).content)
            assert f"silenced by {made.id} (auth deploy, until 2023-11-15 00:13)" in detail
    finally:
        monitor.db.close()


async def test_s_on_the_services_view_silences_the_selected_service(
    tmp_path, utc, no_color_unset, screen_text
):
    monitor, app = _app(tmp_path)
    try:
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await settle(pilot)
            await pilot.press("S")  # the overview has no selection to silence
            await until(pilot, lambda: "select one on the Services" in screen_text(app), "toast")
            assert not isinstance(app.screen, SilenceScreen)

            await pilot.press("s")
            await settle(pilot)
            await pilot.press("down")  # auth -> memory
            await settle(pilot)
            assert "S silence this service" in screen_text(app)
            await pilot.press("S")
            await until(pilot, lambda: isinstance(app.screen, SilenceScreen), "the modal")
            assert "Silence memory" in screen_text(app)
            box = app.screen.query_one("#silence-for", Input)
            box.value = "90m"
            await pilot.press("tab", *"db migration", "enter")
            await until(pilot, lambda: monitor.queries.silences(), "the silence")
            (made,) = monitor.queries.silences()
            assert made.matchers == (Matcher("service", "memory"),)
            assert made.ends_at == T + 5400
            await settle(pilot)
            assert "silenced by" in screen_text(app)
            assert monitor.queries.silence_for({"service": "memory"}) == made
            assert monitor.queries.silence_for({"service": "auth"}) is None
    finally:
        monitor.db.close()
