"""One screen per view. Screens compose panes and forward the app's refresh tick to them."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Input, Static

from devmentor_monitor.logs import mask_url
from devmentor_monitor.metric_specs import series_spec
from devmentor_monitor.tui.charts import RANGES, line_chart
from devmentor_monitor.tui.keys import KEYS
from devmentor_monitor.tui.silence import silenced_line
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
)
from devmentor_monitor.units import format_age, format_ms, format_percent

if TYPE_CHECKING:
    from devmentor_monitor.store import Store
    from devmentor_monitor.tui.app import MonitorApp

CHECK_COLUMNS = ("when", "result", "latency", "HTTP", "detail")
INCIDENT_COLUMNS = ("sev", "service", "state", "age", "title")


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

    def on_input_changed(self, event: Input.Changed) -> None:
        table = self.filterable()
        if table is not None and event.input.id == "filter":
            table.set_filter(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        table = self.filterable()
        if table is not None:
            table.focus()


class OverviewScreen(MonitorScreen):
    def body(self) -> ComposeResult:
        with Horizontal(id="top"):
            table = ServicesTable(id="services")
            table.border_title = "Services"
            yield table
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

    def on_resize(self) -> None:
        narrow = self.size.width < 120
        self.set_class(narrow, "narrow")
        self.set_class(self.size.height < 30, "short")


class ChartPane(AppWidget, Static):
    """A chart of stored series over the screen's chosen range."""

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

    def refresh_data(self) -> None:
        store = self.store
        if store is None:
            return
        now = self.monitor_app.clock()
        since = now - self.window
        lines = []
        marks: list[tuple[list[float], list[float]]] = []
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
        width, height = self.size.width, self.size.height
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
            )
        )

    def on_resize(self) -> None:
        self.refresh_data()


def _marks(
    store: Store, series: str, since: float, factor: float
) -> tuple[list[float], list[float]]:
    """Flagged points of a series since ``since``, scaled like its line."""
    points = [(t, v * factor) for t, v in store.anomaly_marks(series) if t >= since]
    return [t for t, _ in points], [v for _, v in points]


class MetricsScreen(MonitorScreen):
    BINDINGS = [
        # Shown on the range line above the charts, not in the (narrow) footer.
        Binding("1", "range('5m')", "5 m", id="range_5m", show=False),
        Binding("2", "range('1h')", "1 h", id="range_1h", show=False),
        Binding("3", "range('24h')", "24 h", id="range_24h", show=False),
        Binding("r", "next_range", "Range", id="range_next", show=False),
    ]

    def body(self) -> ComposeResult:
        yield Static(id="range-line")
        with VerticalScroll(id="charts"):
            yield ChartPane("CPU", ["cpu"], classes="chart")
            yield ChartPane("Memory", ["memory", "swap"], classes="chart")
            yield ChartPane("Disk", [], classes="chart", id="disk-chart")
            yield ChartPane("Network", ["net_rx", "net_tx"], classes="chart")
            yield ChartPane("Service latency", service_latency=True, classes="chart")

    range_name = "5m"

    def refresh_data(self, topics: set[str] | None = None) -> None:
        store = self.monitor_app.store
        if store is not None:
            disks = [k for k in store.series_names() if k.startswith("disk:")]
            self.query_one("#disk-chart", ChartPane).keys = disks or ["disk_read"]
        for chart in self.query(ChartPane):
            chart.window = RANGES[self.range_name]
        line = Text("range: ")
        for name in RANGES:
            line.append(f" {name} ", style="reverse bold" if name == self.range_name else "")
        line.append("   keys 1 / 2 / 3 or r to change", style="dim")
        self.query_one("#range-line", Static).update(line)
        super().refresh_data(topics)

    def action_range(self, name: str) -> None:
        self.range_name = name
        self.refresh_data()

    def action_next_range(self) -> None:
        names = list(RANGES)
        self.action_range(names[(names.index(self.range_name) + 1) % len(names)])


