"""The overview's latency trends: a chart per service as tall as the pane allows.

The pane gets the rows the overview's plan leaves it (overview_layout.py); each service
gets an equal share, its name, last latency and p95 beside a chart of its recent checks
on a scale from zero with its SLO (or the latency thresholds) as a dotted row. When not
every service fits on a line of its own, the worst come first and the rest are counted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Group
from rich.text import Text
from textual.widgets import Static

from devmentor_monitor.model import Health
from devmentor_monitor.tui.charts import Levels
from devmentor_monitor.tui.minicharts import area_chart, per_cell
from devmentor_monitor.tui.render import ellipsize, status_text
from devmentor_monitor.tui.widgets import AppWidget, ServicesTable
from devmentor_monitor.units import format_ms

if TYPE_CHECKING:
    from devmentor_monitor.store import Store

WINDOW = 3600.0  # the checks drawn: at most the last hour, as many as the width holds
LABEL = 22  # the label column beside each chart
WORST_FIRST = {Health.DOWN: 0, Health.DEGRADED: 1, Health.UNKNOWN: 2, Health.UP: 3}


def service_levels(store: Store, name: str) -> Levels:
    """A service's SLO response time, or the config's latency thresholds, in ms."""
    slo = store.service_config(name).slo
    if slo is not None:
        return (("SLO", slo.response_time * 1000),)
    th = store.config.thresholds.latency
    return (("warn", th.warn * 1000), ("alert", th.alert * 1000))


class LatencyTrends(AppWidget, Static):
    """Latency per service over its recent checks (live; time travel shows the trend
    stored for that moment)."""

    TOPICS = ("service:",)
    # Per service shown: what its block was drawn from, and the block (see refresh_data).
    _blocks: dict[str, tuple[object, list[Text]]] = {}  # replaced each draw
    # The blocks on screen, in order, and the "… more" count: the same blocks again are
    # not painted again (a Group is never equal to the last one, so AppWidget.update
    # cannot tell). At 1,000 services the pane was painted every tick, ~40 % of them for
    # nothing new, and its paint was the TUI's largest (py-spy, `ultra`, 160x50).
    _shown: tuple[tuple[list[Text], ...], int] | None = None
    _table: ServicesTable | None = None

    def update(self, content: Any = "", *, layout: bool | None = None) -> None:
        self._shown = None
        super().update(content, layout=layout)

    def refresh_data(self) -> None:
        store = self.store
        if store is None:
            return
        width, rows = self.content_size.width, self.content_size.height
        if rows <= 0 or width < LABEL + 8:
            self.update("")
            return
        trends: dict[str, list[float]] = {}
        wanted = self._filter()
        travelling = self.travelling
        every = [] if travelling or wanted else store.service_names()
        if every and store.counts().get(Health.UP.value) == len(every):
            # All up, no filter (a healthy fleet): the worst first is services.yaml's
            # order, and only the shown services' statuses are read, not 1,000 of them
            # each tick.
            count = len(every)
            names = every if count <= rows else every[: rows - 1]
            statuses = dict.fromkeys(names, Health.UP)
        else:
            if travelling:
                frame = self.frame
                if frame is None:
                    return
                trends = {f.name: [v * 1000 for v in f.trend] for f in frame.services}
                statuses = {f.name: f.status for f in frame.services}
            else:
                statuses = {n: store.status(n) for n in store.service_names()}
            names = [
                n for n, st in statuses.items() if not wanted or wanted in n.lower() or wanted in st
            ]
            if not names:
                self.update(Text("no services match" if wanted else "no services configured"))
                return
            count = len(names)
            if count > rows:  # not all on a line each: the worst first, the rest counted
                names.sort(key=lambda n: WORST_FIRST.get(statuses[n], 3))
                names = names[: rows - 1]
        per = max(1, rows // len(names))
        now = self.monitor_app.clock()
        lines: list[Text] = []
        blocks: dict[str, tuple[object, list[Text]]] = {}
        parts: list[list[Text]] = []
        for name in names:  # the rings of the services shown only (a fleet has 1,000)
            values = trends.get(name)
            if values is None:
                # A block is drawn again only when what it shows changed: its service's
                # summary (a new check, or its figures' minute), its checks in the window,
                # the pane's size or the theme. At 1,000 services a service somewhere is
                # checked every tick, and every shown block was redrawn each time.
                ring = store.latency_history(name)
                key = (
                    store.service(name, now),
                    ring.last(),
                    ring.count_since(now - WINDOW),
                    statuses[name],
                    per,
                    width,
                    store.config.tui.chart_symbols,
                    id(self.monitor_app.palette),
                )
                held = self._blocks.get(name)
                if held is not None and held[0] == key:
                    blocks[name] = held
                    parts.append(held[1])
                    continue
                values = [v * 1000 for v in ring.values_since(now - WINDOW)]
                block = self._block(store, name, values, statuses[name], per, width)
                blocks[name] = (key, block)
                parts.append(block)
                continue
            parts.append(self._block(store, name, values, statuses[name], per, width))
        self._blocks = blocks
        more = count - len(names)
        held_shown = self._shown
        if (
            held_shown is not None
            and held_shown[1] == more
            and len(held_shown[0]) == len(parts)
            and all(a is b for a, b in zip(held_shown[0], parts, strict=True))
        ):
            return  # the very blocks on screen
        for part in parts:
            lines.extend(part)
        if more:
            lines.append(Text(f"… {more} more in the services table", style="dim"))
        self.update(Group(*lines))
        self._shown = (tuple(parts), more)

    def _filter(self) -> str:
        """The services table's filter (`/`): the trends show the same services. The
        table is looked up once (a query walks the screen's widgets, each tick)."""
        table = self._table
        if table is None or not table.is_attached:
            tables = self.screen.query(ServicesTable)
            table = self._table = tables.first() if tables else None
        return str(getattr(table, "filter_text", "")) if table is not None else ""

    def on_resize(self) -> None:
        self.refresh_data()

    def _block(
        self,
        store: Store,
        name: str,
        values: list[float],
        status: Health,
        rows: int,
        width: int,
    ) -> list[Text]:
        app = self.monitor_app
        colors = app.palette
        symbols = store.config.tui.chart_symbols
        chart_w = width - LABEL
        values = values[-chart_w * per_cell(symbols) :]
        chart, top = area_chart(
            values,
            chart_w,
            rows,
            unit="ms",
            levels=service_levels(store, name),
            symbols=symbols,
            style=colors.get("chart", ""),
            colors=colors,
        )
        last = format_ms(values[-1] / 1000) if values else "–"
        if rows == 1:
            label = Text(f"{ellipsize(name, 12):<12} ", style="bold")
            label.append(f"{last:>8}")
            labels = [label]
        else:
            first = Text(f"{ellipsize(name, 14):<15}", style="bold")
            first.append_text(status_text(status, colors))
            labels = [first, Text(f"now {last}")]
            if not self.travelling:
                labels.append(Text(f"p95 {format_ms(store.service(name).latency_p95)}"))
            labels.append(Text(f"scale 0–{top:g} ms", style="dim"))
            labels.append(Text(f"{len(values)} checks", style="dim"))
        out = []
        for i, line in enumerate(chart):
            label = labels[i] if i < len(labels) else Text()
            label.truncate(LABEL - 1, overflow="ellipsis")
            label.pad_right(LABEL - label.cell_len)
            label.append_text(line)
            # A line is the pane's width already: not split into words to be wrapped
            # (half of the pane's render, 2.3 -> 1.2 ms for 40 lines, measured).
            label.no_wrap = True
            out.append(label)
        return out
