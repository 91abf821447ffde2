"""`devmentor-monitor ultra`: the Textual app attached to the in-process runtime.

The app never does I/O of its own and never builds the runtime: it is handed the store
(read), and either the commands and queries or a `RuntimeStarter` that yields them once
the runtime is up (cli.py builds it; it starts after the first frame, so start-up feels
instant). It redraws at most once per refresh tick, whatever the data rate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Callable, Coroutine, Iterable
from functools import partial
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.command import CommandPalette
from textual.screen import Screen

from devmentor_monitor.config.schema import Config
from devmentor_monitor.store import Store
from devmentor_monitor.tui.confirm import ConfirmScreen
from devmentor_monitor.tui.keys import KEYS, VIEWS, bindings, check_keymap
from devmentor_monitor.tui.replay import Frame, load_frame, step_to
from devmentor_monitor.tui.screens import (
    HelpScreen,
    IncidentDetailScreen,
    IncidentsScreen,
    MetricsScreen,
    MonitorScreen,
    OverviewScreen,
    ServicesScreen,
)
from devmentor_monitor.tui.self_view import SelfScreen
from devmentor_monitor.tui.silence import SilenceScreen, open_silence
from devmentor_monitor.tui.themes import initial_theme, load_themes

if TYPE_CHECKING:
    from devmentor_monitor.bus import Subscription
    from devmentor_monitor.commands import Commands
    from devmentor_monitor.queries import Queries

log = logging.getLogger("devmentor_monitor.tui")


FIRST_RESULTS_REDRAW = 0.05  # seconds at least between redraws while the first results come in
FIRST_PAINT_WAIT = 0.1  # the runtime's start waits this long at most for the first values' paint
FIRST_RESULTS_FOR = 15.0  # ... for at most this long (then the refresh tick alone)


class RuntimeStarter(Protocol):
    """Starts the runtime over the app's store; its writes and reads come back."""

    async def first_checks(self, store: Store) -> None:
        """The first round of checks, into the store, before the rest is imported."""

    async def start(self, store: Store) -> tuple[Commands, Queries]: ...

    async def stop(self) -> None: ...


# Views opened by a key, their module imported the first time one opens: the first frame
# needs only the overview's (these five cost ~14 ms of imports before it).
LATER_VIEWS = {
    "predictions": ("predictions", "PredictionsScreen"),
    "events": ("events_view", "EventsScreen"),
    "docker": ("workloads", "DockerScreen"),
    "kubernetes": ("workloads", "KubernetesScreen"),
    "audit": ("audit_view", "AuditScreen"),
    "topology": ("topology", "TopologyScreen"),
}


def view_class(mode: str) -> type[Screen[Any]]:
    """The screen class of a view in LATER_VIEWS (its module imported now)."""
    module, name = LATER_VIEWS[mode]
    cls: type[Screen[Any]] = getattr(import_module(f"devmentor_monitor.tui.{module}"), name)
    return cls


def _open_view(mode: str) -> Screen[Any]:
    return view_class(mode)()


def _first_results_in(store: Store) -> tuple[int, bool]:
    """How far the first results have come (each checked service counts 1 with its last
    known status, 2 with a result of this run; the host 2 with its first sample), and
    whether they are all in."""
    checked = [n for n in store.service_names() if store.service_config(n).url is not None]
    got = sum(1 for n in checked if store.last_check(n) is not None)
    done = got == len(checked) and store.system is not None
    return 2 * (got + (store.system is not None)) + store.stale_count(), done


