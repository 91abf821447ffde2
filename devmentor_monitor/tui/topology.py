"""The topology view (`g`): the `depends_on` graph as boxes and arrows, live.

Each box holds a service's status word (so it reads in monochrome), its latency or why
its check failed, and its open incident. During a cascade the root (the dependency whose
open incident inhibits its dependents, as incidents/inhibit.py decides for paging) is
drawn with a double border and "ROOT, n inhibited", the arrows into it in its status colour, and
its dependents dimmed and marked "inhibited by <root>". Arrow keys or hjkl move the
selection between boxes; enter opens the service's detail (the `s` view).

The layout is computed once per set of services (tui/topology_layout.py); a redraw only
fills the boxes, and only the rows on screen are turned into strips (a ScrollView), so a
big fleet scrolls in both directions at 80x24.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.geometry import Region, Size
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Static

from devmentor_monitor.incidents.inhibit import Inhibitor
from devmentor_monitor.model import Health
from devmentor_monitor.tui.keys import bindings
from devmentor_monitor.tui.render import ellipsize, short_reason, status_text
from devmentor_monitor.tui.screens import MonitorScreen, ServicesScreen
from devmentor_monitor.tui.topology_layout import BOX_WIDTH, Box, Layout, layout
from devmentor_monitor.tui.widgets import AppWidget
from devmentor_monitor.units import format_ms

if TYPE_CHECKING:
    from devmentor_monitor.incidents.model import Incident
    from devmentor_monitor.store import Store

INNER = BOX_WIDTH - 2
INLINE_LAYOUT = 100  # services laid out on the loop; more go to a thread (~1 ms each)
LIGHT = "┌┐└┘─│├"
DOUBLE = "╔╗╚╝═║╟"  # the root of a cascade: readable without colour


@dataclass(frozen=True, slots=True)
class Cascade:
    """Who is the root of a cascade and who it inhibits, as the incident engine sees it."""

    roots: dict[str, Incident]  # root service -> its open incident
    inhibited: dict[str, str]  # dependent -> the root service inhibiting it


def cascade_of(store: Store) -> Cascade:
    """Inhibitor.root_for per service: the same answer that decides who pages."""
    inhibitor = Inhibitor(store)
    roots: dict[str, Incident] = {}
    inhibited: dict[str, str] = {}
    if not store.open_incidents():
        return Cascade(roots, inhibited)
    for name in store.service_names():
        inc = inhibitor.root_for(name)
        if inc is not None:
            inhibited[name] = inc.service
            roots[inc.service] = inc
    return Cascade(roots, inhibited)


class TopologyCanvas(AppWidget, ScrollView):
    """The diagram; scrolls both ways. Not focusable: the screen's keys move the selection."""

    can_focus = False
    TOPICS = ("service:", "incidents")

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.graph: Layout | None = None
        self._deps: dict[str, tuple[str, ...]] = {}
        self._pending: dict[str, tuple[str, ...]] | None = None  # being laid out in a thread
        self._edge_rows: list[str] = []
        self._row_boxes: dict[int, list[Box]] = {}
        self._text: dict[str, list[Text]] = {}  # box rows as drawn, per service
        self._hot: set[tuple[int, int]] = set()  # cells of arrows into a cascade's root
        self._hot_style = Style()
        self._edge_style = Style()
        self._strips: dict[int, Strip] = {}
        self.selected: str | None = None
        self.chosen = False  # the user picked the selection: a cascade no longer moves it
        self.cascade = Cascade({}, {})

    # ------------------------------------------------------------------ data
    def _relayout(self, store: Store) -> bool:
        """Lay the graph out again if the services changed; False while that runs.

        A big fleet is laid out in a thread (1,000 services take about a second), so the
        loop never stalls; the old drawing, or "laying out", stays up meanwhile."""
        deps = {n: store.service_config(n).depends_on for n in store.service_names()}
        if deps == self._deps and self.graph is not None:
            return True
        if len(deps) <= INLINE_LAYOUT:
            self._use(deps, layout(deps))
            return True
        if self._pending != deps:
            self._pending = deps
            self.run_worker(  # a partial: a layout cancelled by a newer one leaves no warning
                partial(self._layout_in_thread, deps),  # type: ignore[arg-type]
                group="topology-layout",
                exclusive=True,
                exit_on_error=False,
            )
        return self.graph is not None

    async def _layout_in_thread(self, deps: dict[str, tuple[str, ...]]) -> None:
        graph = await asyncio.to_thread(layout, deps)
        if self._pending == deps:
            self._pending = None
            self._use(deps, graph)
            self.refresh_data()

    def _use(self, deps: dict[str, tuple[str, ...]], graph: Layout) -> None:
        self._deps = deps
        self.graph = graph
        self._edge_rows = graph.rows()
        self._row_boxes = {}
        for box in sorted(graph.boxes.values(), key=lambda b: b.x):
            for y in range(box.y, box.y + box.height):
                self._row_boxes.setdefault(y, []).append(box)
        self.virtual_size = Size(graph.width, graph.height)
        if self.selected not in graph.boxes:
            self.selected = next((ln[0] for ln in graph.layers if ln), None)

    def refresh_data(self) -> None:
        store = self.store
        if store is None:
            return
        ready = self._relayout(store)
        graph = self.graph
        if not ready or graph is None:
            summary = self.screen.query("#topo-summary")
            if summary:
                summary.first(Static).update(
                    Text(f"laying out {len(store.service_names())} services…", style="dim")
                )
            return
        self.cascade = cascade = cascade_of(store)
        root = next((r for r in cascade.roots if r in graph.boxes), None)
        if root is not None and not self.chosen and self.selected != root:
            self.selected = root  # during an outage, g then enter opens its root
            self.call_after_refresh(self._show, root)
        colors = self.monitor_app.palette
        down = colors.get("status-down", "")
        self._edge_style = Style.parse(colors.get("muted", "") or "none")
        self._hot_style = Style.parse(f"bold {down}".strip())
        self._hot = {  # the arrows the cascade runs along: into the root from its dependents
            c for (a, b), path in graph.paths.items() if cascade.inhibited.get(a) == b for c in path
        }
        open_by: dict[str, list[Incident]] = {}
        for inc in store.open_incidents():
            open_by.setdefault(inc.service, []).append(inc)
        leaving = {a for a, _ in graph.edges}
        self._text = {
            name: self._box_text(store, name, open_by.get(name, []), name in leaving)
            for name in graph.boxes
        }
        self._strips.clear()
        self.refresh()
        screen = self.screen
        if isinstance(screen, TopologyScreen):
            screen.draw_summary()

    def _box_text(self, store: Store, name: str, incs: list[Incident], leaves: bool) -> list[Text]:
        colors = self.monitor_app.palette
        s = store.service(name)
        root = self.cascade.roots.get(name)
        by = self.cascade.inhibited.get(name)
        tl, tr, bl, br, h, v, exit_ch = tuple(DOUBLE if root is not None else LIGHT)
        if root is not None:
            border = f"bold {colors.get('status-down', '')}".strip()
        elif by is not None:
            border = "dim"
        else:
            border = colors.get("muted", "") if s.status is Health.UP else ""
        if name == self.selected:
            border = f"{border} reverse".strip()
        dim = "dim" if by is not None else ""
        label = f" {ellipsize(name, INNER - 2)} "
        top = Text(tl + h + label + h * (INNER - 1 - len(label)) + tr, style=border)
        top.stylize("bold", 2, 2 + len(label))
        # The status line: the word, then latency or why the last check failed.
        line1 = Text(v, style=border)
        body = Text(" ")
        body.append_text(status_text(s.status, colors, stale=s.stale_at is not None))
        if s.last is not None and s.last.ok:
            body.append(f" {format_ms(s.latency)}")
        elif s.last is not None:
            body.append(f" {short_reason(s.last.error, INNER - 7)}")
        body.truncate(INNER, pad=True)
        body.stylize(dim)
        line1.append_text(body)
        line1.append(exit_ch if leaves else v, style=border)
        # The incident line: its own incident, or who inhibits it.
        line2 = Text(v, style=border)
        if by is not None:
            what = Text(f" inhibited by {ellipsize(by, INNER - 14)}", style="dim italic")
        elif incs:
            more = f" +{len(incs) - 1}" if len(incs) > 1 else ""
            inc_style = f"bold {colors.get('severity-high', '')}".strip()
            what = Text(f" {incs[0].id}{more}", style=inc_style)
        else:
            what = Text("")
        what.truncate(INNER, overflow="ellipsis", pad=True)
        line2.append_text(what)
        line2.append(v, style=border)
        if root is not None:
            n = sum(1 for r in self.cascade.inhibited.values() if r == name)
            tag = f" ROOT, {n} inhibited "[: INNER - 1]
            bottom = Text(bl + h + tag + h * (INNER - 1 - len(tag)) + br, style=border)
        else:
            bottom = Text(bl + h * INNER + br, style=border)
        if name == self.selected:
            for line in (line1, line2):
                line.stylize("reverse")
        return [top, line1, line2, bottom]

    # ------------------------------------------------------------------ drawing
    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        row = scroll_y + y
        width = self.size.width
        strip = self._strips.get(row)
        if strip is None:
            strip = self._strips[row] = self._row_strip(row)
        return strip.crop_extend(scroll_x, scroll_x + width, self.rich_style)

    def _row_strip(self, row: int) -> Strip:
        if self.graph is None or row >= len(self._edge_rows):
            return Strip([])
        edges = self._edge_rows[row]
        console = self.app.console
        segments: list[Segment] = []
        x = 0
        for box in self._row_boxes.get(row, []):
            segments.extend(self._edge_segments(edges, row, x, box.x))
            text = self._text.get(box.name)
            if text is not None:
                line = text[row - box.y]
                # Text.render leaves the base style out where a line has no spans.
                base = line.style if isinstance(line.style, Style) else Style.parse(line.style)
                segments.extend(Segment.apply_style(line.render(console), base))
            x = box.x + box.width
        segments.extend(self._edge_segments(edges, row, x, len(edges)))
        return Strip(Segment.apply_style(segments, self.rich_style))  # the pane's background

    def _edge_segments(self, edges: str, row: int, start: int, end: int) -> list[Segment]:
        out: list[Segment] = []
        run_start, hot = start, None
        for x in range(start, end + 1):
            now = (x, row) in self._hot if x < end else None
            if x == end or now != hot:
                if x > run_start and hot is not None:
                    style = self._hot_style if hot else self._edge_style
                    out.append(Segment(edges[run_start:x], style))
                run_start, hot = x, now
        return out

    def box_region(self, name: str) -> Region | None:
        box = self.graph.boxes.get(name) if self.graph is not None else None
        if box is None:
            return None
        return Region(box.x, box.y, box.width, box.height)

    def select(self, name: str) -> None:
        self.selected = name
        self.chosen = True
        self.refresh_data()
        self._show(name)

    def _show(self, name: str) -> None:
        region = self.box_region(name)
        if region is not None:
            self.scroll_to_region(region.grow((1, 2, 1, 2)), animate=False, force=True)

    def on_resize(self) -> None:
        self._strips.clear()

    async def on_click(self, event: events.Click) -> None:
        """A click selects a box; a click on the selected box (or a double click) opens it."""
        at = event.get_content_offset(self)
        if at is None or self.graph is None:
            return
        x, y = at.x + self.scroll_offset.x, at.y + self.scroll_offset.y
        hit = next((b.name for b in self._row_boxes.get(y, []) if b.contains(x, y)), None)
        if hit is None:
            return
        if hit == self.selected or event.chain > 1:
            screen = self.screen
            if isinstance(screen, TopologyScreen):
                await screen.action_open()
            return
        self.select(hit)


