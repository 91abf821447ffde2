"""The `d` (Docker) and `k` (Kubernetes) views: tables updated by row key, a detail pane
with the log tail, and actions behind a confirmation. They read the store; the log tail
and the actions go through the commands (WorkloadActions: threads, timeouts, audit)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Static

from devmentor_monitor.model import SourceState
from devmentor_monitor.tui.columns import FitsColumns, PriorityColumns
from devmentor_monitor.tui.confirm import ConfirmScreen
from devmentor_monitor.tui.keys import bindings
from devmentor_monitor.tui.render import clamp, ellipsize
from devmentor_monitor.tui.screens import MonitorScreen
from devmentor_monitor.tui.widgets import bound_table_caches, sync_rows, write_hint
from devmentor_monitor.units import format_bytes, format_duration

if TYPE_CHECKING:
    from devmentor_monitor.commands import Commands
    from devmentor_monitor.config.schema import Config
    from devmentor_monitor.store import Store

NOT_CONFIGURED = {
    "docker": "not configured (add a docker: section to services.yaml or set DOCKER_HOST)",
    "kubernetes": "not configured (add a kubernetes: section to services.yaml)",
}


def source_line(
    name: str, config: Config, store: Store | None, now: float, palette: dict[str, str]
) -> Text:
    """`docker: not available: why` when off or failing; the engine's name when working."""
    enabled = config.docker.enabled if name == "docker" else config.kubernetes.enabled
    status = store.source(name) if store is not None else None
    if not enabled:
        return Text(
            f"{name}: not available: {NOT_CONFIGURED[name]}", style=palette.get("muted", "")
        )
    if status is None:
        return Text(f"{name}: connecting…", style=palette.get("muted", ""))
    if status.state is not SourceState.OK:
        text = f"{name}: not available: {status.reason}"
        if status.retry_at is not None and status.retry_at > now:
            text += f", retry in {status.retry_at - now:.0f} s"
        return Text(text, style=f"bold {palette.get('status-down', '')}")
    return Text(f"{name}: {status.reason}", style=palette.get("status-up", ""))


class WorkloadScreen(FitsColumns, MonitorScreen):
    """Common parts: the source line, the confirmation, running an action off the UI."""

    SOURCE = ""
    TOPIC = ""
    DEFAULT_CSS = """
    .wl-source { height: auto; max-height: 2; padding: 0 1; }
    .wl-split { height: 1fr; }
    .wl-table { width: 3fr; height: 1fr; border: round $primary;
                border-title-color: $primary; }
    .wl-detail { width: 2fr; height: 100%; border: round $secondary;
                 border-title-color: $secondary; padding: 0 1; }
    """

    def on_mount(self) -> None:
        self.fit_columns_now(0)  # every column until laid out
        super().on_mount()

    def columns_changed(self, table_id: str) -> None:
        self.cells(table_id).clear()
        self.draw()

    def cells(self, table_id: str) -> dict[str, tuple[Any, ...]]:
        """The cells a table shows, by row key (sync_rows' cache)."""
        raise NotImplementedError

    def refresh_data(self, topics: set[str] | None = None) -> None:
        super().refresh_data(topics)
        app = self.monitor_app
        source = self.query_one(".wl-source", Static)
        line = source_line(self.SOURCE, app.config, app.store, app.clock(), app.palette)
        # Two lines at most (80 columns: the whole "not configured" hint), then "…".
        source.update(clamp(line, source.content_size.width or self.size.width - 2, 2))
        if topics is None or self.TOPIC in topics:
            self.draw()

    def draw(self) -> None:
        raise NotImplementedError

    def confirm(
        self, question: str, action: Callable[[Commands], Awaitable[object]], done: str
    ) -> None:
        """Ask; on yes run ``action(commands)`` in a worker and say how it ended."""
        asked = question.split("?")[0]  # "Restart container api" → restart container api
        if self.monitor_app.refuse_write(asked[:1].lower() + asked[1:]):
            return
        commands = self.monitor_app.commands
        if commands is None:
            self.notify("the monitor is still starting", timeout=2)
            return

        async def run() -> None:
            from devmentor_monitor.workloads.actions import ActionError

            try:
                await action(commands)
            except ActionError as exc:
                self.notify(str(exc), severity="error", timeout=6)
            except Exception as exc:  # the view stays up whatever the engine says
                self.notify(f"failed: {exc}", severity="error", timeout=6)
            else:
                self.notify(done, timeout=3)

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_worker(run(), group="workload-action", exit_on_error=False)

        self.app.push_screen(ConfirmScreen(question), answered)

    @staticmethod
    def actor() -> Any:
        from devmentor_monitor.incidents.engine import Actor

        return Actor("tui", "tui")


