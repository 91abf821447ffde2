"""One screen per view. Screens compose panes and forward the app's refresh tick to them."""

from __future__ import annotations

import time
from functools import partial
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Input, Static

from devmentor_monitor.history.model import host_series, service_series
from devmentor_monitor.logs import mask_url
from devmentor_monitor.metric_specs import series_spec
from devmentor_monitor.rings import LIVE_SPAN
from devmentor_monitor.tui.charts import (
    RANGES,
    STORED_RANGES,
    Marks,
    chart_levels,
    line_chart,
    step_for,
)
from devmentor_monitor.tui.columns import FitsColumns, PriorityColumns
from devmentor_monitor.tui.confirm import ConfirmScreen
from devmentor_monitor.tui.databasis import budget_basis, uptime_line
from devmentor_monitor.tui.fleet import GROUP_PREFIX
from devmentor_monitor.tui.keys import KEYS, bindings, help_rows, key_display
from devmentor_monitor.tui.overview_layout import OverviewPlan, plan_overview
from devmentor_monitor.tui.render import reflow, sparkline
from devmentor_monitor.tui.replay import when
from devmentor_monitor.tui.silence import silenced_line
from devmentor_monitor.tui.trends import LatencyTrends
from devmentor_monitor.tui.widgets import (
    SEVERITY_WORD,
    AppWidget,
    EventTicker,
    HeaderBar,
    IncidentsPane,
    KeyHints,
    NoticePane,
    ServicesTable,
    SystemPane,
    bound_table_caches,
    sync_rows,
    write_hint,
)
from devmentor_monitor.units import format_age, format_ms, format_percent

if TYPE_CHECKING:
    from textual.geometry import Size

    from devmentor_monitor.incidents.model import Incident
    from devmentor_monitor.store import Store
    from devmentor_monitor.tui.app import MonitorApp

Line = tuple[str, list[float], list[float]]  # label, timestamps, values

CHECK_COLUMNS = ("when", "result", "latency", "HTTP", "detail")
INCIDENT_TABLE = (
    ("sev", "sev", 5),
    ("service", "service", 12),
    ("state", "state", 6),
    ("age", "age", 6),
    ("title", "title", None),
)


