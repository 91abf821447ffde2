"""The panes. Each reads the store through the app and redraws only when told to."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from rich.console import Group
from rich.text import Text
from textual._two_way_dict import TwoWayDict
from textual.geometry import Region
from textual.widgets import DataTable, Static
from textual.widgets.data_table import ColumnKey, RowKey

from devmentor_monitor.incidents.model import Incident
from devmentor_monitor.model import Health, SourceState
from devmentor_monitor.selfcost import slow_lines
from devmentor_monitor.store import ServiceSummary, Store
from devmentor_monitor.tui.borders import set_border_subtitle
from devmentor_monitor.tui.databasis import budget_cell, marks_note, uptime_cell
from devmentor_monitor.tui.fleet import (
    GROUP_PREFIX,
    SORTS,
    UNGROUPED,
    GroupLine,
    Line,
    arrange,
    next_sort,
)
from devmentor_monitor.tui.footer import Hint, fit_hints
from devmentor_monitor.tui.keys import WRITE_KEYS
from devmentor_monitor.tui.minicharts import host_history
from devmentor_monitor.tui.netlines import PREFIX as NIC_PREFIX
from devmentor_monitor.tui.netlines import interface_lines
from devmentor_monitor.tui.render import bar, ellipsize, short_reason, sparkline, status_text
from devmentor_monitor.units import (
    coarse_age,
    format_age,
    format_bytes,
    format_duration,
    format_ms,
    format_rate,
)

if TYPE_CHECKING:
    from devmentor_monitor.tui.app import MonitorApp
    from devmentor_monitor.tui.replay import Frame, ServiceFrame


def _same_as(content: object) -> object:
    """A value equal for contents that draw the same (None: not comparable, always drawn).

    Only a str or a Text: a Text compares by its characters and spans alone, so its own
    style and layout options go in too. Groups and other renderables are always drawn."""
    if isinstance(content, str):
        return content
    if isinstance(content, Text):
        return (
            content.plain,
            tuple(content.spans),
            content.style,
            content.justify,
            content.overflow,
            content.no_wrap,
            content.end,
            content.tab_size,
        )
    return None


class AppWidget:
    """Mixin: typed access to the app's store and theme colours.

    TOPICS are the store topics (prefixes) a pane draws from; empty means it shows ages
    or a clock and redraws on every tick.
    """

    TOPICS: tuple[str, ...] = ()
    _drawn: object = None  # what update() last drew, compared by _same_as (None: unknown)

    def wants(self, topics: set[str] | None) -> bool:
        if topics is None or not self.TOPICS:
            return True
        return any(t.startswith(self.TOPICS) for t in topics)

    @property
    def monitor_app(self) -> MonitorApp:
        return cast("MonitorApp", self.app)  # type: ignore[attr-defined]

    @property
    def store(self) -> Store | None:
        return self.monitor_app.store

    def update(self, content: Any = "", *, layout: bool | None = None) -> None:
        """Static.update; the layout pass (Textual's, of the whole screen) only when the
        pane's size follows its content. The overview's panes are sized by the layout, yet
        their redraw each second laid every widget out again: 1.15 passes a tick at 160x50
        with the tests' fleet, ~5 ms of a ~50 ms tick (the paint is the rest); none now."""
        # What is on screen already is not painted again: the predictions notice and the
        # event ticker redrew the same line every second, each ~0.5 ms of Textual's paint
        # plus its visualize (`ultra --demo`, 160x50, traced per widget, 2026-11-29). The
        # process, side by side with main over the same 60 s windows after a 30 s warm-up:
        # 1.65 -> 1.43 and 1.75 -> 1.53 % of a core (glances measured 3.10 %).
        shown = _same_as(content)
        if shown is not None and shown == self._drawn:
            return
        self._drawn = shown
        if layout is None:
            height, width = self.styles.height, self.styles.width  # type: ignore[attr-defined]
            layout = height is None or height.is_auto or (width is not None and width.is_auto)
        super().update(content, layout=layout)  # type: ignore[misc]

    @property
    def starting(self) -> bool:
        """The runtime is still starting: the open incidents are not read from the
        database yet, so a pane says "…", never "none" (the first frame comes first)."""
        app = self.monitor_app
        return app.runtime is not None and app.commands is None

    @property
    def travelling(self) -> bool:
        """On the overview while time travelling: the pane draws the past, not the store."""
        screen = getattr(self, "screen", None)
        return self.monitor_app.travel_at is not None and getattr(screen, "TRAVELS", False)

    @property
    def frame(self) -> Frame | None:
        """The past moment to draw, once read (None: still loading, keep what is shown)."""
        app = self.monitor_app
        frame = app.frame
        return frame if frame is not None and frame.at == app.travel_at else None


class HeaderBar(AppWidget, Static):
    """Host, monitor uptime, each source's state, open incidents, clock."""

    def on_resize(self) -> None:
        self.refresh_data()  # the width decides what fits before the clock

    def refresh_data(self) -> None:
        app = self.monitor_app
        now = app.clock()
        colors = app.palette
        line = Text()
        line.append(f" {app.hostname} ", style="bold reverse")
        if app.read_only:  # --read-only: said first, so a shared screen shows it at once
            line.append(" read-only ", style=f"bold {colors.get('warning', '')}")
        store = self.store
        if store is None:
            line.append("  starting…")
            self.update(line)
            return
        line.append(f"  up {format_duration(max(0, int(now - store.started)))}")
        frame = self.frame if self.travelling else None
        incidents = len(frame.incidents if frame is not None else store.open_incidents())
        line.append("  incidents then: " if frame is not None else "  incidents: ")
        if not incidents and frame is None and self.starting:
            line.append("…", style="dim")
        else:
            line.append(
                str(incidents) if incidents else "none",
                style=colors.get("severity-high", "") if incidents else "",
            )
        counts = store.counts()
        if frame is not None:  # the services' states at that moment, as the table shows
            counts = {h.value: 0 for h in Health}
            for f in frame.services:
                counts[f.status.value] += 1
        line.append(f"  services {counts['up'] + counts['degraded']}/{sum(counts.values())} up")
        if counts["down"]:
            line.append(f" · {counts['down']} down", style=f"bold {colors.get('status-down')}")
        if counts["degraded"]:  # up, but slower than their SLO: counted in "up" too
            line.append(f" · {counts['degraded']} slow", style=colors.get("status-degraded", ""))
        stale = store.stale_count() if frame is None else 0
        if stale:  # shown with their last known status, not counted until checked
            line.append(f" · {stale} stale", style="dim")
        fleet = store.fleet  # in a fleet: how many, who leads (fallback: the cluster source says)
        if fleet.mode == "member" and fleet.members:
            line.append(f"  fleet {len(fleet.members)} · leader {fleet.leader or 'none'}")
        for slow in slow_lines(store.cost):  # before the rest: "health checks slow: 12.3 s > 10 s"
            line.append("  │ ")
            line.append(slow, style=f"bold {colors.get('warning', '')}")
        for channel, reason in sorted(store.notification_errors.items()):
            line.append("  │ ")
            line.append(f"notify {channel}: failing: {reason}", style=colors.get("status-down", ""))
        for status in sorted(store.sources(), key=lambda s: s.name):
            if status.state is SourceState.OK:
                continue
            style = (
                colors.get("muted", "")
                if status.state is SourceState.NOT_CONFIGURED
                else colors.get("status-down", "")
            )
            line.append("  │ ")
            line.append(status.describe(now), style=style)
        clock = time.strftime("%H:%M:%S", time.localtime(now))
        if not self.size.width:  # not laid out yet: never paint a header cut to "…"
            line.append(f"  {clock}")
            self.update(line)
            return
        width = max(0, self.size.width - len(clock) - 1)
        if line.cell_len > width:
            line.truncate(max(0, width - 1))
            line.append("…")
        line.append(" " * max(1, width - line.cell_len + 1) + clock)
        self.update(line)


# key, label, width: fixed widths, so the table fits an 80-column pane and never
# silently hides a column (long values end in an ellipsis instead).
COLUMNS = (
    ("service", "service", 12),
    ("status", "status", 6),
    ("latency", "latency", 12),
    ("trend", "trend", 6),
    ("uptime", "up 24h", 7),
    ("budget", "budget", 6),
    ("checked", "age", 6),
)
TREND = 6


def plain_cell(value: object) -> object:
    """A str cell as the Text DataTable would make of it (one line, cut at the column),
    but not read as markup: an error's "[...]" would be taken for a style, and the first
    parse loads rich's emoji table (~4 ms of CPU in the first frame)."""
    return Text(value, no_wrap=True, end="") if isinstance(value, str) else value


def _same(a: object, b: object) -> bool:
    """Cell equality that sees style too (rich's Text == compares plain text only)."""
    if isinstance(a, Text) and isinstance(b, Text):
        return (a.plain, str(a.style), a.spans) == (b.plain, str(b.style), b.spans)
    return a == b


def bound_table_caches(table: DataTable[Any], rows: int = 60) -> None:
    """Shrink DataTable's render caches (10,000 cells, 1,000 lines and rows by default).

    Every tick changes some cell (ages, sparklines), which starts a new cache generation
    and leaves the old one as dead weight until it is evicted: the defaults let a monitor
    that redraws each second grow by megabytes a minute. One tall screen's worth (60
    rows of up to 8 columns) is all a live table can use (~0.5 MiB less RSS in ultra).
    """
    from textual.cache import LRUCache

    table._cell_render_cache = LRUCache(rows * 8)
    table._row_render_cache = LRUCache(rows)
    table._line_cache = LRUCache(rows)


def _drop(cache: Any, stale: Callable[[Any], bool]) -> None:
    for key in [k for k in cache.keys() if stale(k)]:  # noqa: SIM118 - no __iter__
        cache.discard(key)


class ServicesTable(AppWidget, DataTable[Any]):
    """One row per service (and one per group), updated cell by cell by row key.

    At fleet size only what is on screen is drawn: the rows' order is worked out again
    only when a service changed (the store hands back the same summary objects for
    untouched services), and cells are computed and set for the visible rows only; rows
    scrolled into view are brought up to date at once (`watch_scroll_y`).
    """

    def __init__(self, columns: tuple[str, ...] | None = None, **kw: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kw)
        bound_table_caches(self)
        self.columns_shown = [c for c in COLUMNS if columns is None or c[0] in columns]
        self.filter_text = ""
        self.sort_by = "config"
        self.collapsed: set[str] = set()
        self._cells: dict[str, tuple[object, ...]] = {}
        self._lines: dict[str, Line] = {}  # row key -> what it shows, in order
        self._arranged: tuple[Any, ...] = ()  # what the order was worked out from
        # A service row's cells bar the age, kept per summary (they change with it only).
        # (the theme's palette too: a new theme recolours them).
        self._static: dict[str, tuple[ServiceSummary, dict[str, str], dict[str, object]]] = {}
        self._grouped: tuple[object, bool] | None = None  # (the config, any service grouped)
        self._note: str | None = None  # the bottom border's basis note, as last set

    def on_mount(self) -> None:
        for key, label, width in self.columns_shown:
            self.add_column(Text(label), key=key, width=width)  # no markup: see plain_cell
        self.refresh_data()

    def set_filter(self, text: str) -> None:
        self.filter_text = text.strip().lower()
        self.refresh_data()

    def cycle_sort(self) -> str:
        """`>`: the next sort key; returns its description."""
        self.sort_by = next_sort(self.sort_by)
        self.refresh_data()
        return SORTS[self.sort_by]

    def toggle_group(self, key: str | None = None) -> str | None:
        """`z` (or enter on a group line): fold or unfold the group under the cursor, or
        the one the cursor's service is in; returns the group's name (None: no groups)."""
        if key is None:
            if not self.row_count:
                return None
            key = str(self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value)
        line = self._lines.get(key)
        if isinstance(line, ServiceSummary):
            store = self.store
            group = store.service_config(line.name).group if store is not None else None
            if not any(isinstance(x, GroupLine) for x in self._lines.values()):
                return None
            key = GROUP_PREFIX + (group or UNGROUPED)
        name = key.removeprefix(GROUP_PREFIX)
        self.collapsed ^= {name}
        self.refresh_data()
        if key in self._lines:  # the cursor stays on the group's line
            self.move_cursor(row=list(self._lines).index(key))
        return name

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        key = event.row_key.value
        if key and key.startswith(GROUP_PREFIX):
            event.stop()
            self.toggle_group(key)

    def _service_cells(self, s: ServiceSummary, now: float, store: Store) -> dict[str, object]:
        held = self._static.get(s.name)
        colors = self.monitor_app.palette
        if held is None or held[0] is not s or held[1] is not colors:
            trend = sparkline(store.latency_history(s.name).values_since(now - 600), TREND)
            budget = budget_cell(s)  # "100%*" while under its 7 d (databasis.py)
            latency: str | Text = (
                format_ms(s.latency)
                if s.last and s.last.ok
                else (short_reason(s.last.error, 12) if s.last else "–")
            )
            if s.stale_at is not None:  # the last known status, until the first check
                latency = Text("stale", style="dim")
            uptime = uptime_cell(s)
            held = (
                s,
                colors,
                {
                    "service": Text(ellipsize(s.name, 12)),
                    "status": status_text(s.status, colors, stale=s.stale_at is not None),
                    "latency": latency,
                    "trend": trend,
                    "uptime": uptime,
                    "budget": budget,
                },
            )
            self._static[s.name] = held
        at = s.last.ts if s.last else s.stale_at
        checked = "never" if at is None else coarse_age(now - at)  # steps: few redraws
        return {**held[2], "checked": checked}

    def _group_cells(self, g: GroupLine) -> dict[str, object]:
        colors = self.monitor_app.palette
        fold = "▸" if g.collapsed else "▾"
        worst = g.worst
        bad = g.counts.get(worst, 0)
        status = status_text(worst, colors)
        if worst is not Health.UP:
            status = Text(f"{bad} ", style=status.style).append_text(status)
        return {
            "service": Text(
                f"{fold} {ellipsize(g.name, max(1, 9 - len(str(g.total))))} {g.total}",
                style="bold",
            ),
            "status": status,
            "latency": "",
            "trend": "",
            "uptime": "",
            "budget": "",
            "checked": "",
        }

    def _row(self, line: Line, now: float, store: Store) -> tuple[object, ...]:
        values = (
            self._group_cells(line)
            if isinstance(line, GroupLine)
            else self._service_cells(line, now, store)
        )
        return tuple(plain_cell(values[key]) for key, _, _ in self.columns_shown)

    def _frame_row(self, f: ServiceFrame, at: float) -> tuple[object, ...]:
        """A row as it was at ``at``; budget is not replayed ("–")."""
        latency = format_ms(f.latency)
        if f.ts is None:
            latency = "no data"  # nothing stored near that moment
        elif f.ok is False or (f.status is Health.DOWN and f.latency is None):
            latency = "failed"
        values = {
            "service": Text(ellipsize(f.name, 12)),
            "status": status_text(f.status, self.monitor_app.palette),
            "latency": latency,
            "trend": sparkline(f.trend, TREND),
            "uptime": "–" if f.uptime_24h is None else f"{f.uptime_24h:.2f}%",
            "budget": "–",
            "checked": "–" if f.ts is None else coarse_age(at - f.ts),
        }
        return tuple(plain_cell(values[key]) for key, _, _ in self.columns_shown)

    def _shown(self, name: str, status: Health) -> bool:
        text = self.filter_text
        return not text or text in name.lower() or text in status.value

    def refresh_data(self) -> None:
        store = self.store
        if store is None:
            return
        columns = tuple(key for key, _, _ in self.columns_shown)
        if self.travelling:
            frame = self.frame
            if frame is None:
                return
            rows = {
                f.name: self._frame_row(f, frame.at)
                for f in frame.services
                if self._shown(f.name, f.status)
            }
            self._arranged = ()
            self._lines.clear()
            self.border_subtitle = self._note = ""  # the past's rows carry no basis marks
            sync_rows(self, columns, rows, self._cells, change_cells=self._set_cells)
            return
        now = self.monitor_app.clock()
        if self._in_config_order(store):
            # Rows in services.yaml's order, whatever the services say: the order is
            # worked out again only if the services themselves change, and only the
            # visible rows' summaries are read (_draw_visible). At 1,000 services with
            # 100 checks a second, reading every summary each tick cost ~10 ms of it.
            names = store.service_names()
            held = self._arranged
            if not (held and held[0] is _CONFIG_ORDER and held[1] == names):
                self._place({s.name: s for s in store.services()}, columns, now, store)
                self._arranged = (_CONFIG_ORDER, names)
            self._draw_visible(columns, now, store)
            return
        summaries = store.services()
        arranged = (self.filter_text, self.sort_by, frozenset(self.collapsed), summaries)
        if not self._same_arrangement(arranged):
            groups = {s.name: store.service_config(s.name).group for s in summaries}
            lines = arrange(
                summaries,
                groups,
                text=self.filter_text,
                sort=self.sort_by,
                collapsed=arranged[2],
            )
            self._place({_key(line): line for line in lines}, columns, now, store)
            self._arranged = arranged
        self._draw_visible(columns, now, store)

    def _in_config_order(self, store: Store) -> bool:
        """No filter, no sort key, no groups: the rows' order needs no summary."""
        if self.filter_text or self.sort_by != "config":
            return False
        held = self._grouped
        if held is None or held[0] is not store.config:
            held = self._grouped = (store.config, any(s.group for s in store.config.services))
        return not held[1]

    def _same_arrangement(self, arranged: tuple[Any, ...]) -> bool:
        held = self._arranged
        if not held or held[:3] != arranged[:3] or len(held[3]) != len(arranged[3]):
            return False
        return all(a is b for a, b in zip(held[3], arranged[3], strict=True))

    def _place(
        self, lines: dict[str, Line], columns: tuple[str, ...], now: float, store: Store
    ) -> None:
        """Rows added and removed by key, then put in order; the cursor stays on its row."""
        cursor = None
        if self.row_count and self._lines:
            cursor = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        gone = [key for key in self._cells if key not in lines]
        for key in gone:
            self.remove_row(key)
            del self._cells[key]
            self._static.pop(key, None)
        for key, line in lines.items():
            if key not in self._cells:
                row = self._row(line, now, store)
                self.add_row(*row, key=key)
                self._cells[key] = row
            elif isinstance(line, GroupLine) and self._lines.get(key) != line:
                self._update({key: self._row(line, now, store)}, columns)
        self._lines = lines
        order = list(lines)
        _reorder(self, order)
        if cursor is not None and cursor in lines:
            at = order.index(cursor)
            if at != self.cursor_row:
                self.move_cursor(row=at, scroll=False)

    def visible_keys(self) -> list[str]:
        """The row keys on screen now (all of them before the first layout)."""
        order = list(self._lines)
        height = self.size.height - (self.header_height if self.show_header else 0)
        if height <= 0:
            return order
        start = int(self.scroll_y)
        return order[start : start + height + 1]

    def _draw_visible(self, columns: tuple[str, ...], now: float, store: Store) -> None:
        """The rows on screen, each from its service's summary as it is now."""
        rows = {}
        lines = self._lines
        shown: list[ServiceSummary] = []
        for key in self.visible_keys():
            line = lines[key]
            if isinstance(line, ServiceSummary) and store.has_service(key):
                line = lines[key] = store.service(key, now)
                shown.append(line)
            rows[key] = self._row(line, now, store)
        self._update(rows, columns)
        # What the cells marked "*" on screen rest on ("* over 11s of data"), on the
        # bottom border: from the visible rows, as the cells themselves are.
        if {"uptime", "budget"} & set(columns):
            note = marks_note(shown)
            if note != self._note:  # the border row only (borders.py)
                set_border_subtitle(self, note)
                self._note = note

    def _update(self, rows: dict[str, tuple[object, ...]], columns: tuple[str, ...]) -> None:
        changes: dict[str, dict[str, object]] = {}
        for key, row in rows.items():
            old = self._cells.get(key)
            if old is None:
                continue
            changed = {
                col: new
                for col, new, before in zip(columns, row, old, strict=True)
                if not _same(new, before)
            }
            if changed:
                changes[key] = changed
            self._cells[key] = row
        if len(changes) > BULK_ROWS:
            set_rows_cells(self, changes)
        else:
            for key, changed in changes.items():
                self._set_cells(key, changed)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if int(old_value) != int(new_value) and self._lines:
            store = self.store
            if store is not None and not self.travelling:
                columns = tuple(key for key, _, _ in self.columns_shown)
                self._draw_visible(columns, self.monitor_app.clock(), store)

    def on_resize(self) -> None:
        if self._lines:
            self.refresh_data()

    def _set_cells(self, row: str, changed: dict[str, object]) -> None:
        set_cells(self, row, changed)  # a method, so bench/tui_tick.py can swap it


_CONFIG_ORDER = object()  # marks an arrangement in services.yaml's order
BULK_ROWS = 4  # more rows changed at once than this: one pass over the caches for them all


def _key(line: Line) -> str:
    return line.key if isinstance(line, GroupLine) else line.name


def set_rows_cells(table: DataTable[Any], changes: dict[str, dict[str, object]]) -> None:
    """Change the cells of many rows at once, as `set_cells` does for one row, but with
    one pass over each render cache for all of them (set_cells scans the caches per row,
    and every row's age changes each second). Only the changed cells are rendered again
    (bench/tui_fleet_tick.py: cheaper than dropping the caches whole)."""
    caches = ("_row_renderable_cache", "_cell_render_cache", "_row_render_cache", "_line_cache")
    if not all(hasattr(table, name) for name in ("_data", "_row_locations", *caches)):
        for row, changed in changes.items():
            set_cells(table, row, changed)
        return
    cells: set[tuple[RowKey, ColumnKey]] = set()
    rows: set[RowKey] = set()
    indexes: set[int] = set()
    for row, changed in changes.items():
        key = RowKey(row)
        data = table._data[key]
        for col, value in changed.items():
            column = ColumnKey(col)
            data[column] = value
            cells.add((key, column))
        rows.add(key)
        index = table._row_locations.get(key)
        if index is not None:
            indexes.add(index)
    _drop(table._row_renderable_cache, lambda k: k[1] in indexes)
    _drop(table._cell_render_cache, lambda k: (k[0], k[1]) in cells)
    _drop(table._row_render_cache, lambda k: k[0] in rows)
    repaint_rows(table, indexes)


def set_cells(table: DataTable[Any], row: str, changed: dict[str, object]) -> None:
    """Change cells so that only they, and their row's lines, are drawn again.

    DataTable.update_cell bumps a counter that is in every render-cache key, so one
    changed cell redraws every cell of the table: with ages ticking each second that
    was half the TUI's CPU (bench/tui_tick.py). Cells of auto-width columns still go
    through update_cell, which resizes the column as a rebuilt table would. Falls back to
    update_cell if a future Textual lays out its caches differently.
    """
    caches = (
        "_data",
        "_row_locations",
        "_row_renderable_cache",
        "_cell_render_cache",
        "_row_render_cache",
        "_line_cache",
    )
    auto = {col for col in changed if _auto_width(table, col)}
    if auto or not all(hasattr(table, name) for name in caches):
        for col, value in changed.items():
            table.update_cell(row, col, value, update_width=col in auto)
        return
    key = RowKey(row)
    cells = table._data[key]
    for col, value in changed.items():
        cells[ColumnKey(col)] = value
    index = table._row_locations.get(key)
    _drop(table._row_renderable_cache, lambda k: k[1] == index)
    _drop(table._cell_render_cache, lambda k: k[0] == key and k[1] in changed)
    _drop(table._row_render_cache, lambda k: k[0] == key)
    repaint_rows(table, set() if index is None else {index})


def repaint_rows(table: DataTable[Any], indexes: set[int]) -> None:
    """Draw again only the screen lines of the rows at ``indexes``, not the whole table.

    A full refresh painted all ~45 visible rows (line cache and Textual's styles cache
    dropped) when a few changed: at 1,000 services, 100 checks a second, the table's
    paint was ~40 % of the TUI's tick (py-spy of `ultra`), at 5 services ~20 %. Rows
    taller than one line, or fixed rows, fall back to the full refresh.
    """
    if table.fixed_rows or len(table._y_offsets) != table.row_count:
        table._line_cache.clear()
        table.refresh()
        return
    top = table.header_height if table.show_header else 0
    lines = {top + i for i in indexes}  # the line cache's y: header, then one line a row
    _drop(table._line_cache, lambda k: k[0] in lines)
    width = max(table.size.width, table.virtual_size.width)
    for y in sorted(lines):
        table._refresh_region(Region(0, y, width, 1))


def _auto_width(table: DataTable[Any], col: str) -> bool:
    column = table.columns.get(ColumnKey(col))
    return column is not None and column.auto_width


def sync_rows(
    table: DataTable[Any],
    columns: tuple[str, ...],
    rows: dict[str, tuple[Any, ...]],
    cache: dict[str, tuple[Any, ...]],
    *,
    change_cells: Callable[[str, dict[str, object]], None] | None = None,
    reorder: bool = True,
) -> None:
    """Show ``rows`` (row key to cells, in order) without rebuilding the table.

    Rows are added, removed, and changed cell by cell (`set_cells`, or ``change_cells``)
    by row key, so the
    rows that did not change, the cursor and the scroll position stay as they were.
    ``cache`` holds the cells last shown, per key; clear it with the table. With
    ``reorder`` the rows end in the order of ``rows``, as a rebuilt table would show
    them; without it, new rows go to the end.
    """
    removed = [key for key in cache if key not in rows]
    for key in removed:
        table.remove_row(key)
        del cache[key]
    for key, row in rows.items():
        old = cache.get(key)
        if old is None:
            table.add_row(*row, key=key)
        else:
            changed = {
                col: new
                for col, new, before in zip(columns, row, old, strict=True)
                if not _same(new, before)
            }
            if changed:
                if change_cells is None:
                    set_cells(table, key, changed)
                else:
                    change_cells(key, changed)
        cache[key] = row
    if removed and rows:
        # A rebuilt table would narrow auto-width columns to the rows left: re-measure.
        first = next(iter(rows))
        for col, value in zip(columns, rows[first], strict=True):
            if _auto_width(table, col):
                table.update_cell(first, col, value, update_width=True)
    if reorder:
        _reorder(table, list(rows))


def _reorder(table: DataTable[Any], order: list[str]) -> None:
    """Put the rows in ``order`` as DataTable.sort does (it can only sort by cell values)."""
    if [row.key.value for row in table.ordered_rows] == order:
        return
    table._row_locations = TwoWayDict({RowKey(key): i for i, key in enumerate(order)})
    table._update_count += 1
    table.refresh()


class SystemPane(AppWidget, Static):
    """CPU per core with a total sparkline, memory, swap, disks, network, top processes."""

    TOPICS = ("system", "sources")

    def refresh_data(self) -> None:
        store = self.store
        if store is None:
            self.update(Text("starting…", style="dim"))
            return
        app = self.monitor_app
        colors = app.palette
        th = store.config.thresholds
        if self.travelling:
            frame = self.frame
            if frame is not None:
                self._draw_frame(frame, store)
            return
        sample = store.system
        status = store.source("system")
        width = max(20, self.size.width)
        lines: list[Text] = []
        now = app.clock()
        if status is not None and status.state is SourceState.UNAVAILABLE:
            lines.append(Text(status.describe(now), style=f"bold {colors.get('status-down')}"))
        if sample is None:
            lines.append(Text("waiting for the first host sample…", style="dim"))
            self.update(Group(*lines))
            return
        meter = max(6, min(30, width - 34))
        cpu_hist = store.series("cpu")
        spark = (
            sparkline(cpu_hist.values_since(now - 300), max(4, width - meter - 24))
            if cpu_hist
            else ""
        )
        line = Text("CPU  ")
        line.append_text(bar(sample.cpu_percent, meter, th.cpu, colors))
        line.append(f" {sample.cpu_percent:5.1f} % ")
        line.append(spark, style=colors.get("chart", ""))
        lines.append(line)
        core_w = 16
        per_line = max(1, width // (core_w + 2))
        cores = Text()
        for i, value in enumerate(sample.cpu_per_core):
            if i and i % per_line == 0:
                lines.append(cores)
                cores = Text()
            cores.append(f"{i:>3} ")
            cores.append_text(bar(value, core_w - 9, th.cpu, colors))
            cores.append(f" {value:3.0f}%  ")
        lines.append(cores)
        lines.append(
            Text(
                f"load {sample.load[0]:.2f} {sample.load[1]:.2f} "
                f"{sample.load[2]:.2f}   processes {sample.process_count}"
            )
        )
        for label, percent, used, total in (
            ("MEM ", sample.mem_percent, sample.mem_used, sample.mem_total),
            ("SWP ", sample.swap_percent, sample.swap_used, sample.swap_total),
        ):
            line = Text(f"{label} ")
            line.append_text(bar(percent, meter, th.memory, colors))
            line.append(f" {percent:5.1f} % {format_bytes(used)} / {format_bytes(total)}")
            lines.append(line)
        for disk in sample.disks:
            line = Text(f"DSK  {ellipsize(disk.mount, 10)} ")
            line.append_text(bar(disk.percent, max(4, meter - 11), th.disk, colors))
            line.append(
                f" {disk.percent:5.1f} % {format_bytes(disk.used)} / {format_bytes(disk.total)}"
            )
            lines.append(line)
        lines.append(
            Text(
                f"NET  rx {format_rate(sample.net_rx_rate)}  tx {format_rate(sample.net_tx_rate)}"
                f"   IO r {format_rate(sample.disk_read_rate)} "
                f"w {format_rate(sample.disk_write_rate)}"
            )
        )
        lines.extend(interface_lines(sample))  # NET per interface, loopback apart
        if sample.top_cpu:
            top = "  ".join(
                f"{ellipsize(p.name, 14)} {p.cpu_percent:.0f}%" for p in sample.top_cpu[:3]
            )
            lines.append(Text(ellipsize(f"TOP  cpu: {top}", width)))
            top = "  ".join(
                f"{ellipsize(p.name, 14)} {format_bytes(p.rss)}" for p in sample.top_mem[:3]
            )
            lines.append(Text(ellipsize(f"     mem: {top}", width)))
        for line in lines:
            line.truncate(width, overflow="ellipsis")
        # Spare rows (a tall pane): CPU, memory and network history.
        spare = self.content_size.height - len(lines)
        lines.extend(host_history(store, now, self.content_size.width, spare, colors))
        self.update(Group(*fit_lines(lines, self.content_size.height, DROP_ORDER)))

    def _draw_frame(self, frame: Frame, store: Store) -> None:
        """The host series as stored at that moment (per core and processes are live only)."""
        colors = self.monitor_app.palette
        th = store.config.thresholds
        host = frame.host
        width = max(20, self.size.width)
        meter = max(6, min(30, width - 34))
        if not host:
            self.update(Text("no host samples stored at that time", style="dim"))
            return
        lines: list[Text] = []
        for label, key, level in (
            ("CPU ", "cpu", th.cpu),
            ("MEM ", "memory", th.memory),
            ("SWP ", "swap", th.memory),
        ):
            if key in host:
                line = Text(f"{label} ")
                line.append_text(bar(host[key], meter, level, colors))
                line.append(f" {host[key]:5.1f} %")
                lines.append(line)
        if "load1" in host:
            lines.append(Text(f"load {host['load1']:.2f}"))
        for key in sorted(k for k in host if k.startswith("disk:")):
            line = Text(f"DSK  {ellipsize(key.removeprefix('disk:'), 10)} ")
            line.append_text(bar(host[key], max(4, meter - 11), th.disk, colors))
            line.append(f" {host[key]:5.1f} %")
            lines.append(line)
        lines.append(
            Text(
                f"NET  rx {format_rate(host.get('net_rx'))}  tx {format_rate(host.get('net_tx'))}"
                f"   IO r {format_rate(host.get('disk_read'))} "
                f"w {format_rate(host.get('disk_write'))}"
            )
        )
        lines.append(Text("per-core CPU and top processes: live only", style="dim"))
        for line in lines:
            line.truncate(width, overflow="ellipsis")
        self.update(Group(*fit_lines(lines, self.content_size.height, ("per-core", *DROP_ORDER))))


# When the pane is short, these lines go first (by their prefix), most expendable first.
DROP_ORDER = (NIC_PREFIX, "     mem:", "TOP", "load", "SWP", "  ", "NET")


def fit_lines(lines: list[Text], height: int, drop_order: tuple[str, ...]) -> list[Text]:
    """Drop expendable lines until ``lines`` fit ``height``; say so when anything went."""
    if height <= 0 or len(lines) <= height:
        return lines
    kept = list(lines)
    dropped = 0
    for prefix in drop_order:
        for line in [ln for ln in kept if ln.plain.startswith(prefix)]:
            if len(kept) + 1 <= height:
                break
            kept.remove(line)
            dropped += 1
    if len(kept) + 1 > height:
        dropped += len(kept) - (height - 1)
        kept = kept[: max(0, height - 1)]
    return [*kept, Text(f"… {dropped} more lines in a taller pane", style="dim")]


class NoticePane(AppWidget, Static):
    """A pane fed by a store reader; shows an honest empty state until data exists."""

    def __init__(self, reader: str, empty: str, **kw: Any) -> None:
        super().__init__(**kw)
        self.reader = reader
        self.empty = empty

    def refresh_data(self) -> None:
        if self.travelling:
            self.update(Text(f"{self.reader}: live only, not recorded", style="dim"))
            return
        store = self.store
        items = getattr(store, self.reader)() if store is not None else []
        if not items:
            self.update(Text(self.empty, style="dim"))
            return
        # One line each, "…" past the width; the last row shown says how many did not fit.
        width, height = max(10, self.content_size.width), self.content_size.height
        lines = [Text(str(i)) for i in items[:20]]
        hidden = len(items) - height if 0 < height < len(items) else 0
        if hidden:
            lines = lines[:height]
        for n, line in enumerate(lines, start=1):
            more = f" +{hidden} more" if hidden and n == len(lines) else ""
            line.truncate(width - len(more), overflow="ellipsis")
            line.append(more, style="dim")
        self.update(Text("\n").join(lines))


SEVERITY_WORD = {"critical": "CRIT", "high": "HIGH", "medium": "MED", "low": "LOW"}


def incident_line(inc: Incident, now: float, palette: dict[str, str], width: int) -> Text:
    """`CRIT auth: service down · 3m · ack ops` in the theme's severity colour."""
    line = Text(
        f"{SEVERITY_WORD[inc.severity.value]:<4} ",
        style=f"bold {palette.get(f'severity-{inc.severity.value}', '')}",
    )
    line.append(inc.title)
    line.append(f" · {format_age(now - inc.opened_at).removesuffix(' ago')}", style="dim")
    if inc.acknowledged_by:
        line.append(f" · ack {inc.acknowledged_by}", style="dim")
    if inc.parent_id:
        line.append(" · linked", style="dim")
    line.truncate(width, overflow="ellipsis")
    return line


class IncidentsPane(AppWidget, Static):
    """Open incidents, most severe and newest first; an honest 'no incidents' otherwise."""

    TOPICS = ("incidents",)

    def refresh_data(self) -> None:
        store = self.store
        now = self.monitor_app.clock()
        if self.travelling:
            frame = self.frame
            if frame is None:
                return
            incidents = list(frame.incidents)
            now = frame.at  # ages as they read then
        else:
            incidents = store.open_incidents() if store is not None else []
        if not incidents:
            self.update(Text("…" if self.starting else "no incidents", style="dim"))
            return
        width = max(10, self.content_size.width)
        lines = [incident_line(i, now, self.monitor_app.palette, width) for i in incidents]
        self.update(Group(*fit_lines(lines, self.content_size.height, ())))


class EventTicker(AppWidget, Static):
    """The newest platform events on one line."""

    def refresh_data(self) -> None:
        if self.travelling:
            self.update(Text("events: the event log (e) has them by time", style="dim"))
            return
        store = self.store
        events = store.events(5) if store is not None else []
        if events:
            self.update(
                Text(ellipsize(" · ".join(str(e) for e in events), self.content_size.width))
            )
            return
        redis = store.source("redis") if store is not None else None
        why = f" ({redis.describe(self.monitor_app.clock())})" if redis else ""
        self.update(Text(ellipsize(f"events: none yet{why}", self.content_size.width), style="dim"))


def write_hint(app: MonitorApp, keys: str) -> Text:
    """A view's line of write keys ("a acknowledge · r resolve"); with --read-only, struck
    through behind the word read-only."""
    if not app.read_only:
        return Text(keys, style="dim")
    line = Text("read-only: ", style="bold")
    line.append(keys, style="dim strike")
    return line


class KeyHints(Static):
    """The bottom line: each shown key (as remapped) and its title, like Textual's Footer.

    One Static instead of the Footer's widget per key keeps the first frame quick; the
    bindings do not change while a screen is up, so it is drawn on mount only.
    """

    def on_mount(self) -> None:
        self._draw()

    def on_resize(self) -> None:
        self._draw()  # at 80 columns the app-wide keys give way (footer.py)

    def _draw(self) -> None:
        shown: list[Hint] = []
        seen: set[str] = set()
        read_only = getattr(self.app, "read_only", False)
        for active in self.screen.active_bindings.values():
            binding = active.binding
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)
            key = self.app.get_key_display(binding)
            off = read_only and binding.id in WRITE_KEYS  # --read-only: shown struck through
            if shown and shown[-1].word == binding.description:  # "[ ] Time travel"
                shown[-1].keys.append(key)
            else:
                shown.append(Hint([key], binding.description, off, binding.action))
        if self.size.width:
            filterable = getattr(self.screen, "filterable", None)
            shown = fit_hints(
                shown,
                self.size.width,
                view=getattr(self.app, "current_mode", None),
                filterable=filterable is not None and filterable() is not None,
            )
        line = Text(no_wrap=True, overflow="ellipsis")
        for hint in shown:
            for key in hint.keys:
                line.append(" ")
                line.append(key, style="dim strike" if hint.off else "bold reverse")
            line.append(f" {hint.word}", style="dim strike" if hint.off else "")
        self.update(line)
