"""Priority columns: a table shows the columns that fit its pane whole, dropping the
least useful first, so a narrow pane (80 columns, the workload views) never cuts a header
to a stub or scrolls sideways."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.widgets import DataTable

Column = tuple[str, str, int | None]  # key, label, width (None: as wide as its cells)
PAD = 2  # DataTable's cell padding, one cell each side


def fit_columns(
    columns: Sequence[Column], drop: Sequence[str], width: int, least: int = 0
) -> list[Column]:
    """``columns`` without those in ``drop`` (in that order) until the fixed widths and
    each auto column's ``least`` cells (at least its label) fit in ``width`` (0: not laid
    out yet, all of them). An auto column then gets the room left (its cells end in an
    ellipsis past it)."""
    shown = list(columns)
    if not width:
        return shown
    for key in drop:
        if sum((w or max(least, len(label))) + PAD for _, label, w in shown) <= width:
            break
        shown = [c for c in shown if c[0] != key]
    autos = [c for c in shown if c[2] is None]
    room = width - sum(w + PAD for _, _, w in shown if w is not None) - PAD * len(autos)
    share = room // len(autos) if autos else 0
    return [(k, label, max(len(label), share) if w is None else w) for k, label, w in shown]


class PriorityColumns:
    """One table's columns by priority; rows are built with every column and `project`ed
    to the ones shown."""

    def __init__(self, columns: Sequence[Column], drop: Sequence[str], least: int = 0) -> None:
        self.columns = tuple(columns)
        self.drop = tuple(drop)
        self.least = least  # cells an auto column needs before the others give way
        self.shown: list[Column] = []
        self._index: list[int] = []

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(key for key, _, _ in self.shown)

    def fit(self, table: DataTable[Any], width: int) -> bool:
        """Show the columns that fit ``width``; True if they changed (the table is then
        emptied: the caller clears its cell cache and draws again)."""
        shown = fit_columns(self.columns, self.drop, width, self.least)
        if shown == self.shown:
            return False
        self.shown = shown
        keys = [key for key, _, _ in self.columns]
        self._index = [keys.index(key) for key, _, _ in shown]
        table.clear(columns=True)
        for key, label, w in shown:
            table.add_column(label, key=key, width=w)
        return True

    def project(self, row: tuple[Any, ...]) -> tuple[Any, ...]:
        """The shown cells of ``row``; text longer than its column ends in an ellipsis."""
        out: list[Any] = []
        for i, (_, _, width) in zip(self._index, self.shown, strict=True):
            cell = row[i]
            if width is not None and isinstance(cell, str | Text) and len(cell) > width:
                cell = Text(cell) if isinstance(cell, str) else cell.copy()
                cell.truncate(width, overflow="ellipsis")
            out.append(cell)
        return tuple(out)


class FitsColumns:
    """For a screen whose tables show priority columns: once laid out after a resize,
    each table shows the columns that fit; `columns_changed` redraws an emptied one."""

    def column_tables(self) -> dict[str, PriorityColumns]:
        """Each table's columns, by table id."""
        raise NotImplementedError

    def columns_changed(self, table_id: str) -> None:
        """``table_id`` was emptied with new columns: forget its cells, draw it again."""
        raise NotImplementedError

    def fit_columns_now(self, width: int | None = None) -> None:
        """Fit every table (``width`` 0: before layout, every column)."""
        screen: Any = self
        for table_id, columns in self.column_tables().items():
            table = screen.query_one(f"#{table_id}", DataTable)
            room = table.scrollable_content_region.width if width is None else width
            if columns.fit(table, room) and width is None:
                self.columns_changed(table_id)

    def on_resize(self) -> None:
        screen: Any = self
        screen.call_after_refresh(self.fit_columns_now)  # once the tables have their size
