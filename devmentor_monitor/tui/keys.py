"""Every key declared once, with an id, so `tui.keys` in config can remap it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import msgspec
from textual.binding import Binding, BindingType
from textual.keys import format_key


class Key(msgspec.Struct, frozen=True):
    id: str
    key: str
    action: str
    title: str
    help: str
    show: bool = True  # in the footer; every key is in help (?) and the palette either way
    priority: bool = False  # also while a text box has focus
    footer: str | None = None  # the footer's word when not the title (keys in a row share one)
    scope: str = "app"  # "app": everywhere; else only on that screen ("incident": its detail)
    group: str = ""  # keys in a row with the same group share one line of the help, so titled


KEYS: tuple[Key, ...] = (
    Key("overview", "o", "show('overview')", "Overview", "Services, host, incidents at a glance"),
    Key(
        "metrics",
        "m",
        "show('metrics')",
        "Metrics",
        "Host and latency charts over time",
    ),
    Key("services", "s", "show('services')", "Services", "One service in detail"),
    Key("incidents", "i", "show('incidents')", "Incidents", "Open and recent incidents"),
    Key(
        "predictions",
        "p",
        "show('predictions')",
        "Predictions",
        "Anomalies and forecasts",
        show=False,
    ),
    Key("events", "e", "show('events')", "Events", "Platform event log", show=False),
    # The workload views share a line of the help, which fits 80x24 with the audit's.
    Key("docker", "d", "show('docker')", "Docker", "Containers", show=False, group="Workloads"),
    Key(
        "kubernetes",
        "k",
        "show('kubernetes')",
        "Kubernetes",
        "Pods, deployments, nodes",
        show=False,
        group="Workloads",
    ),
    Key("audit", "A", "show('audit')", "Audit", "Who did what, when, from where", show=False),
    Key(
        "topology",
        "g",
        "show('topology')",
        "Topology",
        "Dependency graph and cascades",
        show=False,
    ),
    Key(
        "silence",
        "S",
        "silence",
        "Silence",
        "Mute the selected service's alerts",
        show=False,  # each of those views says so in its detail pane
    ),
    # The table keys share a line of the help (so it fits 80x24): filter, then the
    # services table's sort (status, name, latency, budget, age) and group folding.
    Key("filter", "slash", "filter", "Filter", "Filter the current table", group="Table"),
    Key(
        "copy",
        "c",
        "copy",
        "Copy",
        "Copy selected incident id or URL (OSC 52)",
        show=False,
    ),
    Key(
        "self",
        "dollar_sign",
        "show_self",
        "Self",
        "The monitor's own CPU, RAM, poll times",
        show=False,
    ),
    Key(
        "services_sort",
        "greater_than_sign",
        "screen.sort_services",
        "Sort",
        "Services: next sort (status, name, latency, budget, age)",
        show=False,
        group="Table",
    ),
    Key(
        "services_fold",
        "z",
        "screen.fold_group",
        "Fold group",
        "Services: fold/unfold the group (also enter on its line)",
        show=False,
        group="Table",
    ),
    Key("theme", "t", "cycle_theme", "Theme", "Cycle the colour theme"),
    Key("help", "question_mark", "help", "Help", "List every key"),
    Key("quit", "q", "quit", "Quit", "Leave the monitor"),
    # Time travel (the flight recorder): the overview as it was, from the stored history.
    # A minute per press reads an outage check by check; an hour jumps across a shift.
    Key(
        "travel_back",
        "left_square_bracket",
        "travel(-60)",
        "Back 1 min",
        "Time travel: the overview one minute earlier",
        footer="Time travel",
        group="Travel 1 min",
    ),
    Key(
        "travel_forward",
        "right_square_bracket",
        "travel(60)",
        "Forward 1 min",
        "Time travel: one minute later (past now: live again)",
        footer="Time travel",
        group="Travel 1 min",
    ),
    Key(
        "travel_back_hour",
        "left_curly_bracket",
        "travel(-3600)",
        "Back 1 hour",
        "Time travel: the overview one hour earlier",
        show=False,
        group="Travel 1 h",
    ),
    Key(
        "travel_forward_hour",
        "right_curly_bracket",
        "travel(3600)",
        "Forward 1 hour",
        "Time travel: one hour later (past now: live again)",
        show=False,
        group="Travel 1 h",
    ),
    Key(
        "incident_onset",
        "t",
        "onset",
        "Onset",
        "Incident detail (enter): go to its onset",
        scope="incident",
    ),
    # The topology view (g): the selection moves between boxes, enter opens the service.
    *(
        Key(
            f"topology_{way}",
            key,
            f"move('{way}')",
            way.capitalize(),
            f"Topology: select the box {'to the ' if way in ('left', 'right') else ''}{way}",
            show=False,
            scope="topology",
            group="Topology",
        )
        for way, key in (
            ("left", "left,h"),
            ("down", "down,j"),
            ("up", "up,k"),
            ("right", "right,l"),
        )
    ),
    Key(
        "topology_open",
        "enter",
        "open",
        "Open",
        "Topology: the selected service's detail",
        show=False,
        scope="topology",
        group="Topology",
    ),
    # A view's own keys (scope: its KEY_SCOPE), offered in the palette while it is up; the
    # help gives each view one line.
    *(
        Key(
            f"range_{name}",
            str(i),
            f"range('{name}')",
            name.replace("m", " m").replace("h", " h").replace("d", " d"),
            f"Charts over the last {name}",
            show=False,  # on the range line above the charts, not in the (narrow) footer
            scope="range",
            group="Range (m, s)",
        )
        for i, name in enumerate(("5m", "1h", "24h", "7d", "30d"), start=1)
    ),
    Key(
        "range_next",
        "r",
        "next_range",
        "Next",
        "Charts over the next range",
        show=False,
        scope="range",
        group="Range (m, s)",
    ),
    Key(
        "incident_ack",
        "a",
        "acknowledge",
        "Acknowledge",
        "Acknowledge the selected incident",
        footer="Ack",
        scope="incidents",
        group="Incident (i)",
    ),
    Key(
        "incident_resolve",
        "r",
        "resolve",
        "Resolve",
        "Resolve the selected incident (asks first)",
        scope="incidents",
        group="Incident (i)",
    ),
    Key(
        "events_pause",
        "space",
        "pause",
        "Pause",
        "Pause or resume the event log",
        scope="events",
        group="Events (e)",
    ),
    Key(
        "events_severity",
        "v",
        "severity",
        "Severity",
        "Cycle the lowest severity shown",
        scope="events",
        group="Events (e)",
    ),
    Key(
        "container_restart",
        "r",
        "act('restart')",
        "Restart",
        "Restart the selected container (asks first)",
        scope="docker",
        group="Container (d)",
    ),
    Key(
        "container_stop",
        "x",
        "act('stop')",
        "Stop",
        "Stop the selected container (asks first)",
        scope="docker",
        group="Container (d)",
    ),
    Key(
        "container_start",
        "u",
        "act('start')",
        "Start",
        "Start the selected container (asks first)",
        scope="docker",
        group="Container (d)",
    ),
    Key(
        "container_logs",
        "l",
        "logs",
        "Logs",
        "The selected container's recent log lines",
        scope="docker",
        group="Container (d)",
    ),
    Key(
        "deployment_restart",
        "r",
        "restart",
        "Restart",
        "Restart the selected deployment (asks first)",
        scope="kubernetes",
        group="Kubernetes (k)",
    ),
    Key(
        "pod_delete",
        "x",
        "delete_pod",
        "Delete",
        "Delete the selected pod (asks first)",
        scope="kubernetes",
        group="Kubernetes (k)",
    ),
    Key(
        "deployment_scale_up",
        "plus",
        "scale(1)",
        "Scale+",
        "One more replica of the selected deployment (asks first)",
        scope="kubernetes",
        group="Kubernetes (k)",
    ),
    Key(
        "deployment_scale_down",
        "minus",
        "scale(-1)",
        "Scale−",
        "One replica fewer of the selected deployment (asks first)",
        scope="kubernetes",
        group="Kubernetes (k)",
    ),
    Key(
        "back",
        "escape",
        "back",
        "Back",
        "Close; leave time travel; to overview",
        show=False,
        priority=True,
    ),
)

# The keys that write (an incident, a silence, a container or deployment action), by id:
# with --read-only (server.read_only) they show struck through in the footer and say why
# when pressed; Commands refuses the writes themselves.
WRITE_KEYS = frozenset(
    {
        "silence",
        "incident_ack",
        "incident_resolve",
        "container_restart",
        "container_stop",
        "container_start",
        "deployment_restart",
        "pod_delete",
        "deployment_scale_up",
        "deployment_scale_down",
    }
)

VIEWS = (
    "overview",
    "metrics",
    "services",
    "incidents",
    "predictions",
    "events",
    "docker",
    "kubernetes",
    "audit",
    "topology",
)


def bindings(scope: str = "app") -> list[BindingType]:
    out: list[BindingType] = [
        Binding(
            k.key,
            k.action,
            k.title if k.footer is None else k.footer,
            show=k.show,
            id=k.id,
            priority=k.priority,
        )
        for k in KEYS
        if k.scope == scope
    ]
    if scope == "app":
        out.append(Binding("ctrl+c", "quit", "Quit", show=False, priority=True, id="interrupt"))
    return out


class KeymapError(ValueError):
    """A `tui.keys` entry that names no binding; the message names the file and the key."""


def check_keymap(keymap: Mapping[str, str], ids: Iterable[str], source: str = "") -> None:
    """Refuse a `tui.keys` id that no binding has (a typo would silently remap nothing).
    ``ids``: every binding id the app's screens declare, this table's and the dialogs'."""
    known = set(ids)
    for key_id in keymap:
        if key_id not in known:
            where = f"{source}: " if source else ""
            raise KeymapError(
                f"{where}tui.keys.{key_id}: no key has this id; ids: {', '.join(sorted(known))}"
            )


def help_rows(keymap: dict[str, str]) -> list[tuple[str, str, str]]:
    """(keys, title, help) per line of the help; keys in a row with the same group share
    a line (`[ ]  Travel 1 min  Back 1 min · Forward 1 min`), so the help fits 80x24."""
    rows: list[tuple[str, str, str]] = []
    run: list[Key] = []
    for k in (*KEYS, None):
        if k is not None and run and k.group and k.group == run[0].group:
            run.append(k)
            continue
        if len(run) == 1:
            rows.append((key_display(keymap.get(run[0].id, run[0].key)), run[0].title, run[0].help))
        elif run:
            keys = " ".join(key_display(keymap.get(g.id, g.key)) for g in run)
            rows.append((keys, run[0].group, " · ".join(g.title for g in run)))
        run = [k] if k is not None else []
    return rows


def key_display(key: str) -> str:
    """A key as the help shows it: `[` for left_square_bracket, `/` for slash."""
    return ",".join(format_key(k) for k in key.split(","))
