"""The adaptive overview: every pane takes the rows its content needs and the rest goes to
latency trends and host history, so at 160x50 and 240x70 no pane is more than a quarter
empty; at 80x24 everything still fits. With the demo's five services and with a fleet of
40. Snapshots: look at the SVGs in __snapshots__/ before accepting them (--snapshot-update).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from msgspec.structs import replace
from tui_data import CONFIG_TEXT, HOSTNAME, LATENCY, T, frozen_monitor, render_text, settle

from devmentor_monitor.config.schema import parse_text
from devmentor_monitor.incidents.engine import Actor
from devmentor_monitor.incidents.model import Severity
from devmentor_monitor.model import CheckResult
from devmentor_monitor.tui.app import MonitorApp

PANES = ("#services", "#trends", "#system", "#incidents", "#predictions")
SIZES = [(80, 24), (160, 50), (240, 70)]
IDS = ["80x24", "160x50", "240x70"]


def fleet_text(extra: int) -> str:
    """The demo's five services and ``extra`` more."""
    lines = [
        f"  - name: svc-{i:02d}\n    url: http://127.0.0.1:{4000 + i}/health\n"
        for i in range(extra)
    ]
    return CONFIG_TEXT + "".join(lines)


@pytest.fixture
def fleet(utc: None, no_color_unset: None, tmp_path: Path) -> Iterator[Callable[[int], Any]]:
    """An app over ``n`` services (5: the demo's), each with 10 minutes of checks."""
    monitors: list[Any] = []

    def make(n: int) -> MonitorApp:
        config = replace(
            parse_text(fleet_text(n - len(LATENCY))),
            data_dir=str(tmp_path / f"data{len(monitors)}"),
        )
        monitor = frozen_monitor(config)
        for i in range(n - len(LATENCY)):
            for k in range(20):
                latency = 0.005 + 0.001 * ((i + k) % 7)
                monitor.intake.observe(
                    CheckResult(f"svc-{i:02d}", T - 600 + 30 * (k + 1), ok=True, latency=latency)
                )
        monitor.db.open()
        monitors.append(monitor)
        app = MonitorApp(
            config,
            store=monitor.store,
            commands=monitor.commands,
            queries=monitor.queries,
            clock=lambda: T,
            hostname=HOSTNAME,
        )
        app.monitor = monitor  # type: ignore[attr-defined]
        return app

    yield make
    for monitor in monitors:
        monitor.db.close()


def empty_rows(app: MonitorApp) -> dict[str, tuple[int, int]]:
    """Per pane shown: (rows below its last non-blank line, its content rows)."""
    lines = render_text(app).splitlines()
    out = {}
    for selector in PANES:
        pane = app.screen.query_one(selector)
        if not pane.display:
            continue
        r = pane.region
        rows = [lines[y][r.x + 1 : r.x + r.width - 1] for y in range(r.y + 1, r.bottom - 1)]
        filled = [i for i, row in enumerate(rows) if row.strip()]
        last = filled[-1] if filled else -1
        out[selector] = (len(rows) - 1 - last, len(rows))
    return out


@pytest.mark.parametrize("services", [5, 40])
@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_overview_adaptive(
    snap_compare: Callable[..., bool],
    fleet: Callable[[int], MonitorApp],
    size: tuple[int, int],
    services: int,
) -> None:
    assert snap_compare(fleet(services), terminal_size=size, run_before=settle)


@pytest.mark.parametrize("services", [5, 40])
@pytest.mark.parametrize("size", [(160, 50), (240, 70)], ids=["160x50", "240x70"])
async def test_no_pane_is_more_than_a_quarter_empty(
    fleet: Callable[[int], MonitorApp], size: tuple[int, int], services: int
) -> None:
    app = fleet(services)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await settle(pilot)
        empty = empty_rows(app)
        assert set(empty) == set(PANES)  # the latency trends are shown too
        for pane, (blank, rows) in empty.items():
            assert blank < rows / 4, (pane, blank, rows, render_text(app))
        text = render_text(app)
        assert "CPU 37.0%" in text  # the host's history, with its now and max
        assert "NET rx" in text
        assert "scale 0–" in text


async def test_80x24_still_fits(fleet: Callable[[int], MonitorApp]) -> None:
    app = fleet(5)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        text = render_text(app)
        for name in LATENCY:
            assert f"│ {name} " in text
        assert not app.screen.query_one("#trends").display
        assert "no incidents" in text
        assert "CPU " in text
        assert "q Quit" in text.splitlines()[-1]


async def test_during_an_outage_the_incidents_pane_grows(
    fleet: Callable[[int], MonitorApp],
) -> None:
    app = fleet(5)
    monitor = app.monitor  # type: ignore[attr-defined]
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        calm = app.screen.query_one("#incidents").region.height
        for i in range(9):
            await monitor.engine.open_manual(
                "auth", f"login errors {i}", Severity.HIGH, Actor("ops", "test")
            )
        await settle(pilot)
        await settle(pilot)
        pane = app.screen.query_one("#incidents")
        assert calm == 3
        assert pane.region.height == 9 + 2  # every incident on a line of its own
        text = render_text(app)
        assert all(f"login errors {i}" in text for i in range(9))
        assert "more lines" not in text.split("Incidents")[1]
