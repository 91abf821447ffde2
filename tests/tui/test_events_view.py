"""The events view (`e`) and the overview's ticker: a live tail that filters and pauses."""

from __future__ import annotations

from typing import Any

from tui_data import T, settle

from devmentor_monitor.events.model import Event, EventSeverity, Rejected, parse_event
from devmentor_monitor.observations import EventRejected, EventsAccepted
from devmentor_monitor.tui.events_view import MAX_ROWS, EventsTable


def publish(app: Any, *events: tuple[str, str, EventSeverity, str]) -> None:
    app.monitor.intake.observe(
        EventsAccepted(
            [
                Event(T, etype, service, sev, message, {}, "redis:devmentor:events")
                for etype, service, sev, message in events
            ]
        )
    )


def rows(app: Any) -> list[list[str]]:
    table = app.screen.query_one(EventsTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def test_tail_pause_severity_and_filter(app: Any, screen_text: Any) -> None:
    async with app.run_test(size=(140, 40)) as pilot:
        publish(app, ("deploy.finished", "auth", EventSeverity.INFO, "v2.14 rolled out"))
        await pilot.press("e")
        await settle(pilot, force=False)
        text = screen_text(app)
        assert "deploy.finished" in text
        assert "v2.14 rolled out" in text
        assert " live " in text
        assert "received" in text

        await pilot.press("space")  # pause: new events are counted, not shown
        await settle(pilot, force=False)
        publish(app, ("deploy.failed", "memory", EventSeverity.ERROR, "rollout of v9 failed"))
        await settle(pilot, force=False)
        assert "rollout of v9 failed" not in screen_text(app)
        assert "PAUSED" in screen_text(app)
        assert "1 new" in screen_text(app)
        await pilot.press("space")
        await settle(pilot, force=False)
        assert "rollout of v9 failed" in screen_text(app)
        assert rows(app)[-1][2:4] == ["deploy.failed", "memory"]  # newest at the bottom

        await pilot.press("v")  # severity ≥ warning: the info events go
        await settle(pilot, force=False)
        shown = rows(app)
        assert {r[1] for r in shown} == {"error"}  # memory going down, and the failed deploy
        assert "deploy.failed" in [r[2] for r in shown]
        assert "deploy.finished" not in [r[2] for r in shown]
        assert "severity ≥ warning" in screen_text(app)
        await pilot.press("v", "v", "v")  # back to all
        await settle(pilot, force=False)
        assert "v2.14 rolled out" in screen_text(app)

        await pilot.press("slash", *"v9")
        await settle(pilot, force=False)
        assert [r[4] for r in rows(app)] == ["rollout of v9 failed"]
        await pilot.press("escape")
        await settle(pilot, force=False)
        assert "v2.14 rolled out" in screen_text(app)


async def test_a_flood_is_capped_and_rejections_are_shown(make_app: Any, screen_text: Any) -> None:
    # The periodic tick off (1 h): on a loaded machine the flood takes over a second, and
    # the 1 s timer's own redraws would be counted as the flood's.
    app = make_app("tui:\n  refresh: 1h\n")
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("e")
        await settle(pilot, force=False)
        publish(app, *[("load.tick", "auth", EventSeverity.INFO, f"n={i}") for i in range(5000)])
        for raw in (b"{oops", b'{"type": "x"}'):
            try:
                parse_event(raw, "redis:devmentor:events", 65536)
            except Rejected as exc:
                app.monitor.intake.observe(EventRejected("redis:devmentor:events", exc, raw))
        ticks = app.ticks
        await settle(pilot, force=False)
        assert app.ticks == ticks + 1  # one redraw for the whole flood
        table = rows(app)
        assert len(table) <= MAX_ROWS
        assert table[-1][4] == "n=4999"
        text = screen_text(app)
        assert "malformed_json 1" in text
        assert "missing_field 1" in text


async def test_overview_ticker_shows_the_newest_events(app: Any, screen_text: Any) -> None:
    async with app.run_test(size=(160, 50)) as pilot:
        publish(app, ("deploy.finished", "project", EventSeverity.INFO, "v3 live"))
        await settle(pilot, force=False)
        ticker = next(line for line in screen_text(app).splitlines() if "deploy.finished" in line)
        assert "project: v3 live" in ticker
