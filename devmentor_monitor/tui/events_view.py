"""The `e` view: a live tail of platform events, filterable, pausable, with rejections.

Rows are appended by key (the event's sequence number) and the oldest removed past
MAX_ROWS, so a flood of events costs one batch of row operations per tick, never a
rebuild. `space` pauses the tail (new events are counted, not shown), `v` cycles the
minimum severity, `/` filters on type, service and message.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from devmentor_monitor.events.model import Event, EventSeverity
from devmentor_monitor.tui.columns import FitsColumns, PriorityColumns
from devmentor_monitor.tui.keys import bindings
from devmentor_monitor.tui.render import ellipsize
from devmentor_monitor.tui.screens import MonitorScreen
from devmentor_monitor.tui.widgets import bound_table_caches

if TYPE_CHECKING:
    from devmentor_monitor.store import Store

MAX_ROWS = 500
LEVELS: tuple[EventSeverity | None, ...] = (
    None,
    EventSeverity.WARNING,
    EventSeverity.ERROR,
    EventSeverity.CRITICAL,
)
SEVERITY_COLOR = {
    EventSeverity.INFO: "",
    EventSeverity.WARNING: "warning",
    EventSeverity.ERROR: "error",
    EventSeverity.CRITICAL: "error",
}


COLUMNS = (
    ("time", "time", 8),
    ("severity", "severity", 8),
    ("type", "type", 26),
    ("service", "service", 14),
    ("message", "message", None),
)


class EventsTable(DataTable[Any]):
    """The tail: newest at the bottom, like `tail -f`."""

    filter_text = ""

    def set_filter(self, text: str) -> None:
        screen = self.screen
        if isinstance(screen, EventsScreen):
            screen.filter_text = text.strip().lower()
            screen.rebuild()


class EventsScreen(FitsColumns, MonitorScreen):
    KEY_SCOPE = "events"
    BINDINGS = bindings("events")

    def __init__(self) -> None:
        super().__init__()
        self.paused = False
        self.level = 0  # index in LEVELS
        self.filter_text = ""
        self.last_seq = 0
        self.unseen = 0
        self._rows: list[int] = []  # row keys (seq), oldest first
        self._columns = PriorityColumns(COLUMNS, ())

    def body(self) -> ComposeResult:
        yield Static(id="events-status")
        table = EventsTable(id="events-table", cursor_type="row")
        bound_table_caches(table)
        table.border_title = "Events"
        yield table
        rejected = Static(id="events-rejected")
        rejected.border_title = "Rejected messages"
        yield rejected

    def on_mount(self) -> None:
        self.fit_columns_now(0)
        super().on_mount()

    def column_tables(self) -> dict[str, PriorityColumns]:
        return {"events-table": self._columns}  # the message takes the room left

    def columns_changed(self, table_id: str) -> None:
        self.rebuild()

    def filterable(self) -> EventsTable:  # type: ignore[override]
        return self.query_one(EventsTable)

    # ------------------------------------------------------------------ actions
    def action_pause(self) -> None:
        self.paused = not self.paused
        if not self.paused:
            self.unseen = 0
        self.refresh_data()

    def action_severity(self) -> None:
        self.level = (self.level + 1) % len(LEVELS)
        self.rebuild()

    # ------------------------------------------------------------------ drawing
    def _wanted(self, e: Event) -> bool:
        level = LEVELS[self.level]
        if level is not None and e.severity.rank < level.rank:
            return False
        f = self.filter_text
        return not f or f in e.type or f in e.service.lower() or f in e.message.lower()

    def rebuild(self) -> None:
        table = self.query_one(EventsTable)
        table.clear()
        self._rows.clear()
        self.last_seq = 0
        self.refresh_data()

    def refresh_data(self, topics: set[str] | None = None) -> None:
        super().refresh_data(topics)
        store = self.monitor_app.store
        if store is None:
            return
        if topics is None or "events" in topics:
            new = store.events(MAX_ROWS, after_seq=self.last_seq)  # newest first
            if new:
                if self.paused:
                    self.unseen += sum(1 for e in new if e.seq > self.last_seq)
                else:
                    self._append(list(reversed(new)))
                    self.last_seq = new[0].seq
        self._status(store)

    def _append(self, events: list[Event]) -> None:
        table = self.query_one(EventsTable)
        colors = self.monitor_app.palette
        at_end = table.cursor_row >= table.row_count - 1
        for e in events:
            if not self._wanted(e):
                continue
            sev = Text(e.severity.value, style=colors.get(SEVERITY_COLOR[e.severity], ""))
            table.add_row(
                *self._columns.project(
                    (
                        time.strftime("%H:%M:%S", time.localtime(e.ts)),
                        sev,
                        ellipsize(e.type, 26),
                        ellipsize(e.service, 14),
                        e.message,
                    )
                ),
                key=str(e.seq),
            )
            self._rows.append(e.seq)
        while len(self._rows) > MAX_ROWS:
            table.remove_row(str(self._rows.pop(0)))
        if at_end and table.row_count:
            table.move_cursor(row=table.row_count - 1)

    def _status(self, store: Store) -> None:
        log = store.event_log
        now = self.monitor_app.clock()
        line = Text()
        if self.paused:
            line.append(" PAUSED ", style="bold reverse")
            line.append(f" {self.unseen} new  ")
        else:
            line.append(" live ", style="bold reverse")
            line.append("  ")
        level = LEVELS[self.level]
        line.append(f"severity ≥ {level.value if level else 'all'}  ")
        if self.filter_text:
            line.append(f"filter '{self.filter_text}'  ")
        per_min = sum(log.rates(now)["by_type"].values())
        line.append(f"{sum(log.received.values())} received, {per_min}/min  ")
        redis = store.source("redis")
        if redis is not None:
            line.append(redis.describe(now), style="dim")
        line.append("   space pause · v severity · / filter", style="dim")
        self.query_one("#events-status", Static).update(line)
        rejected = self.query_one("#events-rejected", Static)
        total = sum(log.rejected.values())
        if not total:
            rejected.update(Text("none", style="dim"))
            return
        text = Text(", ".join(f"{k} {v}" for k, v in log.rejected.items() if v) + "\n")
        for r in list(log.rejections)[-3:][::-1]:
            text.append(
                f"{time.strftime('%H:%M:%S', time.localtime(r.at))} {r.origin}: "
                f"{r.reason}: {r.detail} ",
                style="",
            )
            text.append(repr(r.sample)[:60] + "\n", style="dim")
        rejected.update(text)