class TopologyScreen(MonitorScreen):
    """`g`: the dependency graph; arrows or hjkl select a box, enter opens the service."""

    KEY_SCOPE = "topology"
    BINDINGS = bindings("topology")

    def body(self) -> ComposeResult:
        yield Static(id="topo-summary")
        canvas = TopologyCanvas(id="topology")
        canvas.border_title = "Topology (depends_on)"
        yield canvas

    @property
    def canvas(self) -> TopologyCanvas:
        return self.query_one(TopologyCanvas)

    def draw_summary(self) -> None:
        """Counts and cascades on the first line; the selected service on the second."""
        canvas = self.canvas
        graph = canvas.graph
        store = self.monitor_app.store
        if graph is None or store is None:
            return
        colors = self.monitor_app.palette
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f"{len(graph.boxes)} services, {len(graph.edges)} dependencies")
        for root, inc in canvas.cascade.roots.items():
            n = sum(1 for r in canvas.cascade.inhibited.values() if r == root)
            text.append("  cascade: ", style="bold")
            text.append(f"{root} ({inc.id}) inhibits {n}", style=colors.get("status-down", ""))
        for a, b in graph.dropped:
            text.append(f"  cycle: {a} → {b} not drawn", style="bold")
        text.append("  ←↓↑→/hjkl select · enter open", style="dim")
        name = canvas.selected
        if name is not None and store.has_service(name):
            s = store.service(name)
            line = Text("\n▸ ", no_wrap=True, overflow="ellipsis")
            line.append(name, style="bold")
            line.append(" ")
            line.append_text(status_text(s.status, colors, stale=s.stale_at is not None))
            needs = ", ".join(s.depends_on) or "nothing"
            needed = ", ".join(store.dependents(name)) or "nothing"
            line.append(f"  depends on {needs} · needed by {needed}")
            text.append_text(line)
        self.query_one("#topo-summary", Static).update(text)

    def action_move(self, direction: str) -> None:
        """Select the box above or below in the layer, or the nearest in the next layer."""
        canvas = self.canvas
        graph = canvas.graph
        if graph is None or canvas.selected is None:
            return
        box = graph.boxes[canvas.selected]
        layer = graph.layers[box.layer]
        index = layer.index(box.name)
        target: str | None = None
        if direction in ("up", "down"):
            i = index + (1 if direction == "down" else -1)
            target = layer[i] if 0 <= i < len(layer) else None
        else:
            step = 1 if direction == "right" else -1
            c = box.layer + step
            while 0 <= c < len(graph.layers) and not graph.layers[c]:
                c += step
            if 0 <= c < len(graph.layers):
                target = min(graph.layers[c], key=lambda n: abs(graph.boxes[n].y - box.y))
        if target is not None:
            canvas.select(target)

    async def action_open(self) -> None:
        """The selected service's detail: the `s` view, pointed at it."""
        name = self.canvas.selected
        if name is None:
            return
        app = self.monitor_app
        await app.switch_mode("services")
        screen = app.screen
        if isinstance(screen, ServicesScreen):
            screen.show_service(name)
