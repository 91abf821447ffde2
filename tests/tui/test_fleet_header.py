"""The header in a fleet (issue 20): "fleet N · leader <id>" while a member; in fallback
the cluster source's reason (Redis unreachable, every check here), as for any source."""

from __future__ import annotations

from msgspec.structs import replace
from support.waiting import until
from tui_data import CONFIG_TEXT, HOSTNAME, T, frozen_monitor, settle, views_of

from devmentor_monitor.cluster.state import FleetView, Member
from devmentor_monitor.config.schema import parse_text
from devmentor_monitor.model import SourceState, SourceStatus
from devmentor_monitor.tui.app import MonitorApp


async def test_header_shows_the_fleet_and_then_the_fallback(tmp_path, utc, screen_text):
    config = replace(parse_text(CONFIG_TEXT), data_dir=str(tmp_path))
    monitor = frozen_monitor(config)
    app = MonitorApp(config, **views_of(monitor), clock=lambda: T, hostname=HOSTNAME)
    async with app.run_test(size=(160, 30)) as pilot:
        await settle(pilot)
        assert "fleet" not in screen_text(app).splitlines()[0]  # solo: nothing said
        members = (Member("web-1", "http://a:3006", T, 3), Member("web-2", "http://b:3006", T, 2))
        monitor.intake.observe(FleetView("web-2", "member", members, "web-1"))
        await until(
            pilot,
            lambda: "fleet 2 · leader web-1" in screen_text(app).splitlines()[0],
            "the fleet in the header",
        )
        reason = "redis unreachable, running all 5 checks: Connection refused"
        monitor.intake.observe(FleetView("web-2", "fallback", reason=reason))
        monitor.intake.observe(SourceStatus("cluster", SourceState.UNAVAILABLE, reason))
        await until(
            pilot,
            lambda: (
                "cluster: unavailable: redis unreachable, running all 5 checks"
                in screen_text(app).splitlines()[0]
            ),
            "the fallback in the header",
        )
        assert "fleet 2" not in screen_text(app).splitlines()[0]


async def test_the_self_panel_lists_the_members_their_shares_and_the_leader(
    tmp_path, utc, screen_text
):
    """`$`: who is in the fleet, which share of the checks each runs, its API and how
    long it has run; the leader and this instance marked; in a fallback, why."""
    config = replace(parse_text(CONFIG_TEXT), data_dir=str(tmp_path))
    monitor = frozen_monitor(config)
    app = MonitorApp(config, **views_of(monitor), clock=lambda: T, hostname=HOSTNAME)
    total = len(config.services)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        members = (
            Member("web-1", "http://10.0.0.1:3006", T - 7200, total - 2),
            Member("web-2", "http://10.0.0.2:3006", T - 60, 2),
        )
        monitor.intake.observe(FleetView("web-2", "member", members, "web-1"))
        await pilot.press("dollar_sign")
        await until(pilot, lambda: "Fleet" in screen_text(app), "the fleet in the self panel")
        lines = screen_text(app).splitlines()
        assert any("2 members · leader web-1" in line for line in lines)
        leader = next(line for line in lines if "web-1" in line and "10.0.0.1" in line)
        me = next(line for line in lines if "web-2" in line and "10.0.0.2" in line)
        assert "*" in leader.split("web-1")[0]
        assert ">" in me.split("web-2")[0]
        assert f"{total - 2}" in leader
        assert " 2h " in leader
        assert " 1m " in me
        assert f"{round(100 * 2 / total)}%" in me
        reason = "redis unreachable, running all 5 checks: Connection refused"
        monitor.intake.observe(FleetView("web-2", "fallback", reason=reason))
        await until(pilot, lambda: reason in screen_text(app), "the fallback's reason")
        assert "members" not in screen_text(app)