class MonitorApp(App[int]):
    CSS_PATH = Path(__file__).with_name("monitor.tcss")  # absolute: subclasses work too
    TITLE = "devmentor-monitor"
    BINDINGS = bindings()
    # The overview is the default screen, not a MODES entry: Textual re-parses the whole
    # stylesheet for a mode's first screen (~10 ms before the first frame); on_mount adds
    # the mode so that `o` can switch back to it.
    MODES: ClassVar[dict[str, str | Callable[[], Screen[Any]]]] = {
        "metrics": MetricsScreen,
        "services": ServicesScreen,
        "incidents": IncidentsScreen,
        **{mode: partial(_open_view, mode) for mode in LATER_VIEWS},
    }
    DEFAULT_MODE = "overview"

    def __init__(
        self,
        config: Config,
        *,
        store: Store | None = None,
        commands: Commands | None = None,
        queries: Queries | None = None,
        runtime: RuntimeStarter | None = None,
        theme: str | None = None,
        clock: Callable[[], float] = time.time,
        hostname: str | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.read_only = config.server.read_only  # --read-only: every write key refuses
        self.commands = commands  # None until the runtime is up: actions say "starting"
        self.queries = queries
        self.runtime = runtime
        self.clock = clock
        self.hostname = hostname or socket.gethostname()
        self._sub: Subscription | None = None
        self._held: set[str] = set()  # notices taken early, for the next tick (_first_results)
        # The store exists before the first frame (it is cheap), so the first frame already
        # lists the services; the runtime that fills it starts right after.
        self.store: Store | None = (
            store if store is not None or runtime is None else Store(config, clock=clock)
        )
        self._themes = load_themes()
        for t in self._themes.values():
            self.register_theme(t)
        self._set_initial_theme(initial_theme(theme, config.tui.theme, self._themes))
        self.palette: dict[str, str] = {}
        self._update_colors()
        if config.tui.keys:  # every id must name a binding: a typo is refused, by name
            check_keymap(dict(config.tui.keys), self.binding_ids(), config.source)
            self.set_keymap(dict(config.tui.keys))
        self.ticks = 0  # redraws done, for tests and the benchmark
        # Time travel: the moment the overview shows (None: live), and that moment's frame
        # once read from the history (or why it could not be).
        self.travel_at: float | None = None
        self.frame: Frame | None = None
        self.frame_error: str | None = None

    def _set_initial_theme(self, name: str) -> None:
        """Start in ``name`` without a theme change, which would re-parse the stylesheet
        before the first frame; this does what the change would, bar the re-parse."""
        self.set_reactive(MonitorApp.theme, name)
        dark = self.current_theme.dark
        self.set_class(dark, "-dark-mode", update=False)
        self.set_class(not dark, "-light-mode", update=False)
        self.set_class(True, f"-theme-{name}", update=False)
        self._refresh_truecolor_filter(self.ansi_theme)
        self.stylesheet.set_variables(self.get_css_variables())  # nothing is parsed yet

    @classmethod
    def view_screens(cls) -> list[type[Screen[Any]]]:
        """Every view's screen class (the later views' modules imported now)."""
        return [
            view if isinstance(view, type) else view_class(mode) for mode, view in cls.MODES.items()
        ]

    def binding_ids(self) -> set[str]:
        """Every binding id the app's screens declare: what `tui.keys` may remap."""
        screens: list[Any] = [
            type(self),
            OverviewScreen,
            HelpScreen,
            SelfScreen,
            ConfirmScreen,
            IncidentDetailScreen,
            *self.view_screens(),
        ]
        return {
            b.id
            for cls in screens
            for b in getattr(cls, "BINDINGS", ())
            if isinstance(b, Binding) and b.id
        }

    # ------------------------------------------------------------------ lifecycle
    def get_default_screen(self) -> Screen[Any]:
        return OverviewScreen()

    def on_mount(self) -> None:
        self.add_mode("overview", OverviewScreen)
        self.set_interval(self.config.tui.refresh, self.tick)
        if self.store is not None:
            self._sub = self.store.bus.subscribe()

    def on_ready(self) -> None:
        """The first frame is on screen (Textual's Ready): the runtime starts now, its
        imports (~0.2 s) having waited for it, and the first round of checks goes out as
        soon as they are done. Not after the next refresh: the repaints that follow the
        first frame (~60 ms) held the checks back; they are drawn while the checks run."""
        if self.runtime is not None:
            self._start_runtime()

    def _start_runtime(self) -> None:
        self.run_worker(
            self._runtime_worker(),
            name="runtime",
            group="runtime",
            exclusive=True,
            exit_on_error=False,
        )
        # Until the first results are all in, each is drawn when it comes, not at the next
        # refresh tick (up to a second later).
        self.run_worker(self._first_results(), name="first-results", exit_on_error=False)

    async def _first_results(self) -> None:
        """Redraw as soon as a first result is in (a redraw polled every 50 ms came ~25 ms
        late on average with the first values), until every service has one. Other
        notices (a source's state) wait for the refresh tick: redrawn on the spot, they
        took 10-20 ms from the loop just as the first checks were to go out."""
        store, sub = self.store, self._sub
        assert store is not None
        assert sub is not None
        until = time.monotonic() + FIRST_RESULTS_FOR
        drawn, done = _first_results_in(store)
        while not done:
            try:
                async with asyncio.timeout(max(0.0, until - time.monotonic())):
                    await sub.changed()
            except TimeoutError:
                return  # the refresh tick alone from here
            got, done = _first_results_in(store)
            if got == drawn:
                # Nothing new to show: the next tick draws these notices, and the wait
                # here is for the next change (no polling while they are pending).
                self._held |= sub.take()
                continue
            started = time.monotonic()
            self.tick()
            drawn = got
            if done:
                return
            # The next redraw no sooner than FIRST_RESULTS_REDRAW; a tick that costs more
            # than half that (1,000 services) would keep the loop busy and inflate the
            # first checks' times: space them out further.
            await asyncio.sleep(max(FIRST_RESULTS_REDRAW, 2 * (time.monotonic() - started)))

    async def _runtime_worker(self) -> None:
        # The runtime's imports (aiohttp, psutil: ~0.3 s) come after the first frame. Not in
        # a thread: importing there while Textual imports widgets here froze the app.
        assert self.runtime is not None
        assert self.store is not None
        # The first round's results drawn first: the rest of the runtime (~0.1 s of CPU on
        # this loop) held back both the checks and their paint (bench/tui_load.py).
        try:
            await self.runtime.first_checks(self.store)
            self.tick()
            await self._refreshed()
            self.commands, self.queries = await self.runtime.start(self.store)
        except Exception as exc:  # the screen stays up and says why (the log has the trace)
            log.exception("the monitor's runtime could not start")
            self.notify(
                f"the monitor could not start: {type(exc).__name__}: {exc} (see the log)",
                severity="error",
                timeout=3600,
            )
            return
        self.tick(force=True)

    async def _refreshed(self) -> None:
        """Until the screen has been refreshed (what is pending painted), FIRST_PAINT_WAIT
        at most."""
        done = asyncio.get_running_loop().create_future()

        def painted() -> None:
            if not done.done():
                done.set_result(None)

        self.call_after_refresh(painted)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(FIRST_PAINT_WAIT):
                await done

    async def _stop_runtime(self) -> None:
        if self.runtime is not None:
            await self.runtime.stop()

    async def action_quit(self) -> None:
        await self._stop_runtime()
        self.exit(0)

    # ------------------------------------------------------------------ refresh
    def tick(self, force: bool = False) -> None:
        """The one redraw per tick, of the visible screen only, whatever the data rate.

        Panes whose topics did not change are skipped; the header and the ages in the
        services table change every second, so they always redraw.
        """
        topics = self._sub.take() if self._sub is not None else set()
        topics, self._held = topics | self._held, set()
        screen = self.view()  # behind the palette or help too: the clock keeps going
        if isinstance(screen, MonitorScreen) and screen.ready:
            screen.refresh_data(None if force else topics)
            self.ticks += 1

    def view(self) -> Screen[Any] | None:
        """The view on screen: the topmost MonitorScreen, under any dialog or palette."""
        for screen in reversed(self.screen_stack):
            if isinstance(screen, MonitorScreen):
                return screen
        return None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """esc in the command palette is the palette's own (it closes it), not `back`."""
        return not (action == "back" and isinstance(self.screen, CommandPalette))

    # ------------------------------------------------------------------ actions
    def action_copy(self) -> None:
        """`c`: the selected incident id or service URL to the local clipboard (OSC 52,
        so it reaches the terminal's machine over SSH)."""
        screen = self.view()
        text = screen.copy_target() if isinstance(screen, MonitorScreen) else None
        if not text:
            self.notify("nothing to copy here (select an incident or a service)", timeout=2)
            return
        self.copy_to_clipboard(text)
        self.notify(f"copied {text}", timeout=2)

    def action_show_self(self) -> None:
        if not isinstance(self.screen, SelfScreen):
            self.push_screen(SelfScreen())

    def action_show(self, view: str) -> None:
        if view not in VIEWS:
            return
        if self.current_mode != view:
            self.switch_mode(view)

    async def action_back(self) -> None:  # Textual's is a coroutine; it awaits ours
        screen = self.screen
        if isinstance(screen, HelpScreen | SelfScreen):
            screen.dismiss(None)
            return
        if isinstance(screen, ConfirmScreen):  # esc on a confirmation: cancel it
            screen.dismiss(False)
            return
        if isinstance(screen, SilenceScreen):  # esc on the silence form: cancel it
            screen.dismiss(None)
            return
        if isinstance(screen, IncidentDetailScreen):
            screen.dismiss(None)
            return
        if isinstance(screen, MonitorScreen) and screen.close_filter():
            return
        if self.travel_at is not None and isinstance(screen, OverviewScreen):
            self.go_live()
            return
        self.action_show("overview")

    # ------------------------------------------------------------------ time travel
    def action_travel(self, seconds: float) -> None:
        """`[` `]` (a minute) and `{` `}` (an hour): the overview earlier or later; past
        now it is live again."""
        now = self.clock()
        at = step_to(self.travel_at if self.travel_at is not None else now, seconds)
        if at >= now:
            if self.travel_at is None:
                self.notify("already live", timeout=1.5)
            self.go_live()
            return
        self.travel_to(at)

    def travel_to(self, at: float) -> None:
        """Show the overview as it was at ``at`` (read from the history in a worker)."""
        if self.queries is None:
            self.notify("time travel: history not open yet (starting…)", timeout=2)
            return
        self.travel_at = at
        self.frame_error = None
        self.action_show("overview")
        self.run_worker(  # a partial, not a coroutine: a cancelled read leaves no warning
            partial(self._load_frame, at),  # type: ignore[arg-type]
            name="travel",
            group="travel",
            exclusive=True,
            exit_on_error=False,
        )
        self._redraw_overview()

    def go_live(self) -> None:
        self.travel_at = None
        self.frame = None
        self.frame_error = None
        self._redraw_overview()

    async def _load_frame(self, at: float) -> None:
        assert self.queries is not None
        assert self.store is not None
        try:
            frame = await load_frame(self.queries, self.store, at, self.clock())
        except Exception as exc:  # storage trouble: the banner says so, the app runs on
            if self.travel_at == at:
                self.frame_error = str(exc) or type(exc).__name__
                self._redraw_overview()
            return
        if self.travel_at == at:  # not stepped on meanwhile
            self.frame = frame
            self._redraw_overview()

    def _redraw_overview(self) -> None:
        screen = self.screen if self.screen_stack else None
        if isinstance(screen, OverviewScreen) and screen.ready:
            screen.refresh_data()

    def refuse_write(self, what: str) -> bool:
        """With --read-only, say that ``what`` is disabled and return True (the caller
        stops); the same check Commands makes, made before any question or form."""
        if self.read_only:
            from devmentor_monitor.commands import READ_ONLY

            self.notify(f"{READ_ONLY}: {what} is disabled", severity="warning", timeout=4)
        return self.read_only

    def action_filter(self) -> None:
        screen = self.screen
        if isinstance(screen, MonitorScreen):
            screen.open_filter()

    def action_silence(self) -> None:
        """`S`: silence the service selected on the Services or Incidents view."""
        screen = self.screen
        if isinstance(screen, SilenceScreen) or self.refuse_write("silence"):
            return
        target = screen.silence_target() if isinstance(screen, MonitorScreen) else None
        open_silence(self, target)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_cycle_theme(self) -> None:
        names = list(self._themes)
        self.theme = names[(names.index(self.theme) + 1) % len(names)]
        self.notify(f"theme: {self.theme}", timeout=1.5)

    def watch_theme(self, theme: str) -> None:
        self._update_colors()
        screen = self.screen if self.screen_stack else None
        if isinstance(screen, MonitorScreen) and screen.ready:
            screen.refresh_data()

    def _update_colors(self) -> None:
        theme = self._themes.get(self.theme)
        if theme is None:
            return
        colors = {
            "success": theme.success or "",
            "warning": theme.warning or "",
            "error": theme.error or "",
        }
        colors.update(theme.variables)
        if theme.name == "monochrome":
            colors = {k: "" for k in colors}  # no colour at all: words and shapes only
        self.palette = colors

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Every key's action is also in the command palette, under its title (a screen's
        own keys while that screen is up)."""
        scope = getattr(screen, "KEY_SCOPE", "app")
        for k in KEYS:
            if k.id in ("back",):
                continue
            if k.scope == "app":
                yield SystemCommand(k.title, k.help, self._command(k.action))
            elif k.scope == scope:
                yield SystemCommand(k.title, k.help, self._command(f"screen.{k.action}"))

    def _command(self, action: str) -> Callable[[], Any]:
        async def run() -> None:
            await self.run_action(action)

        return run


def run_tui(
    config: Config,
    runtime: RuntimeStarter,
    *,
    theme: str | None,
    run: Callable[[Coroutine[Any, Any, Any]], Any] = asyncio.run,
) -> int:
    """Run the app until it quits, on the loop `run` gives it (the CLI's: asyncio's own,
    see cli._ultra); an unknown theme raises ThemeError before any frame."""
    app = MonitorApp(config, runtime=runtime, theme=theme)
    result = run(app.run_async())
    return 0 if result is None else int(result)