class MonitorScreen(Screen[None]):
    """Header, body, filter line and footer; `refresh_data` redraws every pane."""

    TITLE_TEXT = ""

    @property
    def monitor_app(self) -> MonitorApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield HeaderBar(id="header")
        yield from self.body()
        # One line of text, not Textual's Footer (a widget per key): the first frame
        # comes ~0.05 s sooner. The filter box is only built when `/` first asks for it.
        yield KeyHints(id="keys")

    def body(self) -> ComposeResult:
        yield from ()

    def silence_target(self) -> str | None:
        """The service `S` would silence on this view (None: this view has none)."""
        return None

    def copy_target(self) -> str | None:
        """What `c` copies on this view: the selected service's URL (masked, as shown)."""
        name = self.silence_target()
        table = self.filterable()
        if name is None and table is not None and table.row_count:
            name = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        store = self.monitor_app.store
        if not name or store is None or not store.has_service(name):
            return None
        url = store.service(name).url
        return mask_url(url) if url else None

    ready = False  # set once mounted: a tick must not draw into a half-built screen

    def on_mount(self) -> None:
        self.ready = True
        self.refresh_data()

    def on_screen_resume(self) -> None:
        if self.ready:
            self.refresh_data()

    def refresh_data(self, topics: set[str] | None = None) -> None:
        """Redraw the panes that draw from ``topics`` (None: every pane)."""
        for pane in self.query("*"):
            if isinstance(pane, AppWidget) and pane.wants(topics):
                pane.refresh_data()  # type: ignore[attr-defined]

    # filter ------------------------------------------------------------------
    def filterable(self) -> ServicesTable | None:
        tables = self.query(ServicesTable)
        return tables.first() if tables else None

    def open_filter(self) -> bool:
        if self.filterable() is None:
            self.notify("nothing to filter on this view", timeout=2)
            return False
        boxes = self.query("#filter")
        if boxes:
            box = boxes.first(Input)
            box.disabled = False
            box.display = True
        else:
            # Disabled while closed, so it never takes the focus (and keys) from the view.
            box = Input(placeholder="filter: type to narrow the table, esc to close", id="filter")
            self.mount(box, before="#keys")
        box.focus()
        return True

    def close_filter(self) -> bool:
        boxes = self.query("#filter")
        box = boxes.first(Input) if boxes else None
        if box is None or not box.display:
            return False
        box.display = False
        box.disabled = True
        box.value = ""
        table = self.filterable()
        if table is not None:
            table.set_filter("")
            table.focus()
        return True

    def action_sort_services(self) -> None:
        """`>`: the services table's next sort key."""
        table = self.filterable()
        if table is None:
            self.notify("nothing to sort on this view", timeout=2)
            return
        self.notify(f"services sorted by {table.cycle_sort()}", timeout=1.5)

    def action_fold_group(self) -> None:
        """`z`: fold or unfold the services group under the cursor."""
        table = self.filterable()
        name = table.toggle_group() if table is not None else None
        if name is None:
            self.notify("no groups here (set group: on services in services.yaml)", timeout=2)

    def on_input_changed(self, event: Input.Changed) -> None:
        table = self.filterable()
        if table is not None and event.input.id == "filter":
            table.set_filter(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        table = self.filterable()
        if table is not None:
            table.focus()


class TravelBanner(AppWidget, Static):
    """'viewing 14:32, press esc for live' while the overview shows the past."""

    def refresh_data(self) -> None:
        app = self.monitor_app
        at = app.travel_at
        self.display = at is not None
        if at is None:
            return
        now = app.clock()
        text = Text(f" viewing {when(at, now)}, press esc for live ", style="bold reverse")
        if app.frame_error is not None:
            text.append(f"  history unavailable: {app.frame_error}", style="bold")
        elif app.frame is None or app.frame.at != at:
            text.append("  loading from history…")
        keymap = dict(getattr(app, "_keymap", {}) or {})  # as remapped in tui.keys
        keys = {k.id: key_display(keymap.get(k.id, k.key)) for k in KEYS}
        text.append(
            f"  {keys['travel_back']} {keys['travel_forward']} ±1 min · "
            f"{keys['travel_back_hour']} {keys['travel_forward_hour']} ±1 h",
            style="dim",
        )
        self.update(text)


class OverviewScreen(MonitorScreen):
    TRAVELS = True  # `[` `]` redraw this view from the stored history

    _plan: OverviewPlan | None = None

    def body(self) -> ComposeResult:
        yield TravelBanner(id="travel-banner")
        with Horizontal(id="top"):
            with Vertical(id="left"):
                table = ServicesTable(id="services")
                table.border_title = "Services"
                yield table
                trends = LatencyTrends(id="trends")
                trends.border_title = "Latency trends"
                yield trends
            system = SystemPane(id="system")
            system.border_title = "Host"
            yield system
        with Horizontal(id="bottom"):
            incidents = IncidentsPane(id="incidents")
            incidents.border_title = "Incidents"
            yield incidents
            predictions = NoticePane("predictions", "no predictions yet", id="predictions")
            predictions.border_title = "Predictions"
            yield predictions
        yield EventTicker(id="ticker")

    async def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """enter, or a click on the selected row (a first click selects it, as in btop and
        the topology view): that service in the `s` view."""
        name = event.row_key.value
        if event.data_table.id == "services" and name and not name.startswith(GROUP_PREFIX):
            await open_service(self.monitor_app, name)

    _sized: Size | None = None  # the size the panes were last fitted to on a resize

    def on_resize(self) -> None:
        # Textual sends the same size up to three times as the first frame is drawn; each
        # redrew every pane (~12 ms) and held back the runtime's start behind it.
        if self.size == self._sized:
            return
        self._sized = self.size
        narrow = self.size.width < 120
        self.set_class(narrow, "narrow")
        self.set_class(self.size.height < 30, "short")
        if self.ready:
            self.refresh_data()

    def refresh_data(self, topics: set[str] | None = None) -> None:
        if self._fit():  # the panes' sizes change: every pane draws again once laid out
            self.call_after_refresh(super().refresh_data)
        super().refresh_data(topics)

    def _fit(self) -> bool:
        """Apply the plan for the rows and the data now shown (overview_layout.py); True if
        any height changed."""
        app = self.monitor_app
        store = app.store
        if store is None or not self.size.height:
            return False
        frame = app.frame if app.travel_at is not None else None
        if frame is not None and frame.at == app.travel_at:
            services, incidents = len(frame.services), len(frame.incidents)
        else:
            services, incidents = len(store.service_names()), len(store.open_incidents())
        wide = self.size.width >= 120
        chrome = 3 + (app.travel_at is not None)  # header, ticker, keys (and the banner)
        boxes = self.query("#filter")
        filtering = bool(boxes) and boxes.first().display
        plan = plan_overview(
            self.size.height - chrome - 2 * filtering,  # the filter line and its gap
            wide=wide,
            services=services,
            incidents=incidents,
            predictions=min(20, len(store.predictions())),
        )
        if filtering:  # the rows the table being filtered lacks come from the incidents
            move = max(0, min(services + 3 - plan.services, plan.bottom - 3))
            plan = OverviewPlan(plan.services + move, plan.trends, plan.bottom - move)
        if plan == self._plan:
            return False
        self._plan = plan
        self.query_one("#services").styles.height = plan.services
        trends = self.query_one("#trends")
        trends.display = plan.trends > 0
        trends.styles.height = plan.trends
        self.query_one("#left").styles.height = "100%" if wide else plan.services + plan.trends
        self.query_one("#bottom").styles.height = plan.bottom
        return True


HISTORY_RELOAD = 60.0  # a stored range is read again at most once a minute


class ChartPane(AppWidget, Static):
    """A chart of a series over the screen's chosen range: the live ranges from the rings
    in memory, 7d and 30d from the rollups on disk (read in a worker)."""

    def __init__(
        self, title: str, keys: list[str] | None = None, service_latency: bool = False, **kw: Any
    ) -> None:
        super().__init__(**kw)
        self.title = title
        self.keys = keys or []
        self.service_latency = service_latency
        self.TOPICS = ("service:",) if service_latency else ("system",)
        self.window = RANGES["5m"]
        self.only_service: str | None = None
        # The stored range last read: (what was asked, when, the lines or the error).
        self._stored: tuple[tuple[Any, ...], float, list[Line] | str] | None = None
        self._loading: tuple[Any, ...] | None = None

    @property
    def range_name(self) -> str:
        return next((n for n, w in RANGES.items() if w == self.window), "")

    @property
    def from_history(self) -> bool:
        """7d and 30d; and 24 h, past the hour the rings keep (rings.LIVE_SPAN), when
        there is a history to read."""
        if self.range_name in STORED_RANGES:
            return True
        return self.window > LIVE_SPAN and self.monitor_app.queries is not None

    def _stored_series(self, store: Store) -> tuple[list[tuple[str, str, float]], str]:
        """(label, stored series, factor) per line, and the unit."""
        if self.service_latency:
            names = [self.only_service] if self.only_service else store.service_names()
            return [(n, service_series(n, "latency_seconds"), 1000.0) for n in names], "ms"
        out, unit = [], ""
        for key in self.keys:
            spec = series_spec(key)
            kib = spec.unit == "bytes/s"
            unit = "KiB/s" if kib else spec.unit
            out.append((spec.label, host_series(key), 1 / 1024 if kib else 1.0))
        return out, unit

    def _draw_stored(self, store: Store, now: float) -> None:
        """From the history (see from_history): a point per step, about one per column;
        the history picks the tier."""
        name = self.range_name
        series, unit = self._stored_series(store)
        step = step_for(self.window, max(20, self.size.width - 10))
        key = (self.window, tuple(s for _, s, _ in series), step)
        stored = self._stored if self._stored is not None and self._stored[0] == key else None
        if (stored is None or now - stored[1] >= HISTORY_RELOAD) and self._loading != key:
            queries = self.monitor_app.queries
            if queries is not None:
                self._loading = key
                self.run_worker(
                    partial(self._load, key, series, now - self.window, now, step),  # type: ignore[arg-type]
                    group=f"history-{id(self)}",
                    exclusive=True,
                    exit_on_error=False,
                )
        if stored is None:
            self.update(Text(f"{self.title}\n\nloading {name} from the history…", style="dim"))
            return
        if isinstance(stored[2], str):
            self.update(Text(f"{self.title}\n\nhistory unavailable: {stored[2]}", style="dim"))
            return
        self.update(
            line_chart(
                stored[2],
                now=now,
                window=self.window,
                width=self.content_size.width,
                height=self.content_size.height,
                title=f"{self.title}, {name} "
                f"({'avg' if name in STORED_RANGES else 'max'} per {_step_word(step)})",
                unit=unit,
                color=self.monitor_app.theme != "monochrome",
                empty=f"not enough stored for the last {name} yet (two points needed): "
                "the history fills as the monitor runs",
                levels=chart_levels(store.config.thresholds, self.keys, self.service_latency),
                symbols=store.config.tui.chart_symbols,
            )
        )

    async def _load(
        self,
        key: tuple[Any, ...],
        series: list[tuple[str, str, float]],
        since: float,
        until: float,
        step: float,
    ) -> None:
        queries = self.monitor_app.queries
        assert queries is not None
        result: list[Line] | str
        try:
            result = []
            for label, name, factor in series:
                points = await queries.history(name, since, until, step)
                # The live 24 h keeps each step's worst, as the rings' chart did (a 30 s
                # spike stays visible); 7d and 30d show the average, as titled.
                worst = key[0] <= RANGES["24h"]
                result.append(
                    (
                        label,
                        [p.ts for p in points],
                        [(p.max if worst else p.avg) * factor for p in points],
                    )
                )
        except Exception as exc:  # storage trouble: the chart says so, the app runs on
            result = str(exc) or type(exc).__name__
        finally:  # cancelled too (another range asked meanwhile): free to load again
            if self._loading == key:
                self._loading = None
        self._stored = (key, self.monitor_app.clock(), result)
        self.refresh_data()

    def refresh_data(self) -> None:
        store = self.store
        if store is None:
            return
        now = self.monitor_app.clock()
        if self.from_history:
            self._draw_stored(store, now)
            return
        since = now - self.window
        lines = []
        marks: list[Marks] = []
        unit = ""
        if self.service_latency:
            names = [self.only_service] if self.only_service else store.service_names()
            for name in names:
                ts, vs = store.latency_history(name).since(since)
                lines.append((name, ts, [v * 1000 for v in vs]))
                marks.append(_marks(store, f"latency:{name}", since, 1000.0))
            unit = "ms"
        else:
            for key in self.keys:
                ring = store.series(key)
                if ring is None:
                    continue
                spec = series_spec(key)
                ts, vs = ring.since(since)
                if spec.unit == "bytes/s":
                    vs = [v / 1024 for v in vs]
                    unit = "KiB/s"
                else:
                    unit = spec.unit
                lines.append((spec.label, ts, vs))
                marks.append(_marks(store, key, since, 1 / 1024 if spec.unit == "bytes/s" else 1.0))
        width, height = self.content_size.width, self.content_size.height
        self.update(
            line_chart(
                lines,
                now=now,
                window=self.window,
                width=width,
                height=height,
                title=self.title,
                unit=unit,
                color=self.monitor_app.theme != "monochrome",
                marks=marks,
                levels=chart_levels(store.config.thresholds, self.keys, self.service_latency),
                symbols=store.config.tui.chart_symbols,
            )
        )

    def on_resize(self) -> None:
        self.refresh_data()


def _step_word(step: float) -> str:
    return f"{step / 3600:g} h" if step >= 3600 else f"{step / 60:g} min"


class StoredSeriesPane(AppWidget, Static):
    """Series only the history holds (a service's scraped metrics, pushed custom metrics):
    one line each with a sparkline over the screen's range and the last, min and max."""

    def __init__(self, title: str, prefix: str, empty: str, **kw: Any) -> None:
        super().__init__(**kw)
        self.title = title
        self.prefix = prefix
        self.empty = empty
        self.window = RANGES["1h"]
        self._shown: tuple[tuple[Any, ...], float, list[tuple[str, list[float]]] | str] | None
        self._shown = None
        self._loading: tuple[Any, ...] | None = None

    def refresh_data(self) -> None:
        app = self.monitor_app
        now = app.clock()
        width = max(20, self.size.width)
        spark = max(8, min(60, width - 60))
        step = step_for(self.window, spark)
        key = (self.prefix, self.window, step)
        shown = self._shown if self._shown is not None and self._shown[0] == key else None
        reload = HISTORY_RELOAD if self.window > RANGES["24h"] else 10.0
        stale = shown is None or now - shown[1] >= reload
        if stale and self._loading != key and app.queries is not None:
            self._loading = key
            self.run_worker(
                partial(self._load, key, now - self.window, now, step),  # type: ignore[arg-type]
                group=f"series-{id(self)}",
                exclusive=True,
                exit_on_error=False,
            )
        text = Text(f"{self.title}\n", style="bold")
        if shown is None:
            text.append("loading from the history…", style="dim")
        elif isinstance(shown[2], str):
            text.append(f"history unavailable: {shown[2]}", style="dim")
        elif not shown[2]:
            text.append(self.empty, style="dim")
        else:
            chart_style = app.palette.get("chart", "")
            names = [n.removeprefix(self.prefix) for n, _ in shown[2]]
            label = min(40, max(len(n) for n in names))
            for name, (_, values) in zip(names, shown[2], strict=True):
                line = Text(f"{name[:label]:<{label}} ")
                if values:
                    line.append(sparkline(values, spark), style=chart_style)
                    line.append(f" {values[-1]:.4g}  min {min(values):.4g} max {max(values):.4g}")
                else:
                    line.append("nothing in this range", style="dim")
                line.truncate(width, overflow="ellipsis")
                text.append_text(line)
                text.append("\n")
        self.update(text)

    async def _load(self, key: tuple[Any, ...], since: float, until: float, step: float) -> None:
        queries = self.monitor_app.queries
        assert queries is not None
        result: list[tuple[str, list[float]]] | str
        try:
            result = []
            for name in await queries.history_names(self.prefix):
                points = await queries.history(name, since, until, step)
                result.append((name, [p.avg for p in points]))
        except Exception as exc:  # storage trouble: the pane says so, the app runs on
            result = str(exc) or type(exc).__name__
        finally:  # cancelled too: free to load again
            if self._loading == key:
                self._loading = None
        self._shown = (key, self.monitor_app.clock(), result)
        self.refresh_data()


RANGE_BINDINGS: list[BindingType] = bindings("range")  # keys.py: 1-5 and r


def range_line(current: str, stored: bool = False) -> Text:
    """The ranges, the shown one highlighted, and where it is read from (``stored``: the
    history on disk, as 7d and 30d always are)."""
    line = Text("range: ")
    for name in RANGES:
        line.append(f" {name} ", style="reverse bold" if name == current else "")
    stored = stored or current in STORED_RANGES
    source = "stored history (rollups)" if stored else "memory"
    line.append(f"   from {source} · keys 1 / 2 / 3 / 4 / 5 or r to change", style="dim")
    return line


class RangeScreen(MonitorScreen):
    """A screen with charts and the range keys; `refresh_data` draws the range chosen."""

    KEY_SCOPE = "range"
    BINDINGS = RANGE_BINDINGS
    range_name = "5m"

    def action_range(self, name: str) -> None:
        self.range_name = name
        self.refresh_data()

    def action_next_range(self) -> None:
        names = list(RANGES)
        self.action_range(names[(names.index(self.range_name) + 1) % len(names)])


def _marks(store: Store, series: str, since: float, factor: float) -> Marks:
    """Flagged points of a series since ``since``, scaled like its line, with the expert
    that flagged each."""
    points = [(t, v * factor, e) for t, v, e in store.anomaly_marks(series) if t >= since]
    return [t for t, _, _ in points], [v for _, v, _ in points], [e for _, _, e in points]


class MetricsScreen(RangeScreen):
    def body(self) -> ComposeResult:
        yield Static(id="range-line")
        with VerticalScroll(id="charts"):
            yield ChartPane("CPU", ["cpu"], classes="chart")
            yield ChartPane("Memory", ["memory", "swap"], classes="chart")
            yield ChartPane("Disk", [], classes="chart", id="disk-chart")
            yield ChartPane("Network", ["net_rx", "net_tx"], classes="chart")
            yield ChartPane(
                "Service latency", service_latency=True, classes="chart", id="latency-chart"
            )
            yield StoredSeriesPane(
                "Custom metrics (POST /api/metrics)",
                "custom:",
                "none pushed yet",
                id="custom-series",
                classes="series",
            )

    def on_resize(self) -> None:
        # Wide and tall: two charts a row, all on screen (no scrollbar beside the charts).
        self.set_class(self.size.width >= 160 and self.size.height >= 40, "grid")

    def refresh_data(self, topics: set[str] | None = None) -> None:
        store = self.monitor_app.store
        if store is not None:
            disks = [k for k in store.series_names() if k.startswith("disk:")]
            self.query_one("#disk-chart", ChartPane).keys = disks or ["disk_read"]
        for chart in self.query(ChartPane):
            chart.window = RANGES[self.range_name]
        self.query_one("#custom-series", StoredSeriesPane).window = RANGES[self.range_name]
        stored = any(c.from_history for c in self.query(ChartPane))
        self.query_one("#range-line", Static).update(range_line(self.range_name, stored))
        super().refresh_data(topics)


class ServicesScreen(RangeScreen):
    """Pick a service on the left; its latency, SLO, scraped metrics and recent checks on
    the right."""

    range_name = "1h"

    def __init__(self) -> None:
        super().__init__()
        self._checks: dict[str, tuple[Any, ...]] = {}  # recent checks shown, by key
        self._checks_of: str | None = None  # the service they belong to

    def body(self) -> ComposeResult:
        with Horizontal(id="svc-split"):
            table = ServicesTable(id="svc-list", columns=("service", "status"))
            table.border_title = "Services"
            yield table
            with Vertical(id="svc-detail"):
                yield Static(id="svc-summary")
                yield Static(id="range-line")
                yield ChartPane("Latency", service_latency=True, id="svc-chart")
                yield StoredSeriesPane(
                    "Scraped metrics", "scrape:", "", id="svc-scraped", classes="series"
                )
                checks: DataTable[Any] = DataTable(id="svc-checks", cursor_type="none")
                bound_table_caches(checks)
                checks.border_title = "Recent checks"
                yield checks

    selected: str | None = None

    def silence_target(self) -> str | None:
        store = self.monitor_app.store
        if store is None or not store.service_names():
            return None
        if self.selected and store.has_service(self.selected):
            return self.selected
        return store.service_names()[0]

    def on_mount(self) -> None:
        checks = self.query_one("#svc-checks", DataTable)
        for col in CHECK_COLUMNS:
            checks.add_column(col, key=col)
        super().on_mount()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        key = event.row_key.value
        if event.data_table.id == "svc-list" and key and not key.startswith(GROUP_PREFIX):
            self.selected = key
            self.refresh_data()

    def show_service(self, name: str) -> None:
        """Point the view at ``name`` with its row selected (another view's enter)."""
        self.selected = name
        table = self.query_one("#svc-list", ServicesTable)
        if name in table.rows:
            table.move_cursor(row=table.get_row_index(name))
        self.refresh_data()

    def on_resize(self) -> None:
        if self.ready:
            self.refresh_data()  # the summary flows to the new width

    def _point_panes_at(self, name: str) -> None:
        """The chart and the scraped metrics show ``name`` over the chosen range."""
        chart = self.query_one("#svc-chart", ChartPane)
        chart.only_service = name
        chart.title = f"{name} latency"
        chart.window = RANGES[self.range_name]
        line = range_line(self.range_name, chart.from_history)
        self.query_one("#range-line", Static).update(line)
        scraped = self.query_one("#svc-scraped", StoredSeriesPane)
        scraped.prefix = f"scrape:{name}:"
        scraped.title = f"{name}: scraped metrics"
        scraped.empty = "none stored (declare metrics: {url, include} on the service to scrape)"
        scraped.window = RANGES[self.range_name]

    def refresh_data(self, topics: set[str] | None = None) -> None:
        store = self.monitor_app.store
        if store is None or not store.service_names():
            super().refresh_data(topics)
            return
        name = (
            self.selected
            if self.selected and store.has_service(self.selected)
            else store.service_names()[0]
        )
        self._point_panes_at(name)
        super().refresh_data(topics)  # the chart and the scraped metrics draw here
        if topics is not None and not any(t.startswith("service:") for t in topics):
            return
        s = store.service(name)
        colors = self.monitor_app.palette
        now = self.monitor_app.clock()
        text = Text()
        text.append(f"{s.name}  ", style="bold")
        text.append(s.status.value.upper(), style=f"bold {colors.get(f'status-{s.status.value}')}")
        if s.stale_at is not None:
            text.append(
                f" (stale: last known, checked {format_age(now - s.stale_at)})", style="dim"
            )
        text.append(f"  {mask_url(s.url)}\n", style="dim")
        text.append(
            f"latency (1 h)  p50 {format_ms(s.latency_p50)}  p95 {format_ms(s.latency_p95)}  "
            f"p99 {format_ms(s.latency_p99)}\n"
        )
        text.append(f"{uptime_line(s)}  errors {format_percent(s.error_rate_1h)}\n")
        if s.slo:
            verdict = {True: "met", False: "MISSED", None: "no data"}[s.slo_compliant]
            budget = (
                "–"
                if s.error_budget_remaining is None
                else f"{s.error_budget_remaining:.1%}{budget_basis(s)}"
            )
            text.append(
                f"SLO {s.slo.uptime:g} % / {s.slo.response_time * 1000:g} ms / "
                f"{s.slo.error_rate:g} % errors: {verdict}  budget left {budget}\n"
            )
        else:
            text.append("no SLO configured\n", style="dim")
        if s.depends_on:
            text.append(f"depends on {', '.join(s.depends_on)}\n")
        if s.cert_days is not None:
            text.append(f"TLS certificate expires in {s.cert_days:.0f} days\n")
        queries = self.monitor_app.queries
        if queries is not None:
            flap = queries.flap_state(s.name)
            if flap.flapping:
                text.append(
                    f"FLAPPING ({flap.change:.0%} state change over its last "
                    f"{flap.results} checks)\n",
                    style=f"bold {colors.get('warning', '')}",
                )
            burns = [
                f"{b.name} {_rate(b.long_rate)}/{_rate(b.short_rate)} (>{b.factor:g}x)"
                + (" BURNING" if b.burning else "")
                for b in queries.burn_rates(s.name)
            ]
            if burns:
                text.append("burn rate long/short: " + "  ".join(burns) + "\n")
        silence = queries.silence_for({"service": s.name}) if queries is not None else None
        if silence is not None:
            text.append(silenced_line(silence) + "\n", style=f"bold {colors.get('warning', '')}")
        else:
            text.append("S silence this service\n", style="dim")
        summary = self.query_one("#svc-summary", Static)
        summary.update(reflow(text, summary.content_size.width))  # figures never split
        checks = self.query_one("#svc-checks", DataTable)
        if name != self._checks_of:  # another service: none of its rows are shown
            checks.clear()
            self._checks.clear()
            self._checks_of = name
        rows: dict[str, tuple[Any, ...]] = {}
        for c in reversed(store.recent_checks(name)[-15:]):
            key = repr(c.ts)
            while key in rows:  # two checks in one clock tick
                key += "'"
            rows[key] = (
                format_age(now - c.ts),
                "ok" if c.ok else "FAIL",
                format_ms(c.latency),
                str(c.status_code or "–"),
                c.error or "",
            )
        sync_rows(checks, CHECK_COLUMNS, rows, self._checks)


async def open_service(app: MonitorApp, name: str) -> None:
    """The `s` view, pointed at ``name`` (a row opened on another view)."""
    await app.switch_mode("services")
    screen = app.screen
    if isinstance(screen, ServicesScreen):
        screen.show_service(name)


def _rate(value: float | None) -> str:
    return "–" if value is None else f"{value:.2g}x"


class NoticeScreen(MonitorScreen):
    """A view whose data source is not part of this build, or has nothing yet."""

    def __init__(self, title: str, reader: str | None, empty: str) -> None:
        super().__init__()
        self.title_text, self.reader, self.empty = title, reader, empty

    def body(self) -> ComposeResult:
        pane: Static
        if self.reader:
            pane = NoticePane(self.reader, self.empty, id="notice")
        else:
            pane = Static(Text(self.empty), id="notice")
        pane.border_title = self.title_text
        yield pane


class IncidentsScreen(FitsColumns, MonitorScreen):
    """Open incidents with their timelines; `a` acknowledges and `r` resolves, through the
    same commands as the API (actor "tui")."""

    KEY_SCOPE = "incidents"
    BINDINGS = bindings("incidents")
    selected: str | None = None

    def __init__(self) -> None:
        super().__init__()
        self._rows: dict[str, tuple[Any, ...]] = {}  # incidents shown, by id
        self._columns = PriorityColumns(INCIDENT_TABLE, ("state", "age"), least=16)

    def body(self) -> ComposeResult:
        with Horizontal(id="inc-split"):
            table: DataTable[Any] = DataTable(id="inc-list", cursor_type="row")
            table.border_title = "Open incidents"
            bound_table_caches(table)
            yield table
            timeline = Static(id="inc-timeline")
            timeline.border_title = "Incident"
            yield timeline

    def on_mount(self) -> None:
        self.fit_columns_now(0)  # every column until laid out
        super().on_mount()

    def column_tables(self) -> dict[str, PriorityColumns]:
        return {"inc-list": self._columns}  # 80 columns: sev, service, title

    def columns_changed(self, table_id: str) -> None:
        self._rows.clear()
        self.refresh_data()

    def silence_target(self) -> str | None:
        store = self.monitor_app.store
        inc = store.incident(self.selected) if store is not None and self.selected else None
        return inc.service if inc is not None else None

    def copy_target(self) -> str | None:
        return self.selected

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "inc-list" and event.row_key.value:
            self.selected = event.row_key.value
            self._draw_timeline()

    def refresh_data(self, topics: set[str] | None = None) -> None:
        super().refresh_data(topics)
        store = self.monitor_app.store
        table = self.query_one("#inc-list", DataTable)
        incidents = store.open_incidents() if store is not None else []
        now = self.monitor_app.clock()
        palette = self.monitor_app.palette
        rows: dict[str, tuple[Any, ...]] = {}
        for inc in incidents:
            sev = Text(
                SEVERITY_WORD[inc.severity.value],
                style=f"bold {palette.get(f'severity-{inc.severity.value}', '')}",
            )
            rows[inc.id] = (
                sev,
                inc.service,
                "ack" if inc.acknowledged_by else "open",
                format_age(now - inc.opened_at).removesuffix(" ago"),
                inc.title,
            )
        rows = {key: self._columns.project(row) for key, row in rows.items()}
        sync_rows(table, self._columns.keys, rows, self._rows)
        ids = [i.id for i in incidents]
        if self.selected in ids:
            table.move_cursor(row=ids.index(self.selected))
        elif ids:
            self.selected = ids[0]
            table.move_cursor(row=0)  # where a rebuilt table would put it
        self._draw_timeline()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """`enter` on an incident: its detail, where `t` travels to its onset."""
        store = self.monitor_app.store
        key = event.row_key.value
        inc = store.incident(key) if store is not None and key else None
        if event.data_table.id == "inc-list" and inc is not None:
            self.app.push_screen(IncidentDetailScreen(inc))

    def _draw_timeline(self) -> None:
        store = self.monitor_app.store
        box = self.query_one("#inc-timeline", Static)
        inc = store.incident(self.selected) if store is not None and self.selected else None
        if inc is None:
            box.update(Text("no incidents", style="dim"))
            return
        text = incident_text(self.monitor_app, inc)
        text.append("\n")
        text.append(write_hint(self.monitor_app, "a acknowledge · r resolve · S silence"))
        text.append("\nenter: detail, where t shows its onset", style="dim")
        box.update(text)

    async def action_acknowledge(self) -> None:
        await self._act("acknowledge")

    def action_resolve(self) -> None:
        """`r` asks first, as the container actions do: a resolve pages "resolved"."""
        if self.monitor_app.refuse_write("resolve"):
            return
        store = self.monitor_app.store
        inc = store.incident(self.selected) if store is not None and self.selected else None
        if inc is None:
            self.notify("no incident selected", timeout=2)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_worker(self._act("resolve"), group="incident", exit_on_error=False)

        question = f"Resolve incident {inc.id} ({inc.service}: {inc.title})?"
        self.app.push_screen(ConfirmScreen(question), answered)

    async def _act(self, verb: str) -> None:
        if self.monitor_app.refuse_write(verb):
            return
        commands = self.monitor_app.commands
        if commands is None or self.selected is None:
            self.notify("no incident selected", timeout=2)
            return
        from devmentor_monitor.incidents.engine import Actor, IncidentError

        step = getattr(commands, verb)
        try:
            await step(self.selected, Actor("tui", "tui"), "from the dashboard")
        except IncidentError as exc:
            self.notify(str(exc), severity="warning", timeout=3)
        except Exception as exc:  # storage trouble: say so, keep running
            self.notify(f"{verb} failed: {exc}", severity="error", timeout=5)
        else:
            self.notify(f"incident {verb}d", timeout=2)
            self.refresh_data()


class IncidentDetailScreen(ModalScreen[None]):
    """One incident in full; `t` (keys.py: incident_onset) shows the overview at its onset."""

    KEY_SCOPE = "incident"
    BINDINGS = bindings("incident")

    def __init__(self, inc: Incident) -> None:
        super().__init__()
        self.incident = inc

    def compose(self) -> ComposeResult:
        app: MonitorApp = self.app  # type: ignore[assignment]
        inc = self.incident
        text = incident_text(app, inc)
        keymap = dict(getattr(app, "_keymap", {}) or {})
        onset = key_display(keymap.get("incident_onset", "t"))
        opened = when(inc.opened_at, app.clock())
        text.append(f"\n{onset} time travel to its onset ({opened})", style="bold")
        text.append(" · esc close", style="dim")
        box = Static(text, id="inc-detail")
        box.border_title = "Incident"
        yield box

    def action_onset(self) -> None:
        app: MonitorApp = self.app  # type: ignore[assignment]
        at = self.incident.opened_at
        self.dismiss(None)
        app.travel_to(at)


def incident_text(app: MonitorApp, inc: Incident) -> Text:
    """An incident's detail: state, silence, why it paged, signals, timeline, causes."""
    store = app.store
    text = Text(f"{inc.title}\n", style="bold")
    text.append(
        f"{inc.id} · {inc.severity.value} · {inc.state.value} · rule {inc.rule}\n", style="dim"
    )
    queries = app.queries
    warning = app.palette.get("warning", "")
    labels = {"service": inc.service, "rule": inc.rule, "severity": inc.severity.value}
    silence = queries.silence_for(labels) if queries is not None else None
    if silence is None and inc.silenced_by and queries is not None:
        silence = queries.silence(inc.silenced_by)
    if silence is not None:
        text.append(silenced_line(silence) + "\n", style=f"bold {warning}")
    elif inc.silenced_by:
        text.append(f"silenced by {inc.silenced_by}\n", style=f"bold {warning}")
    else:
        text.append("not silenced\n", style="dim")
    if queries is not None:
        text.append("why this paged: ", style="bold")
        text.append(queries.why_paged(inc) + "\n")
        flap = queries.flap_state(inc.service)
        if flap.flapping or inc.flapping:
            text.append(
                f"{inc.service} {'is flapping' if flap.flapping else 'paged while flapping'}"
                f" ({flap.change:.0%} state change)\n",
                style=f"bold {warning}",
            )
    if inc.dependents:
        text.append(f"dependents: {', '.join(inc.dependents)} (their signals join this incident)\n")
    if inc.signals:
        text.append("\nSignals\n", style="bold")
        for sig in inc.signals:
            state = "●" if sig.firing else "○"
            line = f"{state} {sig.state:<7} {sig.kind:<9} {sig.rule} on {sig.subject}"
            if sig.service != inc.service and sig.service != sig.subject:
                line += f" ({sig.service})"
            if sig.value is not None:
                line += f"  value {sig.value:.3g}"
                if sig.threshold is not None:
                    line += f" / {sig.threshold:.3g}"
            since = time.strftime("%H:%M:%S", time.localtime(sig.first_at))
            text.append(f"{line}  since {since}\n", style="" if sig.firing else "dim")
    if inc.closing_note:
        text.append(f"{inc.closing_note}\n", style="dim")
    text.append("\nTimeline\n", style="bold")
    for e in inc.timeline:
        at = time.strftime("%H:%M:%S", time.localtime(e.ts))
        text.append(f"{at} {e.kind:<12} {e.actor:<8} {e.text}\n")
    causes = store.root_causes(inc.id) if store is not None else []
    if causes:
        text.append("\nLikely causes (root-cause hints)\n", style="bold")
        for c in causes[:5]:
            text.append(f"{c.score:4.2f} {c.subject} ({', '.join(c.kinds)}): ")
            text.append(f"{c.evidence[0] if c.evidence else ''}\n")
    return text


class HelpScreen(ModalScreen[None]):
    """Every key, from the one declaration in keys.py (remaps included)."""

    BINDINGS = [
        Binding("escape,q,question_mark", "dismiss", "Close", id="help_close"),
        Binding("down,j", "scroll(1)", "Scroll", show=False, id="help_down"),
        Binding("up,k", "scroll(-1)", "Scroll", show=False, id="help_up"),
        # The self panel opens from here too (a modal screen hides the app's keys).
        *(b for b in bindings() if isinstance(b, Binding) and b.id == "self"),
    ]

    def compose(self) -> ComposeResult:
        app = self.app
        keymap = dict(getattr(app, "_keymap", {}) or {})
        text = Text("Keys", style="bold")
        text.append("  ctrl+p command palette (every action) · ctrl+c quit\n", style="dim")
        for keys, title, help_text in help_rows(keymap):
            text.append(f"  {keys:<9} ", style="bold")
            text.append(f"{title:<12} {help_text}\n")
        text.rstrip()
        # A Static alone does not scroll: in a scroll container every line is reachable
        # at 80x24 (↑ ↓).
        with VerticalScroll(id="help") as help_box:
            help_box.border_subtitle = "esc, q or ? close this · ↑ ↓ scroll"
            help_box.can_focus = False  # the screen's keys scroll it
            yield Static(text, id="help-text")

    async def action_show_self(self) -> None:
        await self.app.run_action("show_self")

    def action_scroll(self, lines: int) -> None:
        self.query_one("#help").scroll_relative(y=lines, animate=False)

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss(None)
