"""The `A` view: the audit trail, newest first: when, who, from where, what, on what, and
how it ended (xN: refusals of a minute counted in one row).

It reads through one narrow interface (`AuditReader`, which the queries are) in a worker,
on entering the view and every RELOAD seconds while it is up, so a slow disk never holds
a frame. Rows are synced by their id in the chain, never rebuilt. `/` filters on actor,
source, action, target and outcome.
"""

from __future__ import annotations

import time
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from devmentor_monitor.tui.columns import FitsColumns, PriorityColumns
from devmentor_monitor.tui.render import ellipsize
from devmentor_monitor.tui.screens import MonitorScreen
from devmentor_monitor.tui.widgets import bound_table_caches, sync_rows

if TYPE_CHECKING:
    from devmentor_monitor.model import AuditEntry

MAX_ROWS = 500
RELOAD = 5.0  # seconds (monotonic) between reads while the view is up
COLUMNS = ("when", "actor", "source", "action", "target", "outcome")
# Dropped in this order when narrow (80 columns: when, actor, action, outcome).
DROP = ("source", "target")


class AuditReader(Protocol):
    """All the view reads: the newest ``limit`` entries of the audit trail."""

    async def audit(self, limit: int = 200) -> list[AuditEntry]: ...


class AuditTable(DataTable[Any]):
    def set_filter(self, text: str) -> None:
        screen = self.screen
        if isinstance(screen, AuditScreen):
            screen.filter_text = text.strip().lower()
            screen.draw()


class AuditScreen(FitsColumns, MonitorScreen):
    def __init__(self) -> None:
        super().__init__()
        self.filter_text = ""
        self.entries: list[AuditEntry] | None = None  # None: not read yet
        self.error: str | None = None
        self._read_at = -RELOAD  # monotonic time of the last read asked for
        self._rows: dict[str, tuple[Any, ...]] = {}
        widths = (19, 14, 15, 22, 26, None)
        self._columns = PriorityColumns(
            [(key, key, w) for key, w in zip(COLUMNS, widths, strict=True)], DROP, least=12
        )

    def body(self) -> ComposeResult:
        yield Static(id="audit-status")
        table = AuditTable(id="audit-table", cursor_type="row")
        bound_table_caches(table)
        table.border_title = "Audit trail"
        yield table

    def on_mount(self) -> None:
        self.fit_columns_now(0)  # every column until laid out
        super().on_mount()

    def column_tables(self) -> dict[str, PriorityColumns]:
        return {"audit-table": self._columns}

    def columns_changed(self, table_id: str) -> None:
        self._rows.clear()
        self.draw()

    def on_screen_resume(self) -> None:
        self._read_at = -RELOAD  # entering the view: read now
        super().on_screen_resume()

    def filterable(self) -> AuditTable:  # type: ignore[override]
        return self.query_one(AuditTable)

    # ------------------------------------------------------------------ reading
    def refresh_data(self, topics: set[str] | None = None) -> None:
        super().refresh_data(topics)
        reader: AuditReader | None = self.monitor_app.queries
        now = time.monotonic()
        if reader is not None and now - self._read_at >= RELOAD:
            self._read_at = now
            self.run_worker(  # a partial, not a coroutine: a cancelled read leaves no warning
                partial(self._read, reader),  # type: ignore[arg-type]
                group="audit",
                exclusive=True,
                exit_on_error=False,
            )
        self.draw()

    async def _read(self, reader: AuditReader) -> None:
        try:
            self.entries, self.error = await reader.audit(MAX_ROWS), None
        except Exception as exc:  # storage trouble: the status line says so, the app runs on
            self.error = str(exc) or type(exc).__name__
        self.draw()

    # ------------------------------------------------------------------ drawing
    def _wanted(self, e: AuditEntry) -> bool:
        f = self.filter_text
        return not f or any(
            f in v.lower() for v in (e.actor, e.source, e.action, e.target, e.outcome)
        )

    def draw(self) -> None:
        if not self.ready:
            return
        palette = self.monitor_app.palette
        rows: dict[str, tuple[Any, ...]] = {}
        shown = [e for e in self.entries or [] if self._wanted(e)]
        for e in shown:
            refused = e.outcome.startswith(("denied", "failed"))
            outcome = e.outcome if e.count == 1 else f"{e.outcome} (x{e.count})"
            rows[str(e.id)] = (
                time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e.ts)),
                ellipsize(e.actor, 14),
                ellipsize(e.source, 15),
                ellipsize(e.action, 22),
                ellipsize(e.target, 26),
                Text(outcome, style=palette.get("error", "") if refused else ""),
            )
        columns = self._columns
        rows = {key: columns.project(row) for key, row in rows.items()}
        sync_rows(self.query_one(AuditTable), columns.keys, rows, self._rows)
        self._status(len(shown))

    def _status(self, shown: int) -> None:
        line = Text()
        if self.monitor_app.queries is None:
            line.append("the audit trail opens with the runtime (starting…)", style="dim")
        elif self.error is not None:
            line.append(f"audit trail unavailable: {self.error}", style="bold")
        elif self.entries is None:
            line.append("reading the audit trail…", style="dim")
        else:
            total = len(self.entries)
            line.append(f"{total} newest entries" if total >= MAX_ROWS else f"{total} entries")
            if self.filter_text:
                line.append(f", {shown} matching '{self.filter_text}'")
            line.append("  newest first; every write and action, allowed or refused", style="dim")
        line.append("   / filter · `audit verify` checks the chain", style="dim")
        self.query_one("#audit-status", Static).update(line)