# ----------------------------------------------------------------------------- docker
DOCKER_COLUMNS = (
    ("name", "container", 20),
    ("service", "service", 10),
    ("state", "state", 9),
    ("health", "health", 9),
    ("restarts", "rst", 4),
    ("cpu", "CPU", 6),
    ("mem", "memory", 19),
    ("uptime", "up", 7),
    ("image", "image", None),
)
# Dropped in this order when the pane is narrow (80 columns: container, state, health).
DOCKER_DROP = ("image", "uptime", "restarts", "mem", "cpu", "service")


class DockerScreen(WorkloadScreen):
    SOURCE, TOPIC = "docker", "containers"
    KEY_SCOPE = "docker"
    BINDINGS = bindings("docker")
    selected: str | None = None

    def body(self) -> ComposeResult:
        yield Static(classes="wl-source")
        with Horizontal(classes="wl-split"):
            table: DataTable[Any] = DataTable(
                id="containers", cursor_type="row", classes="wl-table"
            )
            table.border_title = "Containers"
            bound_table_caches(table)
            yield table
            detail = Static(id="container-detail", classes="wl-detail")
            detail.border_title = "Detail · log tail"
            yield detail

    def __init__(self) -> None:
        super().__init__()
        self._cells: dict[str, tuple[Any, ...]] = {}
        self._logs: dict[str, list[str] | str] = {}
        self._columns = PriorityColumns(DOCKER_COLUMNS, DOCKER_DROP)

    def column_tables(self) -> dict[str, PriorityColumns]:
        return {"containers": self._columns}

    def cells(self, table_id: str) -> dict[str, tuple[Any, ...]]:
        return self._cells

    def _row(self, c: Any, now: float) -> tuple[Any, ...]:
        colors = self.monitor_app.palette
        style = (
            colors.get("status-up", "") if c.running else f"bold {colors.get('status-down', '')}"
        )
        mem = (
            "–"
            if c.memory_bytes is None
            else format_bytes(c.memory_bytes)
            + (f"/{format_bytes(c.memory_limit)}" if c.memory_limit else "")
        )
        uptime = c.uptime(now)
        return (
            ellipsize(c.name, 20),
            c.service or "–",
            Text(c.state, style=style),
            c.health or "–",
            str(c.restart_count),
            "–" if c.cpu_ratio is None else f"{c.cpu_ratio * 100:.0f}%",
            mem,
            "–" if uptime is None else format_duration(int(uptime)),
            c.image,
        )

    def draw(self) -> None:
        store = self.monitor_app.store
        now = self.monitor_app.clock()
        items = (
            sorted(store.docker.items("containers"), key=lambda c: c.name)
            if store is not None
            else []
        )
        table = self.query_one("#containers", DataTable)
        sync_rows(
            table,
            self._columns.keys,
            {c.id: self._columns.project(self._row(c, now)) for c in items},
            self._cells,
            reorder=False,  # as before: new containers, pods and deployments go to the end
        )
        if self.selected not in self._cells:
            self.selected = items[0].id if items else None
        self._draw_detail()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "containers" and event.row_key.value:
            self.selected = event.row_key.value
            self._draw_detail()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """enter, or a click on the selected container: its log tail (as `l`)."""
        if event.data_table.id == "containers":
            self.action_logs()

    def _container(self) -> Any:
        store = self.monitor_app.store
        return (
            store.docker.get("containers", self.selected)
            if store is not None and self.selected
            else None
        )

    def _draw_detail(self) -> None:
        box = self.query_one("#container-detail", Static)
        c = self._container()
        if c is None:
            box.update(Text("no containers", style="dim"))
            return
        now = self.monitor_app.clock()
        text = Text(f"{c.name}\n", style="bold")
        text.append(f"{c.id[:12]} · {c.image}\n", style="dim")
        text.append(f"state {c.state} ({c.status})")
        if c.exit_code is not None:
            text.append(f" · exit {c.exit_code}")
        if c.oom_killed:
            text.append(" · OOM killed", style="bold")
        text.append(f"\nhealth {c.health or '–'} · restarts {c.restart_count}")
        if (uptime := c.uptime(now)) is not None:
            text.append(f" · up {format_duration(int(uptime))}")
        text.append(f"\nservice {c.service or '– (not bound)'}")
        if c.ports:
            text.append(f"\nports {', '.join(c.ports)}")
        if c.net_rx_bytes is not None:
            text.append(
                f"\nnet rx {format_bytes(c.net_rx_bytes)} tx {format_bytes(c.net_tx_bytes or 0)}"
            )
        if c.block_read_bytes is not None:
            text.append(
                f"\nblock read {format_bytes(c.block_read_bytes)} write "
                f"{format_bytes(c.block_write_bytes or 0)}"
            )
        logs = self._logs.get(c.id)
        text.append("\n\nlog tail", style="bold")
        if logs is None:
            text.append("  (l to fetch)", style="dim")
        elif isinstance(logs, str):
            text.append(f"\n{logs}", style="dim")
        else:
            text.append("\n" + ("\n".join(logs[-15:]) if logs else "(no output)"))
        text.append("\n\n")
        text.append(write_hint(self.monitor_app, "r restart · x stop · u start"))
        text.append(" · l logs", style="dim")
        box.update(text)

    def action_logs(self) -> None:
        c, commands = self._container(), self.monitor_app.commands
        if c is None or commands is None:
            return

        async def fetch() -> None:
            from devmentor_monitor.workloads.actions import ActionError

            try:
                self._logs[c.id] = await commands.container_logs(c.id)
            except ActionError as exc:
                self._logs[c.id] = str(exc)
            self._draw_detail()

        self.run_worker(fetch(), group="container-logs", exclusive=True, exit_on_error=False)

    def action_act(self, verb: str) -> None:
        c = self._container()
        if c is None:
            self.notify("no container selected", timeout=2)
            return
        actor = self.actor()
        self.confirm(
            f"{verb.capitalize()} container {c.name}?",
            lambda cmd: cmd.container(c.id, verb, actor),
            f"container {c.name}: {verb} done",
        )


