"""The self panel (`$`, listed in the help): what the monitor itself costs, its CPU and
memory and each source's poll times over the last minute, and, in a fleet of instances,
who the members are, which share of the checks each runs and who leads; redrawn every
second."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import Static

from devmentor_monitor.units import format_bytes, format_duration, format_ms, format_percent

if TYPE_CHECKING:
    from devmentor_monitor.cluster.state import FleetView
    from devmentor_monitor.selfcost import SelfCost
    from devmentor_monitor.tui.app import MonitorApp


def _took(seconds: float) -> str:
    """A poll's time: milliseconds below a second, seconds above (as intervals are)."""
    return format_ms(seconds) if seconds < 1 else f"{seconds:.1f} s"


def self_text(cost: SelfCost | None, slow_style: str = "bold", fleet: Text | None = None) -> Text:
    """CPU, RSS, then one line per source: polls, mean, max, interval, and SLOW when one
    took longer than its interval; then ``fleet`` (fleet_text), if any."""
    text = Text("The monitor's own cost\n\n", style="bold")
    if cost is None:
        text.append("starting…")
        return text
    usage = cost.usage()
    cpu = None if usage.cpu_ratio is None else usage.cpu_ratio * 100
    text.append(f"CPU  {format_percent(cpu, 1)} of one core    ")
    text.append(f"RSS  {format_bytes(usage.rss_bytes) if usage.rss_bytes is not None else '–'}\n\n")
    text.append(f"{'source':<18}{'polls':>6}{'mean':>10}{'max':>10}{'interval':>10}\n", style="dim")
    stats = cost.polls.stats()
    for p in stats:
        line = f"{p.source[:17]:<18}{p.count:>6}{_took(p.mean):>10}{_took(p.max):>10}"
        text.append(line + f"{p.interval:>8g} s")
        if p.slow:
            text.append("  SLOW", style=slow_style)
        text.append("\n")
    if not stats:
        text.append("no polls in the last minute\n", style="dim")
    if fleet is not None:
        text.append_text(fleet)
    text.append("\npoll times over the last minute; a health check counts from its wait\n")
    text.append("for a slot · esc, q or $ close", style="dim")
    return text


def fleet_text(view: FleetView, total: int, now: float, alert_style: str = "bold") -> Text:
    """The fleet as this instance sees it: one line per member (its share of the checks,
    its API, how long it has run), the leader and this instance marked; in a fallback,
    why; alone, nothing."""
    text = Text()
    if view.mode == "solo":
        return text
    text.append("\nFleet\n", style="bold")
    if view.mode == "fallback":
        text.append(f"{view.reason}\n", style=alert_style)
        return text
    leader = view.leader or "none yet (election under way)"
    text.append(f"{len(view.members)} members · leader {leader}")
    if view.token is not None:
        text.append(f" · fencing token {view.token}")
    text.append("\n")
    text.append(f"  {'member':<24}{'checks':>8}{'share':>8}  {'up':>8}  api\n", style="dim")
    for m in view.members:
        share = f"{100 * m.checks / total:.0f}%" if total else "–"
        up = format_duration(max(0.0, now - m.started)) if m.started else "–"
        marks = ("*" if m.id == view.leader else " ") + (">" if m.id == view.me else " ")
        text.append(f"{marks}{m.id[:23]:<24}{m.checks:>8}{share:>8}  {up:>8}  {m.url}\n")
    text.append("  * leader  > this instance\n", style="dim")
    return text


class SelfScreen(ModalScreen[None]):
    """The self panel: redrawn every second while it is up."""

    BINDINGS = [Binding("escape,q,dollar_sign", "dismiss", "Close", id="self_close")]

    def compose(self) -> ComposeResult:
        panel = Static(id="self")
        panel.border_title = "Self"
        yield panel

    def on_mount(self) -> None:
        self.redraw()
        self.set_interval(1.0, self.redraw)

    def redraw(self) -> None:
        app = cast("MonitorApp", self.app)
        store = app.store
        cost = store.cost if store is not None else None
        slow = f"bold {app.palette.get('status-down', '')}"
        fleet = None
        if store is not None:
            fleet = fleet_text(store.fleet, len(store.config.services), app.clock(), slow)
        self.query_one("#self", Static).update(self_text(cost, slow, fleet))

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss(None)
