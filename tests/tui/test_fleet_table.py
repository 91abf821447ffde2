"""The services table with 40 services: sort keys, collapsible groups with counts, the
header's counts, and rows scrolled into view drawn current (widgets.ServicesTable)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.widgets import DataTable
from tui_data import T, settle

from devmentor_monitor.model import CheckResult
from devmentor_monitor.tui.app import MonitorApp

EXTRA = [f"svc-{i:02d}" for i in range(35)]  # with the five of tui_data: 40
GROUP = {n: ("payments" if i < 12 else "search" if i < 24 else None) for i, n in enumerate(EXTRA)}
DOWN = {"svc-05", "svc-17"}  # and memory (tui_data): 3 down
SLOW = {"svc-20"}  # and ai-gateway: 2 slow
SIZE = (120, 50)


def _config() -> str:
    out = ""
    for n in EXTRA:
        out += f"  - name: {n}\n    url: http://127.0.0.1:1/{n}\n"
        if GROUP[n]:
            out += f"    group: {GROUP[n]}\n"
    return out


def fleet_app(make_app: Callable[..., MonitorApp]) -> MonitorApp:
    app = make_app(_config())
    for i, n in enumerate(EXTRA):
        ts = T - 5 - i  # svc-00 checked last, svc-34 first
        if n in DOWN:
            result = CheckResult(n, ts, ok=False, latency=None, error="connection refused")
        else:
            latency = 0.9 if n in SLOW else 0.001 * (i + 1)
            result = CheckResult(n, ts, ok=True, latency=latency, status_code=200)
        app.monitor.intake.observe(result)  # type: ignore[attr-defined]
    return app


def order(app: MonitorApp) -> list[str]:
    table = app.screen.query_one("#services", DataTable)
    return [str(row.key.value) for row in table.ordered_rows]


def services_only(keys: list[str]) -> list[str]:
    return [k for k in keys if not k.startswith("group:")]


async def test_header_counts_up_down_and_slow(
    make_app: Callable[..., MonitorApp], screen_text: Callable[[Any], str]
) -> None:
    app = fleet_app(make_app)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        header = screen_text(app).splitlines()[0]
    assert "services 37/40 up · 3 down · 2 slow" in header


async def test_sort_key_cycles_status_name_latency_budget_age(
    make_app: Callable[..., MonitorApp], screen_text: Callable[[Any], str]
) -> None:
    app = make_app(
        _config().replace("    group: payments\n", "").replace("    group: search\n", "")
    )
    for i, n in enumerate(EXTRA):  # as fleet_app, without groups
        ok = n not in DOWN
        latency = (0.9 if n in SLOW else 0.001 * (i + 1)) if ok else None
        app.monitor.intake.observe(  # type: ignore[attr-defined]
            CheckResult(n, T - 5 - i, ok=ok, latency=latency, error=None if ok else "refused")
        )
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        configured = order(app)
        assert configured[:6] == ["auth", "memory", "ai-gateway", "project", "monitoring", "svc-00"]

        await pilot.press("greater_than_sign")  # status: down first, then slow
        await settle(pilot)
        rows = order(app)
        assert set(rows[:3]) == {"memory", "svc-05", "svc-17"}
        assert set(rows[3:5]) == {"ai-gateway", "svc-20"}
        assert "services sorted by status" in screen_text(app)
        lines = screen_text(app).splitlines()
        first = next(i for i, x in enumerate(lines) if "│ memory" in x or " memory " in x)
        assert "DOWN" in lines[first]

        await pilot.press("greater_than_sign")  # name
        await settle(pilot)
        assert order(app) == sorted(configured)

        await pilot.press("greater_than_sign")  # latency: failed checks, then slowest
        await settle(pilot)
        rows = order(app)
        assert set(rows[:3]) == {"memory", "svc-05", "svc-17"}
        assert rows[3:5] == ["ai-gateway", "svc-20"]  # 2.4 s, 0.9 s
        assert rows[5] == "svc-34"

        await pilot.press("greater_than_sign")  # budget: least left first (only SLO'd ones)
        await settle(pilot)
        rows = order(app)
        assert rows[0] == "memory"  # three failed checks of 20 against 99.5 %: spent
        assert set(rows[:4]) == {"auth", "memory", "ai-gateway", "project"}

        await pilot.press("greater_than_sign")  # age: the oldest check first
        await settle(pilot)
        rows = order(app)
        assert rows[0] == "svc-34"
        assert rows.index("svc-00") > rows.index("svc-01")

        await pilot.press("greater_than_sign")  # and round again, as configured
        await settle(pilot)
        assert order(app) == configured


async def test_groups_fold_with_counts(
    make_app: Callable[..., MonitorApp], screen_text: Callable[[Any], str]
) -> None:
    app = fleet_app(make_app)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        rows = order(app)
        assert [r for r in rows if r.startswith("group:")] == [
            "group:payments",
            "group:search",
            "group:(none)",
        ]
        assert rows[1:13] == EXTRA[:12]  # payments' services under its line
        text = screen_text(app)
        payments = next(x for x in text.splitlines() if "▾ paymen… 12" in x)  # name, count
        assert "1 DOWN" in payments  # svc-05
        search = next(x for x in text.splitlines() if "▾ search" in x)
        assert "1 DOWN" in search  # svc-17 (svc-20 slow is not the worst)
        ungrouped = next(x for x in text.splitlines() if "▾ (none)" in x)
        assert "1 DOWN" in ungrouped  # memory

        await pilot.press("z")  # the cursor is on payments' line: fold it
        await settle(pilot)
        rows = order(app)
        assert not set(EXTRA[:12]) & set(rows)
        assert rows[0] == "group:payments"
        text = screen_text(app)
        assert "▸ paymen… 12" in text
        assert " svc-03 " not in text

        await pilot.press("enter")  # enter on a group's line unfolds it too
        await settle(pilot)
        assert set(EXTRA[:12]) <= set(order(app))
        assert "▾ paymen… 12" in screen_text(app)

        await pilot.press("slash", *"search")  # the filter matches group names
        await settle(pilot)
        assert services_only(order(app)) == EXTRA[12:24]


async def test_rows_scrolled_into_view_are_current(
    make_app: Callable[..., MonitorApp], screen_text: Callable[[Any], str]
) -> None:
    """Only the rows on screen are drawn each tick; the ones scrolled to are drawn then."""
    app = fleet_app(make_app)
    clock = {"now": T}
    app.clock = lambda: clock["now"]
    async with app.run_test(size=(120, 24)) as pilot:
        await settle(pilot)
        clock["now"] = T + 120  # two minutes on: every age reads 2m+
        await settle(pilot, force=False)
        table = app.screen.query_one("#services", DataTable)
        table.move_cursor(row=table.row_count - 1)  # as `end` does, without the animation
        await pilot.pause()  # no tick: the scroll itself draws the rows it brings in
        text = screen_text(app)
    last = next(x for x in text.splitlines() if " svc-34 " in x)
    assert " 2m" in last, last


async def test_help_shows_the_sort_and_fold_keys(
    make_app: Callable[..., MonitorApp], screen_text: Callable[[Any], str]
) -> None:
    app = fleet_app(make_app)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        line = next(x for x in screen_text(app).splitlines() if "Table" in x)
    assert "> z" in line
    assert "Sort" in line
    assert "Fold group" in line


async def test_rows_in_config_order_show_each_new_check_without_a_reorder(
    make_app: Callable[..., MonitorApp], screen_text: Callable[[Any], str]
) -> None:
    """With no sort, filter or group the rows' order is not worked out again per check, and
    a row on screen still shows its service's newest check and status at the next tick."""
    app = make_app(
        _config().replace("    group: payments\n", "").replace("    group: search\n", "")
    )
    clock = {"now": T}
    app.clock = lambda: clock["now"]
    intake = app.monitor.intake  # type: ignore[attr-defined]
    for i, n in enumerate(EXTRA):
        intake.observe(CheckResult(n, T - 5, ok=True, latency=0.001 * (i + 1), status_code=200))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        configured = order(app)
        clock["now"] = T + 1
        intake.observe(CheckResult("svc-02", T + 1, ok=True, latency=0.0777, status_code=200))
        for _ in range(3):
            intake.observe(CheckResult("svc-04", T + 1, ok=False, latency=None, error="refused"))
        await settle(pilot, force=False)
        text = screen_text(app)
        assert order(app) == configured
    row = next(x for x in text.splitlines() if " svc-02 " in x)
    assert "78 ms" in row or "77.7 ms" in row, row
    down = next(x for x in text.splitlines() if " svc-04 " in x)
    assert "DOWN" in down, down
    assert "refused" in down, down


async def test_a_new_check_redraws_its_row_only(
    make_app: Callable[..., MonitorApp], screen_text: Callable[[Any], str]
) -> None:
    """One service's check redraws that row's screen line, not the 40 on screen (a full
    table repaint each tick was ~40 % of the TUI's tick at 1,000 services)."""
    app = make_app(
        _config().replace("    group: payments\n", "").replace("    group: search\n", "")
    )
    intake = app.monitor.intake  # type: ignore[attr-defined]
    for i, n in enumerate(EXTRA):
        intake.observe(CheckResult(n, T - 5, ok=True, latency=0.001 * (i + 1), status_code=200))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#services", DataTable)
        drawn: list[str] = []
        render_line = table._render_line

        def counted(y: int, *args: Any) -> Any:
            drawn.append(str(table._get_offsets(y)[0].value))
            return render_line(y, *args)

        table._render_line = counted  # type: ignore[method-assign]
        intake.observe(CheckResult("svc-02", T, ok=True, latency=0.0777, status_code=200))
        await settle(pilot, force=False)
        text = screen_text(app)
    row = next(x for x in text.splitlines() if " svc-02 " in x)
    assert "78 ms" in row or "77.7 ms" in row, row
    assert set(drawn) == {"svc-02"}, drawn