# ----------------------------------------------------------------------------- kubernetes
POD_COLUMNS = (
    ("name", "pod", 24),
    ("service", "service", 10),
    ("phase", "status", 16),
    ("ready", "ready", 5),
    ("restarts", "rst", 4),
    ("last", "last exit", 20),
    ("node", "node", 8),
    ("age", "age", None),
)
DEPLOY_COLUMNS = (
    ("name", "deployment", 20),
    ("ready", "ready", 6),
    ("updated", "updated", 7),
    ("desired", "desired", 7),
    ("service", "service", None),
)
# Dropped in this order when the pane is narrow (80 columns: pod and status; deployment,
# ready and updated: ready's "2/3" already says how many are desired).
POD_DROP = ("age", "node", "last", "service", "restarts", "ready")
DEPLOY_DROP = ("desired", "service", "updated")


class KubernetesScreen(WorkloadScreen):
    SOURCE, TOPIC = "kubernetes", "kubernetes"
    KEY_SCOPE = "kubernetes"
    BINDINGS = bindings("kubernetes")
    DEFAULT_CSS = (
        WorkloadScreen.DEFAULT_CSS
        + """
    #kube-tables { border: none; }
    #pods, #deployments { border: round $primary; border-title-color: $primary; }
    #pods { height: 3fr; }
    #deployments { height: 2fr; }
    """
    )
    pod: str | None = None
    deployment: str | None = None

    def body(self) -> ComposeResult:
        yield Static(classes="wl-source")
        with Horizontal(classes="wl-split"):
            with Vertical(classes="wl-table", id="kube-tables"):
                pods: DataTable[Any] = DataTable(id="pods", cursor_type="row")
                pods.border_title = "Pods"
                bound_table_caches(pods)
                yield pods
                deps: DataTable[Any] = DataTable(id="deployments", cursor_type="row")
                deps.border_title = "Deployments"
                bound_table_caches(deps)
                yield deps
            detail = Static(id="kube-detail", classes="wl-detail")
            detail.border_title = "Detail · nodes · warnings"
            yield detail

    def __init__(self) -> None:
        super().__init__()
        self._pods: dict[str, tuple[Any, ...]] = {}
        self._deps: dict[str, tuple[Any, ...]] = {}
        self._columns = {
            "pods": PriorityColumns(POD_COLUMNS, POD_DROP),
            "deployments": PriorityColumns(DEPLOY_COLUMNS, DEPLOY_DROP),
        }

    def column_tables(self) -> dict[str, PriorityColumns]:
        return self._columns

    def cells(self, table_id: str) -> dict[str, tuple[Any, ...]]:
        return self._pods if table_id == "pods" else self._deps

    def draw(self) -> None:
        store = self.monitor_app.store
        if store is None:
            return
        now = self.monitor_app.clock()
        colors = self.monitor_app.palette
        pods = sorted(store.kube.items("pods"), key=lambda p: p.name)
        rows = {}
        for p in pods:
            style = (
                colors.get("status-up", "") if p.ready else f"bold {colors.get('status-down', '')}"
            )
            age = "–" if p.created is None else format_duration(int(max(0, now - p.created)))
            rows[p.name] = (
                ellipsize(p.name, 24),
                p.service or "–",
                Text(p.waiting or p.phase, style=style),
                f"{p.ready_containers}/{p.containers}",
                str(p.restarts),
                ellipsize(p.last_termination or "", 20),
                p.node or "–",
                age,
            )
        pod_columns = self._columns["pods"]
        sync_rows(
            self.query_one("#pods", DataTable),
            pod_columns.keys,
            {name: pod_columns.project(row) for name, row in rows.items()},
            self._pods,
            reorder=False,
        )
        deps = sorted(store.kube.items("deployments"), key=lambda d: d.name)
        dep_columns = self._columns["deployments"]
        sync_rows(
            self.query_one("#deployments", DataTable),
            dep_columns.keys,
            {
                d.name: dep_columns.project(
                    (
                        d.name,
                        f"{d.ready}/{d.desired}",
                        str(d.updated),
                        str(d.desired),
                        d.service or "–",
                    )
                )
                for d in deps
            },
            self._deps,
            reorder=False,
        )
        if self.pod not in self._pods:
            self.pod = pods[0].name if pods else None
        if self.deployment not in self._deps:
            self.deployment = deps[0].name if deps else None
        self._draw_detail()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        key = event.row_key.value
        if not key:
            return
        if event.data_table.id == "pods":
            self.pod = key
            store = self.monitor_app.store
            pod = store.kube.get("pods", key) if store is not None else None
            if pod is not None and pod.owner in self._deps:
                self.deployment = pod.owner
        elif event.data_table.id == "deployments":
            self.deployment = key
        self._draw_detail()

    def _draw_detail(self) -> None:
        store = self.monitor_app.store
        if store is None:
            return
        box = self.query_one("#kube-detail", Static)
        text = Text()
        pod = store.kube.get("pods", self.pod) if self.pod else None
        if pod is not None:
            text.append(f"pod {pod.name}\n", style="bold")
            waiting = f" ({pod.waiting})" if pod.waiting else ""
            text.append(
                f"{pod.phase}{waiting} · ready {pod.ready_containers}/{pod.containers} · "
                f"restarts {pod.restarts} · node {pod.node or '–'}\n"
            )
            if pod.last_termination:
                text.append(f"last termination: {pod.last_termination}\n")
        dep = store.kube.get("deployments", self.deployment) if self.deployment else None
        if dep is not None:
            text.append(
                f"deployment {dep.name}: ready {dep.ready}, updated {dep.updated}, "
                f"desired {dep.desired}\n",
                style="bold",
            )
        nodes = sorted(store.kube.items("nodes"), key=lambda n: n.name)
        if nodes:
            text.append("\nnodes\n", style="bold")
        for n in nodes:
            alloc = dict(n.allocatable)
            flags = ", ".join(n.pressure) or "no pressure"
            text.append(
                f"{n.name} {'Ready' if n.ready else 'NotReady'} · {flags} · "
                f"cpu {alloc.get('cpu', '?')} mem {alloc.get('memory', '?')}\n",
                style="" if n.ready and not n.pressure else "bold",
            )
        events = sorted(store.kube.items("events"), key=lambda e: -e.ts)[:8]
        if events:
            text.append("\nwarnings\n", style="bold")
        for e in events:
            when = time.strftime("%H:%M:%S", time.localtime(e.ts))
            text.append(f"{when} {e.kind} {e.subject}: {e.message}\n")
        if not text.plain:
            text.append("nothing listed yet", style="dim")
        text.append("\n")
        text.append(write_hint(self.monitor_app, "r rollout restart · x delete pod · + / − scale"))
        box.update(text)

    def action_restart(self) -> None:
        name = self.deployment
        if name is None:
            self.notify("no deployment selected", timeout=2)
            return
        actor = self.actor()
        self.confirm(
            f"Rollout restart deployment {name}?",
            lambda cmd: cmd.restart_deployment(name, actor),
            f"deployment {name}: restart requested",
        )

    def action_delete_pod(self) -> None:
        name = self.pod
        if name is None:
            self.notify("no pod selected", timeout=2)
            return
        actor = self.actor()
        self.confirm(
            f"Delete pod {name}? Its controller replaces it.",
            lambda cmd: cmd.delete_pod(name, actor),
            f"pod {name}: deleted",
        )

    def action_scale(self, step: int) -> None:
        store = self.monitor_app.store
        dep = (
            store.kube.get("deployments", self.deployment)
            if self.deployment and store is not None
            else None
        )
        if dep is None:
            self.notify("no deployment selected", timeout=2)
            return
        target = dep.desired + step
        actor = self.actor()
        self.confirm(
            f"Scale deployment {dep.name} from {dep.desired} to {target}?",
            lambda cmd: cmd.scale(dep.name, target, actor),
            f"deployment {dep.name}: scaled to {target}",
        )
