"""Every key declared once, with an id, so `tui.keys` in config can remap it."""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding, BindingType


@dataclass(frozen=True, slots=True)
class Key:
    id: str
    key: str
    action: str
    title: str
    help: str
    show: bool = True  # in the footer; every key is in help (?) and the palette either way
    priority: bool = False  # also while a text box has focus


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
    Key("docker", "d", "show('docker')", "Docker", "Containers", show=False),
    Key(
        "kubernetes",
        "k",
        "show('kubernetes')",
        "Kubernetes",
        "Pods, deployments, nodes",
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
    Key("filter", "slash", "filter", "Filter", "Filter the current table"),
    Key("theme", "t", "cycle_theme", "Theme", "Cycle the colour theme"),
    Key("help", "question_mark", "help", "Help", "List every key"),
    Key("quit", "q", "quit", "Quit", "Leave the monitor"),
    Key(
        "back",
        "escape",
        "back",
        "Back",
        "Close the filter or help, or return to the overview",
        show=False,
        priority=True,
    ),
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
)


def bindings() -> list[BindingType]:
    out: list[BindingType] = [
        Binding(k.key, k.action, k.title, show=k.show, id=k.id, priority=k.priority) for k in KEYS
    ]
    out.append(Binding("ctrl+c", "quit", "Quit", show=False, priority=True, id="interrupt"))
    return out
