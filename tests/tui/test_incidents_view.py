"""The incidents pane and view: real incidents from the engine; `a` and `r` act through it."""

from __future__ import annotations

from msgspec.structs import replace
from support.waiting import until
from tui_data import CONFIG_TEXT, HOSTNAME, T, frozen_monitor, settle, views_of

from devmentor_monitor.config.schema import parse_text
from devmentor_monitor.incidents.engine import Actor
from devmentor_monitor.incidents.model import IncidentState, Severity
from devmentor_monitor.tui.app import MonitorApp
from devmentor_monitor.tui.confirm import ConfirmScreen


async def test_acknowledge_and_resolve_from_the_incidents_view(
    tmp_path, utc, no_color_unset, screen_text
):
    config = replace(parse_text(CONFIG_TEXT), data_dir=str(tmp_path))
    monitor = frozen_monitor(config)
    monitor.db.open()
    try:
        app = MonitorApp(config, **views_of(monitor), clock=lambda: T, hostname=HOSTNAME)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            assert "no incidents" in screen_text(app)
            inc = await monitor.engine.open_manual(
                "auth", "login errors spiking", Severity.CRITICAL, Actor("ops", "test")
            )
            await settle(pilot)
            overview = screen_text(app)
            assert "CRIT auth: login errors spiking" in overview  # the overview's pane
            assert "incidents: 1" in overview.splitlines()[0]  # and the header

            await pilot.press("i")
            await settle(pilot)
            view = screen_text(app)
            assert "login errors spiking" in view
            assert "opened" in view
            await pilot.press("a")
            await settle(pilot)
            saved = monitor.db.load_incident(inc.id)
            assert saved.state is IncidentState.ACKNOWLEDGED
            assert saved.acknowledged_by == "tui"
            assert "acknowledged" in screen_text(app)
            await pilot.press("r")  # asks first, as container actions do
            await settle(pilot)
            assert isinstance(app.screen, ConfirmScreen)
            await pilot.press("y")
            await until(
                pilot,
                lambda: monitor.db.load_incident(inc.id).state is IncidentState.RESOLVED,
                "the resolve",
            )
            await settle(pilot)
            assert "no incidents" in screen_text(app)
            assert [a.action for a in monitor.db.load_audit()][:2] == [
                "incident.resolve",
                "incident.acknowledge",
            ]
    finally:
        monitor.db.close()


async def test_failing_notification_channel_shows_in_the_header(make_app, screen_text):
    app = make_app()
    async with app.run_test(size=(160, 50)) as pilot:
        app.store.set_notifications({("ops", "retry"): 3}, {"ops": "HTTP 503 Service Unavailable"})
        await settle(pilot)
        header = screen_text(app).splitlines()[0]
        assert "notify ops: failing: HTTP 503" in header


async def test_a_dead_source_says_why_and_the_rest_keeps_updating(make_app, screen_text):
    from devmentor_monitor.model import CheckResult, SourceState, SourceStatus

    app = make_app()
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        monitor = app.monitor
        monitor.intake.observe(
            SourceStatus("system", SourceState.UNAVAILABLE, "psutil took over 5 s", retry_at=T + 5)
        )
        # ... while health checks go on arriving: memory recovers.
        monitor.intake.observe(CheckResult("memory", T, ok=True, latency=0.02, status_code=200))
        await settle(pilot)
        text = screen_text(app)
        why = "system: unavailable: psutil took over 5 s"
        host_lines = [ln.split("││", 1)[1] for ln in text.splitlines() if "││" in ln]
        assert any(why in ln for ln in host_lines), "the host pane must say why"
        memory = next(line for line in text.splitlines() if "│ memory " in line)
        assert "UP" in memory


