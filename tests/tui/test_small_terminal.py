"""A new user at 80x24 (issue 19, "every key reachable, every claim true"): every view's
footer keeps `? Help` and `q Quit`; a line that does not fit ends in `…` or wraps between
figures, never mid-figure or silently; opening the filter hides no service; every pane of
the `k` view is titled and no column header is cut; the help scrolls to its last key."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from support.waiting import until
from textual.widgets import DataTable
from tui_data import LATENCY, render_text, settle

from devmentor_monitor.incidents.engine import Actor
from devmentor_monitor.incidents.model import Severity
from devmentor_monitor.tui.app import MonitorApp
from devmentor_monitor.tui.keys import KEYS, help_rows
from devmentor_monitor.tui.screens import HelpScreen
from devmentor_monitor.units import format_duration, format_percent

SMALL = (80, 24)
# Each view's own footer keys, which must stay next to ? Help and q Quit.
VIEW_KEYS = {
    "o": (),
    "m": (),
    "s": (),
    "i": ("a Ack", "r Resolve"),
    "p": (),
    "e": ("space Pause", "v Severity"),
    "d": ("r Restart", "x Stop", "u Start", "l Logs"),
    "k": ("r Restart", "x Delete", "+ Scale+", "- Scale−"),
    "A": (),
    "g": (),
}


async def view(pilot: Any, key: str) -> list[str]:
    await pilot.press(key)
    await settle(pilot)
    await settle(pilot)  # the tables' columns are fitted once laid out
    # The footer is fitted to its width once laid out (a loaded machine: a little later).
    await until(pilot, lambda: "Quit" in render_text(pilot.app).splitlines()[-1], "a footer")
    return render_text(pilot.app).splitlines()


@pytest.mark.parametrize("key", list(VIEW_KEYS))
async def test_every_footer_keeps_help_and_quit(app: MonitorApp, key: str) -> None:
    async with app.run_test(size=SMALL) as pilot:
        footer = (await view(pilot, key))[-1]
    assert "? Help" in footer, footer
    assert "q Quit" in footer, footer
    for hint in VIEW_KEYS[key]:
        assert hint in footer, (hint, footer)
    # Nothing cut mid-word: the line ends on a whole hint, or in an ellipsis.
    assert footer.rstrip().endswith(("Quit", "travel", "…")), footer


def unwrap(lines: list[str]) -> str:
    """Lines as one text, a wrapped line's indented continuation joined back on."""
    return re.sub(r"\s*\n   ", " ", "\n".join(line.rstrip() for line in lines))


@pytest.mark.parametrize(
    ("key", "hint"),
    [
        (
            "d",
            "docker: not available: not configured (add a docker: section to services.yaml"
            " or set DOCKER_HOST)",
        ),
        (
            "k",
            "kubernetes: not available: not configured (add a kubernetes: section to"
            " services.yaml)",
        ),
    ],
)
async def test_not_configured_hints_wrap_whole(app: MonitorApp, key: str, hint: str) -> None:
    async with app.run_test(size=SMALL) as pilot:
        lines = await view(pilot, key)
    assert len(hint) > 78  # it does not fit one line at 80 columns
    assert hint in unwrap(lines[1:3]), lines[1:3]


async def test_status_lines_too_long_end_in_an_ellipsis(app: MonitorApp) -> None:
    async with app.run_test(size=SMALL) as pilot:
        events = await view(pilot, "e")
        status = events[1].rstrip()
        assert status.startswith("  live   severity ≥ all"), status
        assert status.endswith("…"), status  # the redis state and the keys do not fit
        # The message column takes the room left; a message longer ends in "…".
        table = app.screen.query_one("#events-table", DataTable)
        assert table.max_scroll_x == 0
        down = next(line for line in events if " memory " in line and "error" in line)
        assert re.search(r"now down:?…", down), down
        services = await view(pilot, "s")
    range_line = next(line for line in services if "range:" in line)
    assert range_line.rstrip().endswith("…"), range_line
    scraped = next(line for line in services if "none stored" in line)
    assert scraped.rstrip().endswith("…"), scraped


async def test_service_detail_never_splits_a_figure(app: MonitorApp) -> None:
    async with app.run_test(size=SMALL) as pilot:
        lines = await view(pilot, "s")
        s = app.store.service("auth")  # type: ignore[union-attr]
    detail = [line.split("│", 2)[-1] for line in lines if "│" in line]
    text = "\n".join(detail)
    assert "auth  UP" in lines[1]
    # The windows the data covers, then the first one it only partly covers, with what it
    # rests on (tui/databasis.py); each a whole figure.
    assert s.data_seconds is not None
    figures = [
        f"1h {format_percent(s.uptime_1h)}",
        f"({format_duration(int(s.data_seconds))} of data, {s.window_checks[-1]} checks)",
        f"errors {format_percent(s.error_rate_1h)}",
        "SLO 99.9 % / 200 ms / 0.1 % errors: met",
        "budget left 100.0%",
        "fast –/– (>14.4x)",
    ]
    for figure in figures:
        assert figure in text, (figure, text)
    for line in detail[:9]:  # the summary: whole figures, never a bare unit or number
        assert not re.search(r"^\s*(%|ms|h\))", line), line
        assert not re.search(r"\d$", line.rstrip()) or line.rstrip().endswith("ms"), line


