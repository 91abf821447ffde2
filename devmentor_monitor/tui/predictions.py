"""The `p` view: current anomalies, forecasts and capacity advice, each with its "why".

A table of predictions (most severe first) on the left; the selected one's explanation,
and the anomalies that ended in the last hour, on the right. The status line says what
the engine is doing, so an empty table reads as "warming up" or "all quiet", not broken.
"""

from __future__ import annotations

import time
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Static

from devmentor_monitor.predictions.model import Prediction, PredictionStatus, RecentAnomaly
from devmentor_monitor.tui.charts import MARK_WORDS
from devmentor_monitor.tui.screens import MonitorScreen
from devmentor_monitor.tui.widgets import SEVERITY_WORD, bound_table_caches, sync_rows
from devmentor_monitor.units import format_age

KIND_WORD = {
    "anomaly": "anomaly",
    "exhaustion": "full",
    "leak": "leak",
    "error_budget": "budget",
    "capacity": "scale",
}
EMPTY = "no predictions yet"


def status_line(status: PredictionStatus, now: float) -> str:
    """What the engine is doing, in one line."""
    if not status:
        return "predictions: waiting for the engine's first tick"
    parts = [f"watching {status.get('series', 0)} series"]
    warming = status.get("warming_up", 0)
    if warming:
        parts.append(
            f"{warming} still learning (first {status.get('warmup_samples')} samples score 0)"
        )
    parts.append(f"{status.get('flagged', 0)} flagged")
    if status.get("series_dropped"):
        parts.append(f"{status['series_dropped']} series over predictions.max_series")
    parts.append(
        "capacity advice " + ("on" if status.get("scaling_enabled") else "off (AUTO_SCALE_ENABLED)")
    )
    updated = status.get("updated_at")
    if updated is not None:
        parts.append(f"updated {format_age(now - updated)}")
    return " · ".join(parts)


COLUMNS = ("sev", "kind", "subject", "since", "title")


class PredictionsScreen(MonitorScreen):
    DEFAULT_CSS = """
    #pred-status { height: 1; padding: 0 1; color: $text-muted; }
    #pred-split { height: 1fr; }
    #pred-list { width: 3fr; height: 100%; border: round $primary;
                 border-title-color: $primary; }
    #pred-side { width: 2fr; height: 100%; }
    #pred-detail { height: 2fr; border: round $secondary; border-title-color: $secondary;
                   padding: 0 1; overflow-y: auto; }
    #pred-recent { height: 1fr; border: round $secondary; border-title-color: $secondary;
                   padding: 0 1; overflow-y: auto; }
    """
    selected: str | None = None

    def __init__(self) -> None:
        super().__init__()
        self._rows: dict[str, tuple[Any, ...]] = {}  # predictions shown, by key

    def body(self) -> ComposeResult:
        yield Static(id="pred-status")
        with Horizontal(id="pred-split"):
            table: DataTable[Any] = DataTable(id="pred-list", cursor_type="row")
            table.border_title = "Predictions"
            bound_table_caches(table)
            yield table
            with Vertical(id="pred-side"):
                detail = Static(id="pred-detail")
                detail.border_title = "What was seen, and why it matters"
                yield detail
                recent = Static(id="pred-recent")
                recent.border_title = "Anomalies ended in the last hour"
                yield recent

    def on_mount(self) -> None:
        table = self.query_one("#pred-list", DataTable)
        for key, label, width in (
            ("sev", "sev", 5),
            ("kind", "kind", 8),
            ("subject", "subject", 18),
            ("since", "since", 6),
            ("title", "title", None),
        ):
            table.add_column(label, key=key, width=width)
        super().on_mount()

    def _items(self) -> list[Prediction]:
        store = self.monitor_app.store
        return store.predictions() if store is not None else []

    @staticmethod
    def _key(p: Prediction) -> str:
        return f"{p.kind}:{p.subject}"

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "pred-list" and event.row_key.value:
            self.selected = event.row_key.value
            self._draw_detail(self._items())

    def refresh_data(self, topics: set[str] | None = None) -> None:
        super().refresh_data(topics)
        store = self.monitor_app.store
        now = self.monitor_app.clock()
        status: PredictionStatus = store.prediction_status if store is not None else {}
        self.query_one("#pred-status", Static).update(Text(status_line(status, now)))
        if topics is not None and "predictions" not in topics:
            return
        items = self._items()
        table = self.query_one("#pred-list", DataTable)
        palette = self.monitor_app.palette
        rows: dict[str, tuple[Any, ...]] = {}
        for p in items:
            key = self._key(p)
            if key in rows:
                continue
            sev = Text(
                SEVERITY_WORD[p.severity.value],
                style=f"bold {palette.get(f'severity-{p.severity.value}', '')}",
            )
            rows[key] = (
                sev,
                KIND_WORD.get(p.kind, p.kind),
                p.subject,
                format_age(now - p.started_at).removesuffix(" ago"),
                p.title,
            )
        sync_rows(table, COLUMNS, rows, self._rows)
        keys = list(rows)
        if self.selected in keys:
            table.move_cursor(row=keys.index(self.selected))
        else:
            self.selected = keys[0] if keys else None
            if keys:
                table.move_cursor(row=0)  # where a rebuilt table would put it
        self._draw_detail(items)
        self._draw_recent(status.get("recent_anomalies") or [])

    def _draw_detail(self, items: list[Prediction]) -> None:
        box = self.query_one("#pred-detail", Static)
        p = next((i for i in items if self._key(i) == self.selected), None)
        if p is None:
            box.update(Text(EMPTY, style="dim"))
            return
        text = Text(f"{p.title}\n", style="bold")
        score = "score" if p.kind == "anomaly" else "confidence"
        text.append(
            f"{p.kind} · {p.subject} · {p.severity.value} · {score} {p.score:.2f}\n\n", style="dim"
        )
        text.append(p.explanation)
        box.update(text)

    def _draw_recent(self, recent: list[RecentAnomaly]) -> None:
        box = self.query_one("#pred-recent", Static)
        if not recent:
            box.update(Text("none", style="dim"))
            return
        text = Text()
        for a in recent[:20]:
            start = time.strftime("%H:%M:%S", time.localtime(a["started_at"]))
            end = time.strftime("%H:%M:%S", time.localtime(a["ended_at"]))
            seen = MARK_WORDS.get(a.get("expert", ""), "")
            seen = f", {seen}" if seen else ""
            text.append(f"{start}–{end} {a['label']} (peak {a['peak_score']:.2f}{seen})\n")
        box.update(text)