async def test_incidents_update_by_row_key_without_rebuilding_the_table(
    tmp_path, utc, no_color_unset
):
    """A tick where one incident changes changes that row only: the table is not cleared,
    the other rows are the same rows, and the cursor stays on the incident it was on."""
    from textual.widgets import DataTable

    config = replace(parse_text(CONFIG_TEXT), data_dir=str(tmp_path))
    monitor = frozen_monitor(config)
    monitor.db.open()
    try:
        app = MonitorApp(config, **views_of(monitor), clock=lambda: T, hostname=HOSTNAME)
        async with app.run_test(size=(120, 40)) as pilot:
            actor = Actor("ops", "test")
            incs = [
                await monitor.engine.open_manual(svc, f"{svc} trouble", Severity.HIGH, actor)
                for svc in ("auth", "payments", "search")
            ]
            await pilot.press("i")
            await settle(pilot)
            table = app.screen.query_one("#inc-list", DataTable)
            await pilot.press("down")
            await settle(pilot)
            selected = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
            rows_before = {key.value: row for key, row in table.rows.items()}
            assert len(rows_before) == 3
            clears = 0
            clear = table.clear

            def counting_clear(*args, **kw):
                nonlocal clears
                clears += 1
                return clear(*args, **kw)

            table.clear = counting_clear
            changed = next(i.id for i in incs if i.id != selected)
            await monitor.engine.acknowledge(changed, actor)
            await settle(pilot)

            assert clears == 0
            assert table.get_cell(changed, "state") == "ack"
            rows_after = {key.value: row for key, row in table.rows.items()}
            assert rows_after.keys() == rows_before.keys()
            assert all(rows_after[k] is rows_before[k] for k in rows_before)
            cursor = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
            assert cursor == selected
    finally:
        monitor.db.close()


async def test_the_incident_detail_shows_signals_dependents_silence_and_why_it_paged(
    tmp_path, utc, no_color_unset, screen_text
):
    """The root's incident holds its dependent's signal; the detail lists both signals,
    the dependent, the silence state and the API's why_paged line, word for word, before
    and after a silence mutes it. The Services view says when a service flaps."""
    from textual.widgets import Static

    from devmentor_monitor.incidents.signals import make_signal
    from devmentor_monitor.incidents.silences import Matcher

    config = replace(parse_text(CONFIG_TEXT), data_dir=str(tmp_path))
    monitor = frozen_monitor(config)
    monitor.db.open()
    try:
        app = MonitorApp(config, **views_of(monitor), clock=lambda: T, hostname=HOSTNAME)
        async with app.run_test(size=(160, 50)) as pilot:
            engine, queries = monitor.engine, monitor.queries
            down = {"metric": "down", "value": 1.0, "threshold": 0.5}
            root = await engine.on_signal(
                make_signal("service_down", "auth", "auth", Severity.CRITICAL, True, T, **down)
            )
            await engine.on_signal(
                make_signal("service_down", "memory", "memory", Severity.HIGH, True, T, **down)
            )
            inc = monitor.store.incident(root.id)
            assert inc.dependents == ("memory",)
            await pilot.press("i")
            await settle(pilot)

            def detail() -> str:
                return str(app.screen.query_one("#inc-timeline", Static).content)

            text = detail()
            why = queries.why_paged(monitor.store.incident(root.id))
            assert why == "not paged: waiting group_wait until 2023-11-14T22:13:25Z"
            assert f"why this paged: {why}" in text
            assert "not silenced" in text
            assert "dependents: memory (their signals join this incident)" in text
            assert "Signals" in text
            assert "● firing  down      service_down on auth  value 1 / 0.5  since 22:13:20" in text
            assert "● firing  down      service_down on memory  value 1 / 0.5" in text
            assert "Timeline" in text
            assert "why this paged" in screen_text(app)  # on screen, not only in the widget

            made = await monitor.commands.silence_add(
                [Matcher("service", "auth")],
                comment="auth deploy",
                actor=Actor("tui", "tui"),
                duration=3600,
            )
            await engine.dispatcher.consider(monitor.store.incident(root.id), T)
            await settle(pilot)
            text = detail()
            why = queries.why_paged(monitor.store.incident(root.id))
            assert why == f"not paged: silenced by {made.id} (auth deploy)"
            assert f"why this paged: {why}" in text
            assert f"silenced by {made.id} (auth deploy, until 2023-11-14 23:13)" in text
            assert "not silenced" not in text

            for ok in (True, False) * 6:  # alternating checks: flapping
                monitor.flaps.observe("project", ok)
            await pilot.press("s")
            await settle(pilot)
            for _ in range(3):  # auth -> memory -> ai-gateway -> project
                await pilot.press("down")
            await settle(pilot)
            summary = str(app.screen.query_one("#svc-summary", Static).content)
            flap = monitor.queries.flap_state("project")
            assert flap.flapping
            assert f"FLAPPING ({flap.change:.0%} state change over its last 21 checks)" in summary
            assert "burn rate long/short: fast" in summary
    finally:
        monitor.db.close()