@pytest.mark.parametrize("incidents", [0, 4])
async def test_the_filter_hides_no_service(app: MonitorApp, incidents: int) -> None:
    """With the filter open all five services stay on screen, in an outage too (when the
    incidents pane is at its tallest)."""
    monitor = app.monitor  # type: ignore[attr-defined]
    for i in range(incidents):
        await monitor.engine.open_manual(
            "auth", f"login errors {i}", Severity.HIGH, Actor("ops", "test")
        )
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        before = render_text(app)
        await pilot.press("slash")
        await settle(pilot)
        await settle(pilot)
        text = render_text(app)
        table = app.screen.query_one("#services", DataTable)
        assert table.max_scroll_y == 0  # no row scrolled out of the pane
    assert "filter: type to narrow" in text
    for name in LATENCY:
        assert f"│ {name} " in before, name
        assert f"│ {name} " in text, name
    assert "q Quit" in text.splitlines()[-1]


async def test_kubernetes_view_titles_every_pane_and_cuts_no_header(app: MonitorApp) -> None:
    async with app.run_test(size=SMALL) as pilot:
        lines = await view(pilot, "k")
        tables = {str(t.id): t for t in app.screen.query(DataTable)}
        assert {t: tables[t].max_scroll_x for t in tables} == {"pods": 0, "deployments": 0}
        headers = {t: [str(c.label) for c in tables[t].columns.values()] for t in tables}
    tops = [line for line in lines if "╭" in line]
    assert len(tops) == 2  # pods and the detail; deployments below
    for line in lines:
        for corner in re.finditer("╭", line):
            assert re.match(r"╭─ \w", line[corner.start() :]), line  # a title, not ╭───
    text = "\n".join(lines)
    assert "╭─ Pods" in text
    assert "╭─ Deployments" in text
    for table, labels in headers.items():
        header = next(line for line in lines if f"│ {labels[0]} " in line)
        for label in labels:  # every header shown whole, as a word of its own
            assert re.search(rf"\b{re.escape(label)}\b", header), (table, label, header)
    assert "pod" in headers["pods"]
    assert "status" in headers["pods"]
    assert headers["deployments"][:2] == ["deployment", "ready"]


async def test_docker_view_cuts_no_header(app: MonitorApp) -> None:
    async with app.run_test(size=SMALL) as pilot:
        await view(pilot, "d")
        table = app.screen.query_one("#containers", DataTable)
        assert table.max_scroll_x == 0
        assert [str(c.label) for c in table.columns.values()][:2] == ["container", "state"]


async def test_help_scrolls_to_its_last_key(app: MonitorApp) -> None:
    rows = help_rows({})
    assert len(rows) + 2 > SMALL[1]  # more lines than the screen: it must scroll
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        top = render_text(app)
        for _ in range(len(rows)):
            await pilot.press("down")
        await pilot.pause()
        bottom = render_text(app)
    assert "ctrl+p" in top
    assert "Overview" in top
    last = next(k for k in KEYS if k.id == "back")
    assert last.help not in top
    assert last.help in bottom
    assert "close this" in bottom


@pytest.mark.parametrize("key", ["i", "e", "A", "d", "k"])
async def test_no_table_scrolls_sideways_and_long_cells_end_in_an_ellipsis(
    app: MonitorApp, key: str
) -> None:
    """The tables keep the columns that fit whole; the last takes the room left and a
    longer cell ends in "…" (the incident's title here)."""
    title = "login errors above five percent for ten minutes"
    monitor = app.monitor  # type: ignore[attr-defined]
    await monitor.engine.open_manual("auth", title, Severity.HIGH, Actor("ops", "test"))
    async with app.run_test(size=SMALL) as pilot:
        lines = await view(pilot, key)
        tables = list(app.screen.query(DataTable))
        assert tables
        for table in tables:
            assert table.max_scroll_x == 0, (table.id, [str(c.label) for c in table.columns])
        if key == "i":
            row = next(line for line in lines if "HIGH" in line)
            assert re.search(r"auth: login errors \w*…", row), row
            await pilot.resize_terminal(160, 30)  # wider: every column again, whole title
            await settle(pilot)
            await settle(pilot)
            assert f"auth: {title}" in render_text(app)
            assert [str(c.label) for c in tables[0].columns.values()] == [
                "sev",
                "service",
                "state",
                "age",
                "title",
            ]


async def test_overview_predictions_end_in_an_ellipsis_not_a_wrap(app: MonitorApp) -> None:
    """A prediction longer than its pane is one line ending in "…", and the last row says
    how many more there are (they used to wrap, and the pane's height cut them unseen)."""
    from test_predictions_view import DISK, LATENCY, publish

    publish(app, [DISK, LATENCY])
    async with app.run_test(size=SMALL) as pilot:
        lines = await view(pilot, "o")
        await pilot.resize_terminal(80, 30)
        await settle(pilot)
        await settle(pilot)
        taller = render_text(app).splitlines()
    pane = [line.split("││")[1].strip("│ ") for line in lines if "││" in line]
    assert pane == [pane[0]], pane  # 80x24: one row
    assert pane[0].startswith("HIGH"), pane
    assert pane[0].endswith("… +1 more"), pane
    pane = [line.split("││")[1].strip("│ ") for line in taller if "││" in line]
    shown = [cell for cell in pane if cell]
    assert [cell.split()[0] for cell in shown] == ["HIGH", "MEDIUM"], shown
    assert all(cell.endswith("…") for cell in shown), shown


async def _views_key(key: str, pilot: Any) -> None:
    await pilot.press(key)
    await settle(pilot)
    await settle(pilot)


@pytest.mark.parametrize("key", ["s", "k"])
def test_views_at_80x24_snapshot(
    snap_compare: Callable[..., bool], app: MonitorApp, key: str
) -> None:
    """Look at the SVGs before accepting them (--snapshot-update): s with its figures whole
    and the filter line, k with both tables titled and their headers whole."""

    async def run_before(pilot: Any) -> None:
        await _views_key(key, pilot)
        if key == "s":
            await pilot.press("slash")
            await settle(pilot)

    assert snap_compare(app, terminal_size=SMALL, run_before=run_before)
