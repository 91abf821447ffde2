"""The latency trends redraw a service's block only when its own data changed: a new check
of one service shows at once, the other services' blocks are the ones already drawn."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tui_data import T, settle

from devmentor_monitor.model import CheckResult
from devmentor_monitor.tui.app import MonitorApp
from devmentor_monitor.tui.trends import LatencyTrends

Screen = Callable[[Any], str]


async def test_a_new_check_redraws_its_block_only(app: MonitorApp, screen_text: Screen) -> None:
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        trends = app.screen.query_one("#trends", LatencyTrends)
        blocks = dict(trends._blocks)
        assert set(blocks) == {"auth", "memory", "ai-gateway", "project", "monitoring"}
        assert "now 34 ms" in screen_text(app)

        app.monitor.intake.observe(  # type: ignore[attr-defined]
            CheckResult("project", T - 1, ok=True, latency=0.077, status_code=200)
        )
        app.tick()  # the notices only: "service:project"
        await pilot.pause()
        text = screen_text(app)
        assert "now 77 ms" in text
        assert "21 checks" in text  # project's block counts its new check
        for name in ("auth", "memory", "ai-gateway", "monitoring"):
            assert trends._blocks[name][1] is blocks[name][1], name  # kept, not drawn again
        assert trends._blocks["project"][1] is not blocks["project"][1]


async def test_the_same_blocks_are_not_painted_again(app: MonitorApp, screen_text: Screen) -> None:
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        trends = app.screen.query_one("#trends", LatencyTrends)
        shown = trends.visual
        app.tick(force=True)  # every pane asked to draw, nothing new for the trends
        await pilot.pause()
        assert trends.visual is shown  # kept: not visualized nor painted again
        app.monitor.intake.observe(  # type: ignore[attr-defined]
            CheckResult("auth", T - 1, ok=True, latency=0.066, status_code=200)
        )
        app.tick(force=True)
        await pilot.pause()
        assert trends.visual is not shown
        assert "now 66 ms" in screen_text(app)


async def test_a_healthy_fleet_shows_its_first_services_in_order(
    make_app: Callable[..., MonitorApp], screen_text: Screen
) -> None:
    """Every service up: the trends show services.yaml's first ones, the rest counted."""
    extra = "".join(f"  - name: svc-{i:02d}\n    url: http://127.0.0.1:1/{i}\n" for i in range(40))
    app = make_app(extra)
    names = [*app.store.service_names()]  # type: ignore[union-attr]
    for name in names:  # a fast, passing check for each: all up
        for k in range(3):
            app.monitor.intake.observe(  # type: ignore[attr-defined]
                CheckResult(name, T - 3 + k, ok=True, latency=0.004, status_code=200)
            )
    assert app.store.counts()["up"] == len(names)  # type: ignore[union-attr]
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        trends = app.screen.query_one("#trends", LatencyTrends)
        shown = list(trends._blocks)
        assert shown == names[: len(shown)]  # services.yaml's order
        assert f"… {len(names) - len(shown)} more in the services table" in screen_text(app)
