"""Pilot tests: every key, every view, filter, help, palette and the theme switch.

The app runs over frozen data (tui_data.py): nothing polls, the clock stands still, and
each assertion reads what the user would see on the screen.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rich.color import Color
from support.waiting import until
from textual.widgets import DataTable, Input
from tui_data import DOWN_REASON, HOSTNAME, LATENCY, T, settle

from devmentor_monitor.model import CheckResult
from devmentor_monitor.tui.app import MonitorApp
from devmentor_monitor.tui.keys import KEYS, VIEWS, key_display
from devmentor_monitor.tui.screens import ChartPane, HelpScreen, MetricsScreen
from devmentor_monitor.tui.themes import ThemeError, load_themes
from devmentor_monitor.units import format_ms as ms

Text = Callable[[Any], str]
WIDE = (160, 50)  # the wide layout, where every column fits
SIZE = (120, 40)  # the size of the end-to-end test's tmux pane


def style_of(app: MonitorApp, word: str) -> Any:
    """The rich Style the screen paints ``word`` with (first occurrence)."""
    for strip in app.screen._compositor.render_strips():
        for segment in strip:
            if word in segment.text:
                return segment.style
    raise AssertionError(f"{word!r} is not on the screen")


def hex_of(color: Color | None) -> str:
    assert color is not None
    return color.get_truecolor().hex.lower()


# ----------------------------------------------------------------------------- overview


async def test_overview_shows_services_host_and_empty_incidents(
    app: MonitorApp, screen_text: Text
) -> None:
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot)
        assert app.current_mode == "overview"
        text = screen_text(app)
    lines = text.splitlines()
    assert HOSTNAME in lines[0]
    assert "22:13:20" in lines[0]
    assert "services 4/5 up" in lines[0]
    assert "1 down" in lines[0]

    def row(name: str) -> str:
        return next(line for line in lines if f" {name} " in line and "│" in line)

    assert "UP" in row("auth")
    assert "13 ms" in row("auth")
    assert "DOWN" in row("memory")
    assert "refused" in row("memory")
    assert "SLOW" in row("ai-gateway")
    assert "UP" in row("project")
    assert "UP" in row("monitoring")
    assert " <10s " in row("auth")  # age of the last check (4 s: the first step)
    for meter in ("CPU ", "MEM ", "SWP ", "DSK  /", "NET  rx", "load 1.25", "postgres"):
        assert meter in text, meter
    assert "no incidents" in text
    assert "no predictions yet" in text


async def test_overview_redraws_when_the_store_changes(app: MonitorApp, screen_text: Text) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "DOWN" in screen_text(app)
        app.monitor.intake.observe(
            CheckResult("memory", T, ok=True, latency=0.009, status_code=200)
        )
        app.tick()  # what the refresh interval calls: the store changed, so it redraws
        await pilot.pause()
        text = screen_text(app)
    memory = next(line for line in text.splitlines() if " memory " in line)
    assert "UP" in memory
    assert "DOWN" not in memory
    assert DOWN_REASON not in memory
    assert "services 5/5 up" in text


async def test_every_later_change_reaches_its_cell_and_only_its_row(
    app: MonitorApp, screen_text: Text
) -> None:
    """Rows redraw cell by cell (ServicesTable._set_cells); no stale cell survives a tick."""
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)

        def rows() -> dict[str, str]:
            lines = screen_text(app).splitlines()
            return {name: next(x for x in lines if f" {name} " in x) for name in LATENCY}

        before = rows()
        for step, latency in enumerate((0.051, 0.077, 0.093), start=1):
            app.monitor.intake.observe(
                CheckResult("auth", T + step, ok=True, latency=latency, status_code=200)
            )
            app.tick()
            await pilot.pause()
            now = rows()
            assert f" {ms(latency)} " in now["auth"], now["auth"]
            assert all(now[n] == before[n] for n in LATENCY if n != "auth")


# ----------------------------------------------------------------------------- views

# What only that view shows (present) and what the overview shows but it does not (absent).
VIEW_TEXT = {
    "overview": ("─ Host ─", "Recent checks"),
    "metrics": ("range:", "─ Host ─"),
    "services": ("Recent checks", "─ Host ─"),
    "incidents": ("no incidents", "─ Host ─"),
    "predictions": ("no predictions yet", "─ Host ─"),
    "events": ("Rejected messages", "─ Host ─"),
    "docker": ("docker: not available", "─ Host ─"),
    "kubernetes": ("kubernetes: not available", "─ Host ─"),
    "audit": ("Audit trail", "─ Host ─"),
    "topology": ("Topology (depends_on)", "─ Host ─"),
}
VIEW_KEYS = {k.id: k.key for k in KEYS if k.id in VIEWS}


def test_every_view_has_its_key() -> None:
    assert set(VIEW_KEYS) == set(VIEWS) == set(VIEW_TEXT)
    assert VIEW_KEYS == {
        "overview": "o",
        "metrics": "m",
        "services": "s",
        "incidents": "i",
        "predictions": "p",
        "events": "e",
        "docker": "d",
        "kubernetes": "k",
        "audit": "A",
        "topology": "g",
    }


async def test_each_key_opens_its_view_and_escape_returns(
    app: MonitorApp, screen_text: Text
) -> None:
    """m s i p e d k pressed on the overview, esc back each time; then o from metrics."""

    async def check(view: str) -> None:
        await settle(pilot)
        assert app.current_mode == view
        text = screen_text(app)
        present, absent = VIEW_TEXT[view]
        assert present in text, view
        assert absent not in text, view
        assert HOSTNAME in text.splitlines()[0], view  # every view keeps the header

    async with app.run_test(size=SIZE) as pilot:
        await check("overview")
        for view in VIEWS[1:]:
            await pilot.press(VIEW_KEYS[view])
            await check(view)
            await pilot.press("escape")
            await check("overview")
        await pilot.press("escape")  # on the overview: stays, still running
        assert app.current_mode == "overview"
        assert app.is_running
        await pilot.press("m")
        await check("metrics")
        await pilot.press("o")
        await check("overview")


async def test_keys_work_on_every_view(app: MonitorApp, screen_text: Text) -> None:
    """From each view: the footer lists the keys, and o (then q) reaches the app."""
    async with app.run_test(size=SIZE) as pilot:
        for view in VIEWS[1:]:
            await pilot.press(VIEW_KEYS[view])
            await settle(pilot)
            assert app.current_mode == view
            assert not any(box.has_focus for box in app.screen.query(Input)), view
            assert "q Quit" in screen_text(app).splitlines()[-1], view  # the footer
            await pilot.press("o")
            assert app.current_mode == "overview", f"o on the {view} view"
        await pilot.press("i", "q")
        await pilot.pause()
        assert not app.is_running, "q on the incidents view"


async def test_a_tick_right_after_a_view_switch_does_not_crash(app: MonitorApp) -> None:
    """The refresh timer can fire between a key's mode switch and the new screen's compose."""
    async with app.run_test(size=SIZE) as pilot:
        for view in VIEWS[1:]:
            app.action_show(view)
            app.tick()  # what the 1 s interval does if it fires now
            app.tick(force=True)
            await pilot.pause()
        assert app.is_running


# ----------------------------------------------------------------------------- metrics


async def test_metrics_view_charts_and_range_keys(app: MonitorApp, screen_text: Text) -> None:
    """1-5 pick a range, r cycles them; 24h (past the hour the rings keep), 7d and 30d come
    from the stored history, where the frozen 10 minutes are not enough for a line
    (tests/tui/test_time_travel.py draws them)."""
    windows = {"5m": 300.0, "1h": 3600.0, "24h": 86400.0, "7d": 604800.0, "30d": 2592000.0}
    steps = [
        ("2", "1h"),
        ("3", "24h"),
        ("4", "7d"),
        ("5", "30d"),
        ("1", "5m"),
        ("r", "1h"),
        ("r", "24h"),
        ("r", "7d"),
        ("r", "30d"),
        ("r", "5m"),
    ]
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2", "r")  # range keys belong to the metrics view only
        assert app.current_mode == "overview"
        await pilot.press("m")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, MetricsScreen)
        assert screen.range_name == "5m"  # untouched by the 2 and r above
        text = screen_text(app)
        assert "CPU (percent)" in text
        assert "min ago" in text
        assert "waiting for data" not in text.split("Memory")[0]  # the CPU chart has points
        for key, expected in steps:
            await pilot.press(key)
            await settle(pilot)
            assert screen.range_name == expected, key
            assert {c.window for c in screen.query(ChartPane)} == {windows[expected]}, key
            # the chosen range is highlighted (reverse) on the range line, the others not
            assert style_of(app, f" {expected} ").reverse, key
            for other in set(windows) - {expected}:
                assert not style_of(app, f" {other} ").reverse, (key, other)
            if expected in ("24h", "7d", "30d"):
                await until(pilot, lambda: "not enough stored" in screen_text(app), "empty")
                assert "from stored history" in screen_text(app), key
                continue
            assert "min ago" in screen_text(app), key
            assert "from memory" in screen_text(app), key


# ----------------------------------------------------------------------------- services


async def test_services_view_details_the_selected_service(
    app: MonitorApp, screen_text: Text
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await settle(pilot)
        text = screen_text(app)
        assert "auth  UP" in text
        assert "p95" in text
        assert "SLO 99.9 %" in text
        await pilot.press("down")  # auth -> memory
        await settle(pilot)
        text = screen_text(app)
    assert "memory  DOWN" in text
    assert "depends on auth" in text
    assert "FAIL" in text
    assert DOWN_REASON in text


# ----------------------------------------------------------------------------- filter


def table_rows(app: MonitorApp, table_id: str) -> list[str]:
    table = app.screen.query_one(f"#{table_id}", DataTable)
    return [str(key.value) for key in table.rows]


@pytest.mark.parametrize(("view", "table_id"), [("services", "svc-list"), ("overview", "services")])
async def test_filter_narrows_the_services_table(
    app: MonitorApp, screen_text: Text, view: str, table_id: str
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(VIEW_KEYS[view])
        await settle(pilot)
        assert len(table_rows(app, table_id)) == 5
        await pilot.press("slash")
        box = app.screen.query_one("#filter", Input)
        assert box.display
        assert box.has_focus
        await pilot.press("m", "e", "m")  # letters go to the box, not to the view keys
        await settle(pilot)
        assert app.current_mode == view
        assert box.value == "mem"
        assert table_rows(app, table_id) == ["memory"]
        assert "│ ai-gateway" not in screen_text(app)  # the table row (the ticker may say it)
        await pilot.press("escape")  # first esc: close the filter, stay on the view
        assert app.current_mode == view
        assert not box.display
        assert box.value == ""
        assert len(table_rows(app, table_id)) == 5
        await settle(pilot)
        assert "│ ai-gateway" in screen_text(app)


async def test_filter_matches_status_words(app: MonitorApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s", "slash", *"down", "enter")
        assert table_rows(app, "svc-list") == ["memory"]
        assert app.screen.query_one("#svc-list", DataTable).has_focus  # enter: back to table


async def test_filter_on_a_view_without_a_table_says_so(app: MonitorApp, screen_text: Text) -> None:
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.press("m", "slash")  # the metrics view has charts, no table
        await until(pilot, lambda: "nothing to filter" in screen_text(app), "the toast")
        assert not app.screen.query("#filter")  # no box was opened


# ----------------------------------------------------------------------------- help


async def test_help_lists_every_key_and_closes(app: MonitorApp, screen_text: Text) -> None:
    async with app.run_test(size=SIZE) as pilot:
        for close in ("escape", "q", "question_mark"):
            await pilot.press("question_mark")
            await pilot.pause()
            assert isinstance(app.screen, HelpScreen)
            text = screen_text(app)
            for key in KEYS:
                shown = key_display(key.key)
                if key.group:  # back and forward share a line: `[ ]       Travel 1 min`
                    assert f"{shown} " in text, key.id
                    assert key.group in text, key.id
                    assert key.title in text, key.id
                else:
                    assert f"{shown:<10}{key.title}" in text, key.id
            assert "[ ]       Travel 1 min" in text
            assert "ctrl+c" in text
            assert "ctrl+p" in text
            assert "1 2 3 4 5 r Range (m, s)" in text  # the ranges, from the key table
            await pilot.press(close)
            await pilot.pause()
            assert not isinstance(app.screen, HelpScreen), close
            assert app.is_running, close  # q: help only
            assert app.current_mode == "overview", close


# ----------------------------------------------------------------------------- quit


@pytest.mark.parametrize("keys", [("q",), ("slash", "a", "ctrl+c")])
async def test_quit_keys_exit_with_code_zero(app: MonitorApp, keys: tuple[str, ...]) -> None:
    """q quits; ctrl+c quits from anywhere, even while typing in the filter box."""
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*keys)
        await pilot.pause()
        assert not app.is_running
    assert app.return_value == 0
    assert app.return_code == 0


# ----------------------------------------------------------------------------- themes

THEME_ORDER = ["dark", "high-contrast", "light", "monochrome"]


def test_every_shipped_theme_loads() -> None:
    themes = load_themes()
    assert sorted(themes) == sorted(THEME_ORDER)
    for theme in themes.values():
        for var in ("status-up", "status-degraded", "status-down", "meter-ok", "meter-alert"):
            assert var in theme.variables, (theme.name, var)


def test_user_themes_add_to_the_packaged_ones(tmp_path, monkeypatch) -> None:
    folder = tmp_path / "devmentor-monitor" / "themes"
    folder.mkdir(parents=True)
    (folder / "ocean.yaml").write_text("primary: '#0077be'\nbackground: '#001f3f'\n")
    (folder / "dark.yaml").write_text("name: dark\nprimary: '#123456'\n")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    themes = load_themes()
    assert sorted(themes) == sorted([*THEME_ORDER, "ocean"])
    assert themes["ocean"].primary == "#0077be"
    assert themes["dark"].primary == "#123456"  # the user's file of the same name wins
    (folder / "broken.yaml").write_text("background: '#000000'\n")
    with pytest.raises(ThemeError, match=r"broken\.yaml: needs at least 'primary'"):
        load_themes()


async def test_t_cycles_every_theme(app: MonitorApp, screen_text: Text) -> None:
    themes = load_themes()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        seen = []
        for _ in THEME_ORDER:
            seen.append(app.theme)
            background = themes[app.theme].background
            assert background is not None
            assert hex_of(app.screen.styles.background.rich_color) == background.lower()
            await pilot.press("t")
            await settle(pilot)
        assert seen == THEME_ORDER
        assert app.theme == "dark"  # and round again
        await until(pilot, lambda: "theme: dark" in screen_text(app), "the theme toast")


async def test_theme_switch_recolours_status_words(app: MonitorApp) -> None:
    """Status words take the theme's colour; after `t` they take the new theme's colour."""
    themes = load_themes()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for name in THEME_ORDER:
            assert app.theme == name
            down = style_of(app, "DOWN").color
            if name == "monochrome":  # no colour of its own: the plain foreground
                assert down == style_of(app, "project").color
            else:
                assert hex_of(down) == themes[name].variables["status-down"].lower(), name
            await pilot.press("t")
            await settle(pilot)


async def test_theme_chosen_on_another_view_applies_to_overview(app: MonitorApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s", "t", "t")  # light, chosen on the services view
        await pilot.press("o")
        await settle(pilot)
        assert app.theme == "light"
        assert hex_of(app.screen.styles.background.rich_color) == "#f5f5f5"
        assert hex_of(style_of(app, "DOWN").color) == "#d70000"


async def test_no_color_starts_in_monochrome(
    make_app: Callable[..., MonitorApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app()
    assert app.theme == "monochrome"
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        down = style_of(app, "DOWN")
        assert down.color == style_of(app, "project").color  # no colour of its own
        assert down.bold  # the word still stands out


async def test_theme_from_config_and_flag(make_app: Callable[..., MonitorApp]) -> None:
    assert make_app().theme == "dark"
    assert make_app("tui: {theme: light}\n").theme == "light"
    assert make_app("tui: {theme: light}\n", theme="high-contrast").theme == "high-contrast"
    with pytest.raises(ThemeError, match="unknown theme 'neon'"):
        make_app(theme="neon")


# ----------------------------------------------------------------------------- remapping


async def test_keys_remap_from_config(
    make_app: Callable[..., MonitorApp], screen_text: Text
) -> None:
    app = make_app('tui: {keys: {metrics: "M", quit: "x"}}\n')
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("m")
        assert app.current_mode == "overview"  # the old key is gone
        await pilot.press("M")
        assert app.current_mode == "metrics"
        assert "M Metrics" in screen_text(app).splitlines()[-1]  # the footer shows the new key
        await pilot.press("q")
        assert app.is_running
        await pilot.press("question_mark")
        await pilot.pause()
        text = screen_text(app)
        assert "M         Metrics" in text
        assert "x         Quit" in text
        await pilot.press("escape", "x")
        await pilot.pause()
        assert not app.is_running
    assert app.return_value == 0


# ----------------------------------------------------------------------------- palette


async def test_every_key_action_is_a_palette_command(app: MonitorApp) -> None:
    async with app.run_test(size=SIZE):
        commands = {c.title: c for c in app.get_system_commands(app.screen)}
    expected = {k.title for k in KEYS if k.id != "back" and k.scope == "app"}
    assert expected <= set(commands)
    assert "Onset" not in commands  # the incident detail's own key: offered there only
    for key in KEYS:
        if key.title in expected:
            assert commands[key.title].help == key.help


async def test_palette_runs_the_actions(app: MonitorApp) -> None:
    from textual.command import CommandList, CommandPalette

    async def run(query: str) -> None:
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette), "the palette")
        await pilot.press(*query)
        palette = app.screen

        def top_hit() -> bool:
            found = palette.query(CommandList)
            if not found or found.first().option_count == 0:
                return False
            option = found.first().get_option_at_index(0)
            return str(option.prompt).startswith(query)

        await until(pilot, top_hit, f"palette hit {query!r}")
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, CommandPalette), "palette close")
        await pilot.pause()

    async with app.run_test(size=SIZE) as pilot:
        await run("Metrics")
        assert app.current_mode == "metrics"
        await run("Theme")
        assert app.theme == "high-contrast"
        await run("Help")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await run("Quit")
        assert not app.is_running
    assert app.return_value == 0


async def test_recent_checks_update_by_row_key(app: Any) -> None:
    """A new check adds one row on top; the rows already shown stay, the table is kept."""
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.press("s")
        await settle(pilot)
        checks = app.screen.query_one("#svc-checks", DataTable)
        before = {key.value: row for key, row in checks.rows.items()}
        assert before
        name = app.screen.selected or app.store.service_names()[0]
        app.monitor.intake.observe(
            CheckResult(name, T + 0.5, ok=True, latency=0.009, status_code=200)
        )
        await settle(pilot)
        after = {key.value: row for key, row in checks.rows.items()}
        kept = [k for k in before if k in after]
        assert kept
        assert all(after[k] is before[k] for k in kept)
        assert checks.ordered_rows[0].key.value == repr(T + 0.5)  # newest first
