"""Time travel (`[` `]` `{` `}`, esc), the 7d / 30d ranges and the series only the history
holds, over a real history: the frozen app's SqliteSeries in tmp_path (conftest.make_app),
which the intake filled with the frozen checks and host samples, and samples the tests
write at known past times. Queries is the runtime's own, wired to that file."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from support.waiting import until
from tui_data import LATENCY, T, settle

from devmentor_monitor.history.model import (
    DAY,
    HOUR,
    Sample,
    custom_series,
    host_series,
    scraped_series,
    service_series,
)
from devmentor_monitor.incidents.engine import Actor
from devmentor_monitor.incidents.model import Incident, IncidentState, Severity
from devmentor_monitor.tui.app import MonitorApp
from devmentor_monitor.tui.replay import step_to, when
from devmentor_monitor.tui.screens import ChartPane, IncidentDetailScreen, MetricsScreen
from devmentor_monitor.units import format_ms as ms

Text = Callable[[Any], str]
WIDE = (160, 50)
BACK, FORWARD = "left_square_bracket", "right_square_bracket"
# T is 22:13:20 (UTC in these tests): `[` shows 22:13:00, where the newest samples are the
# ones written at PAST (the frozen checks before it ran at T - 34, host samples at T - 22).
PAST = T - 21
OUTAGE = "auth: login storm"


def row(text: str, name: str) -> str:
    return next(line for line in text.splitlines() if f"│ {name} " in line)


async def write(app: MonitorApp, samples: list[Sample]) -> None:
    history = app.monitor.history  # type: ignore[attr-defined]
    history.write(samples)
    await history.flush()


def past_incident(opened: float, resolved: float) -> Incident:
    return Incident(
        id="inc-past",
        service="auth",
        rule="manual",
        severity=Severity.CRITICAL,
        title=OUTAGE,
        description="",
        state=IncidentState.RESOLVED,
        opened_at=opened,
        updated_at=resolved,
        resolved_at=resolved,
        resolved_by="ops",
    )


async def test_time_travel_shows_past_values_and_returns_to_live(
    make_app: Callable[..., MonitorApp], screen_text: Text
) -> None:
    app = make_app()
    await write(
        app,
        [
            Sample(service_series("auth", "up"), PAST, 0.0),  # auth was down then
            Sample(service_series("auth", "ok"), PAST, 0.0),
            Sample(service_series("project", "up"), PAST, 1.0),  # project slow-ish
            Sample(service_series("project", "ok"), PAST, 1.0),
            Sample(service_series("project", "latency_seconds"), PAST, 0.377),
            Sample(host_series("cpu"), PAST, 97.5),
        ],
    )
    # Open from 22:08:20 to 22:13:10: open at 22:13:00, resolved by now.
    app.monitor.db.save_incident(past_incident(T - 300, T - 10), [])  # type: ignore[attr-defined]
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot)
        live = screen_text(app)
        assert "UP" in row(live, "auth")
        assert ms(LATENCY["auth"] * 1.1) in row(live, "auth")
        assert "viewing" not in live
        assert OUTAGE not in live
        assert "no incidents" in live

        await pilot.press(BACK)
        await until(pilot, lambda: app.frame is not None, "the frame read from the history")
        await settle(pilot)
        past = screen_text(app)
        assert "viewing 22:13, press esc for live" in past  # today: no date
        assert "DOWN" in row(past, "auth")
        assert "377 ms" in row(past, "project")
        # memory (DOWN now, after its third failed check) was up then, failing its second
        assert "UP" in row(past, "memory")
        assert "failed" in row(past, "memory")
        assert "97.5 %" in past  # the host CPU then
        assert OUTAGE in past  # the incident open then
        assert "incidents then: 1" in past.splitlines()[0]  # the header counts that moment
        assert "services 4/5 up · 1 down" in past.splitlines()[0]  # auth down, memory up
        assert "no incidents" not in past

        await pilot.press("escape")
        await settle(pilot)
        back = screen_text(app)
        assert app.current_mode == "overview"
        assert "viewing" not in back
        assert "incidents: none" in back.splitlines()[0]
        assert "UP" in row(back, "auth")
        assert ms(LATENCY["auth"] * 1.1) in row(back, "auth")
        assert "377 ms" not in back
        assert OUTAGE not in back

        # `[` twice, `]` once: a minute back, then `]` past now is live again.
        await pilot.press(BACK, BACK)
        await until(pilot, lambda: "viewing 22:12" in screen_text(app), "22:12")
        await pilot.press(FORWARD)
        await until(pilot, lambda: "viewing 22:13," in screen_text(app), "22:13")
        await pilot.press(FORWARD)
        await settle(pilot)
        assert app.travel_at is None
        assert "viewing" not in screen_text(app)
        assert "UP" in row(screen_text(app), "auth")


async def test_an_hour_back_and_nothing_stored_then(
    make_app: Callable[..., MonitorApp], screen_text: Text
) -> None:
    """`{` jumps to the hour before; before the first sample every service says "no data"."""
    app = make_app()
    async with app.run_test(size=WIDE) as pilot:
        await pilot.press("m", "left_curly_bracket")  # from any view: back to the overview
        await until(pilot, lambda: app.frame is not None, "the frame")
        await settle(pilot)
        text = screen_text(app)
        assert app.current_mode == "overview"
        assert "viewing 22:00, press esc for live" in text  # whole hours: 22:13:20 -> 22:00
        assert "no data" in row(text, "auth")
        assert "no host samples stored at that time" in text


async def test_travel_keys_remap_from_config(
    make_app: Callable[..., MonitorApp], screen_text: Text
) -> None:
    app = make_app('tui: {keys: {travel_back: "comma", travel_forward: "full_stop"}}\n')
    async with app.run_test(size=WIDE) as pilot:
        await pilot.press(BACK)  # the old key is gone
        assert app.travel_at is None
        await pilot.press("comma")
        await until(pilot, lambda: "viewing 22:13" in screen_text(app), "the banner")
        text = screen_text(app)
        assert ", . ±1 min" in text.splitlines()[1]  # the banner names the keys as remapped
        assert ", . Time travel" in text.splitlines()[-1]  # and so does the footer
        await pilot.press("full_stop")
        await settle(pilot)
        assert app.travel_at is None


async def test_a_failing_read_says_so_in_the_banner_and_the_app_runs_on(
    make_app: Callable[..., MonitorApp], screen_text: Text
) -> None:
    app = make_app()
    app.monitor.db.close()  # type: ignore[attr-defined]  # the incidents can't be read
    async with app.run_test(size=WIDE) as pilot:
        await pilot.press(BACK)
        await until(pilot, lambda: app.frame_error is not None, "the failed read")
        await settle(pilot)
        banner = screen_text(app).splitlines()[1]
        assert "viewing 22:13, press esc for live" in banner
        assert "history unavailable:" in banner
        await pilot.press("escape")
        await settle(pilot)
        assert app.is_running
        assert "viewing" not in screen_text(app)
        assert "UP" in row(screen_text(app), "auth")


async def test_enter_then_t_on_an_incident_travels_to_its_onset(
    make_app: Callable[..., MonitorApp], screen_text: Text
) -> None:
    app = make_app()
    monitor = app.monitor  # type: ignore[attr-defined]
    inc = await monitor.engine.open_manual(
        "auth", "login errors spiking", Severity.CRITICAL, Actor("ops", "test")
    )
    # At its onset (T) auth's last check had failed; live, the frozen data says UP.
    await write(app, [Sample(service_series("auth", "up"), inc.opened_at - 1, 0.0)])
    async with app.run_test(size=WIDE) as pilot:
        await pilot.press("i")
        await settle(pilot)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, IncidentDetailScreen), "the detail")
        await pilot.press("escape")  # closes the detail, back on the incidents view
        await until(pilot, lambda: not isinstance(app.screen, IncidentDetailScreen), "closed")
        assert app.current_mode == "incidents"
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, IncidentDetailScreen), "the detail")
        assert "t time travel to its onset (22:13:20)" in screen_text(app)
        assert "Onset" in {c.title for c in app.get_system_commands(app.screen)}  # palette
        assert app.theme == "dark"
        await pilot.press("t")  # on the detail, t is the onset, not the theme
        await until(pilot, lambda: app.frame is not None, "the frame")
        await settle(pilot)
        text = screen_text(app)
        assert app.theme == "dark"
        assert app.current_mode == "overview"
        assert app.travel_at == inc.opened_at
        assert "viewing 22:13:20, press esc for live" in text
        assert "DOWN" in row(text, "auth")
        assert "login errors spiking" in text
        await pilot.press("escape")
        await settle(pilot)
        assert "UP" in row(screen_text(app), "auth")


async def test_seven_and_thirty_day_ranges_draw_from_the_rollups(
    make_app: Callable[..., MonitorApp], screen_text: Text
) -> None:
    """Days ago only the history (its hour rollups) has: the rings hold 24 h at most."""
    app = make_app()
    days = [T - 3 * DAY + i * 60 for i in range(240)]  # 4 hours, three days ago
    await write(
        app,
        [Sample(service_series("auth", "latency_seconds"), t, 4.5) for t in days]
        + [Sample(host_series("cpu"), t, 88.0) for t in days],
    )
    async with app.run_test(size=(120, 60)) as pilot:
        await pilot.press("m", "4")
        screen = app.screen
        assert isinstance(screen, MetricsScreen)
        charts = list(screen.query(ChartPane))
        await until(pilot, lambda: all(c._stored is not None for c in charts), "the 7d charts read")
        await settle(pilot)
        text = screen_text(app)
        assert screen.range_name == "7d"
        assert "from stored history" in text
        assert "CPU, 7d (avg per 2 h)" in text  # 7 d over ~110 columns: 2 h a point
        assert "d ago" in text
        latency = next(c for c in charts if c.service_latency)
        lines = dict((label, vs) for label, _, vs in latency._stored[2])  # type: ignore[index,misc]
        assert max(lines["auth"]) == 4500.0  # ms, the mean of the stored 4.5 s
        assert "5000┤" in str(latency.render())  # the y axis reaches it (the next nice step)
        await pilot.press("5")
        await until(pilot, lambda: "30d (avg per 8 h)" in screen_text(app), "the 30d charts")
        await pilot.press("1")  # a live range again: the rings, as before
        await settle(pilot)
        assert "min ago" in screen_text(app)
        assert {c.window for c in charts} == {300.0}


async def test_a_services_day_of_latency_draws_from_the_history(
    make_app: Callable[..., MonitorApp], screen_text: Text
) -> None:
    """A service keeps its last hour of checks in memory (rings.LIVE_SPAN); its 24 h
    chart reads the history, so checks from hours ago show in it."""
    app = make_app()
    hours_ago = [T - 10 * HOUR + i * 60 for i in range(240)]  # 4 hours, from 10 h ago
    spike = hours_ago[120]  # one 30 s check among 4.5 s ones: a step's worst is drawn
    series = service_series("auth", "latency_seconds")
    await write(app, [Sample(series, t, 30.0 if t == spike else 4.5) for t in hours_ago])
    async with app.run_test(size=WIDE) as pilot:
        await pilot.press("s", "3")
        chart = app.screen.query_one("#svc-chart", ChartPane)
        await until(pilot, lambda: chart._stored is not None, "the 24h chart read")
        await settle(pilot)
        text = screen_text(app)
        assert "auth latency, 24h (max per" in text
        assert "from stored history" in text
        lines = dict((label, vs) for label, _, vs in chart._stored[2])  # type: ignore[index,misc]
        assert max(lines["auth"]) == 30000.0  # ms: the spike of 8 h ago, not averaged away
        assert 4500.0 in lines["auth"]  # the checks of 10 h ago
        assert "h ago" in text
        await pilot.press("2")  # the last hour: the ring in memory, as before
        await settle(pilot)
        assert "from memory" in screen_text(app)
        assert "min ago" in screen_text(app)


async def test_service_view_charts_its_scraped_series_and_metrics_the_custom_ones(
    make_app: Callable[..., MonitorApp], screen_text: Text
) -> None:
    app = make_app()
    requests = scraped_series("auth", "http_requests_total", {"code": "200"})
    other = scraped_series("memory", "cache_hits_total", {})
    orders = custom_series("orders_placed", {"region": "eu"})
    minutes = [T - 3000 + 60 * i for i in range(50)]
    await write(
        app,
        [Sample(requests, t, 100.0 + i) for i, t in enumerate(minutes)]
        + [Sample(other, t, 7.0) for t in minutes]
        + [Sample(orders, t, 42.0) for t in minutes],
    )
    async with app.run_test(size=WIDE) as pilot:
        await pilot.press("s")
        await until(pilot, lambda: "auth: scraped metrics" in screen_text(app), "the pane")
        await until(pilot, lambda: "http_requests_total" in screen_text(app), "the series")
        text = screen_text(app)
        line = next(ln for ln in text.splitlines() if "http_requests_total" in ln)
        assert 'http_requests_total{code="200"}' in line
        assert "149" in line  # the last value
        assert "min 100" in line
        assert "cache_hits_total" not in text  # memory's, not auth's
        await pilot.press("down")  # memory
        await until(pilot, lambda: "cache_hits_total" in screen_text(app), "memory's series")
        await pilot.press("down")  # ai-gateway: nothing scraped
        await until(pilot, lambda: "none stored" in screen_text(app), "the empty state")
        await pilot.press("m")  # the custom metrics: below the charts
        app.screen.query_one("#charts").scroll_end(animate=False)
        await until(pilot, lambda: "orders_placed" in screen_text(app), "the custom series")
        assert "42" in next(ln for ln in screen_text(app).splitlines() if "orders_placed" in ln)


def test_steps_land_on_whole_minutes_and_the_banner_dates_other_days(utc: None) -> None:
    assert step_to(T, -60) == T - 20  # 22:13:20 -> 22:13:00
    assert step_to(T - 20, -60) == T - 80  # -> 22:12:00
    assert step_to(T - 80, 60) == T - 20
    assert step_to(T, -HOUR) == T - 20 - 13 * 60  # -> 22:00:00
    assert when(T - 20, T) == "22:13"
    assert when(T, T) == "22:13:20"
    assert when(T - DAY - 20, T) == "2023-11-13 22:13"