class ServicesScreen(MonitorScreen):
    """Pick a service on the left; its latency, SLO and recent checks on the right."""

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
                yield ChartPane("Latency", service_latency=True, id="svc-chart")
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
        self.query_one("#svc-chart", ChartPane).window = RANGES["1h"]
        super().on_mount()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "svc-list" and event.row_key.value:
            self.selected = event.row_key.value
            self.refresh_data()

    def refresh_data(self, topics: set[str] | None = None) -> None:
        super().refresh_data(topics)
        store = self.monitor_app.store
        if store is None or not store.service_names():
            return
        if topics is not None and not any(t.startswith("service:") for t in topics):
            return
        name = (
            self.selected
            if self.selected and store.has_service(self.selected)
            else store.service_names()[0]
        )
        s = store.service(name)
        colors = self.monitor_app.palette
        now = self.monitor_app.clock()
        text = Text()
        text.append(f"{s.name}  ", style="bold")
        text.append(s.status.value.upper(), style=f"bold {colors.get(f'status-{s.status.value}')}")
        text.append(f"  {mask_url(s.url)}\n", style="dim")
        text.append(
            f"latency p50 {format_ms(s.latency_p50)}  p95 {format_ms(s.latency_p95)}  "
            f"p99 {format_ms(s.latency_p99)}  (1 h)\n"
        )
        text.append(
            f"uptime 1h {format_percent(s.uptime_1h)}  24h {format_percent(s.uptime_24h)}  "
            f"7d {format_percent(s.uptime_7d)}  errors {format_percent(s.error_rate_1h)}\n"
        )
        if s.slo:
            verdict = {True: "met", False: "MISSED", None: "no data"}[s.slo_compliant]
            budget = "–" if s.error_budget_remaining is None else f"{s.error_budget_remaining:.1%}"
            text.append(
                f"SLO {s.slo.uptime:g} % / {s.slo.response_time * 1000:g} ms / "
                f"{s.slo.error_rate:g} % errors: {verdict}; budget left {budget}\n"
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
        self.query_one("#svc-summary", Static).update(text)
        chart = self.query_one("#svc-chart", ChartPane)
        chart.only_service = name
        chart.title = f"{name} latency"
        chart.refresh_data()
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


class IncidentsScreen(MonitorScreen):
    """Open incidents with their timelines; `a` acknowledges and `r` resolves, through the
    same commands as the API (actor "tui")."""

    BINDINGS = [
        Binding("a", "acknowledge", "Ack", id="incident_ack"),
        Binding("r", "resolve", "Resolve", id="incident_resolve"),
    ]
    selected: str | None = None

    def __init__(self) -> None:
        super().__init__()
        self._rows: dict[str, tuple[Any, ...]] = {}  # incidents shown, by id

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
        table = self.query_one("#inc-list", DataTable)
        for key, label, width in (
            ("sev", "sev", 5),
            ("service", "service", 12),
            ("state", "state", 6),
            ("age", "age", 6),
            ("title", "title", None),
        ):
            table.add_column(label, key=key, width=width)
        super().on_mount()

    def silence_target(self) -> str | None:
        store = self.monitor_app.store
        inc = store.incident(self.selected) if store is not None and self.selected else None
        return inc.service if inc is not None else None

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
        sync_rows(table, INCIDENT_COLUMNS, rows, self._rows)
        ids = [i.id for i in incidents]
        if self.selected in ids:
            table.move_cursor(row=ids.index(self.selected))
        elif ids:
            self.selected = ids[0]
            table.move_cursor(row=0)  # where a rebuilt table would put it
        self._draw_timeline()

    def _draw_timeline(self) -> None:
        store = self.monitor_app.store
        box = self.query_one("#inc-timeline", Static)
        inc = store.incident(self.selected) if store is not None and self.selected else None
        if inc is None:
            box.update(Text("no incidents", style="dim"))
            return
        text = Text(f"{inc.title}\n", style="bold")
        text.append(
            f"{inc.id} · {inc.severity.value} · {inc.state.value} · rule {inc.rule}\n", style="dim"
        )
        queries = self.monitor_app.queries
        warning = self.monitor_app.palette.get("warning", "")
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
            text.append(
                f"dependents: {', '.join(inc.dependents)} (their signals join this incident)\n"
            )
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
            when = time.strftime("%H:%M:%S", time.localtime(e.ts))
            text.append(f"{when} {e.kind:<12} {e.actor:<8} {e.text}\n")
        causes = store.root_causes(inc.id) if store is not None else []
        if causes:
            text.append("\nLikely causes (root-cause hints)\n", style="bold")
            for c in causes[:5]:
                text.append(f"{c.score:4.2f} {c.subject} ({', '.join(c.kinds)}): ")
                text.append(f"{c.evidence[0] if c.evidence else ''}\n")
        text.append("\na acknowledge · r resolve · S silence", style="dim")
        box.update(text)

    async def action_acknowledge(self) -> None:
        await self._act("acknowledge")

    async def action_resolve(self) -> None:
        await self._act("resolve")

    async def _act(self, verb: str) -> None:
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


class HelpScreen(ModalScreen[None]):
    """Every key, from the one declaration in keys.py (remaps included)."""

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close", id="help_close")]

    def compose(self) -> ComposeResult:
        app = self.app
        keymap = dict(getattr(app, "_keymap", {}) or {})
        text = Text("Keys\n", style="bold")
        for k in KEYS:
            key = keymap.get(k.id, k.key).replace("question_mark", "?").replace("slash", "/")
            text.append(f"  {key:<10}", style="bold")
            text.append(f"{k.title:<13}{k.help}\n")
        text.append("  ctrl+c    Quit       ctrl+p  command palette (every action)\n")
        text.append("  metrics: 1 / 2 / 3 or r pick 5 m / 1 h / 24 h.  ")
        text.append("esc, q or ? close this", style="dim")
        yield Static(text, id="help")

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss(None)
