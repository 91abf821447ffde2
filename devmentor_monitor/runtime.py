"""Builds and runs everything. `Monitor` is shared by the TUI and headless `--serve`.

The runtime owns the intake (intake.py), the only writer of the store: sources hand it
observations, and views read the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from devmentor_monitor.backoff import Backoff
from devmentor_monitor.cluster.duties import Leadership
from devmentor_monitor.commands import Commands
from devmentor_monitor.config.schema import Config, is_self
from devmentor_monitor.custom.pusher import Pusher
from devmentor_monitor.events.processor import EventProcessor
from devmentor_monitor.first_checks import FIRST_ROUND_WAIT
from devmentor_monitor.health.checker import HealthSource
from devmentor_monitor.health.heartbeat import HeartbeatSource
from devmentor_monitor.incidents.alert_state import AlertStateKeeper, adopt
from devmentor_monitor.incidents.engine import IncidentEngine
from devmentor_monitor.incidents.flapping import FlapChange, FlapDetector
from devmentor_monitor.incidents.model import Severity
from devmentor_monitor.incidents.rules import Evaluator, build_rules
from devmentor_monitor.incidents.signals import FLAPPING_RULE, make_signal
from devmentor_monitor.incidents.silence_book import SilenceBook
from devmentor_monitor.incidents.silences import Maintenance, Silences
from devmentor_monitor.intake import StoreIntake
from devmentor_monitor.model import CheckResult, SourceState, SourceStatus
from devmentor_monitor.notify.outbox import Outbox
from devmentor_monitor.notify.routes import DEFAULT_GROUP_BY, routes_from_config
from devmentor_monitor.notify.settings import active_channels
from devmentor_monitor.observations import Intake
from devmentor_monitor.predictions.engine import PredictionEngine
from devmentor_monitor.queries import Queries
from devmentor_monitor.scrape.source import ScrapeSource
from devmentor_monitor.server.shapes import health_json
from devmentor_monitor.slices import in_slices, my_turn
from devmentor_monitor.stopping import STOP_GRACE, cancel_within
from devmentor_monitor.storage.open import database_for, history_for
from devmentor_monitor.store import Store
from devmentor_monitor.system.sampler import SystemSource
from devmentor_monitor.workloads.actions import WorkloadActions

if TYPE_CHECKING:
    from devmentor_monitor.bus import Subscription
    from devmentor_monitor.cluster.forward import Forwarder
    from devmentor_monitor.first_checks import FirstChecks
    from devmentor_monitor.server.app import HttpStack
    from devmentor_monitor.server.listener import Exporter

log = logging.getLogger("devmentor_monitor.runtime")

RESTART_BACKOFF = (1.0, 30.0)  # a crashed source restarts after 1 s, doubling up to 30 s
# The dashboard's first values: these sources start before the exporter and the restores.
FIRST_SOURCES = frozenset({"system", "health"})


class Supervised(Protocol):
    """A source the monitor runs: it hands what it observes to the intake."""

    name: str

    async def run(self, intake: Intake) -> None: ...


def _waiting_at(task: asyncio.Task[Any]) -> str:
    """The innermost line of our code a task is suspended at (Task.get_stack on 3.11 gives
    only the outermost frame): follows the chain of awaited coroutines."""
    where = "?"
    coro: Any = task.get_coro()
    while (frame := getattr(coro, "cr_frame", None)) is not None:
        if "/asyncio/" not in frame.f_code.co_filename:
            where = f"{frame.f_code.co_filename}:{frame.f_lineno}"
        coro = getattr(coro, "cr_await", None)
    return where


class Monitor:
    """Sources → store → views, in one event loop."""

    def __init__(
        self,
        config: Config,
        *,
        serve: bool = True,
        clock: Callable[[], float] = time.time,
        store: Store | None = None,
        first: FirstChecks | None = None,
    ) -> None:
        """``first``: the dashboard's health checks, running already over ``store``
        (first_checks.py): adopted, with their intake."""
        self.config = config
        self.store = store if store is not None else Store(config, clock=clock)
        self.store.follow(config)  # a store built before --demo: the URLs probed, not configured
        self._first = first
        if first is not None:
            self.health = first.health
        else:
            probed = [s for s in config.services if s.url is not None]  # the rest beat
            # In a fleet nothing is checked until the cluster node says which share is
            # this instance's (or that Redis is unreachable: all of them).
            self.health = HealthSource(
                probed, config.health.max_in_flight, owned=not config.cluster.enabled
            )
        self.system_source = SystemSource(config.intervals.system, config.intervals.processes)
        self.sources: list[Supervised] = [self.system_source, self.health]
        # Issue 16: each service's own metrics, scraped on its interval (scrape/).
        self.sources += [ScrapeSource(s) for s in config.services if s.metrics is not None]
        self.heartbeats = HeartbeatSource(config.services, clock)
        if self.heartbeats.services:
            self.sources.append(self.heartbeats)
        self.serve = serve
        self.server: Exporter | None = None
        self.db = database_for(config)  # SQLite in the data dir, or storage.url's PostgreSQL
        # Issue 16: every series on disk in tiers (history/), beside the incidents' file.
        # With storage.url's PostgreSQL, in its tables: one history for the fleet.
        self.history = history_for(config, clock)
        self.outbox = Outbox(
            self.db,
            active_channels(config.notifications, config.alert_channels),
            config.notifications,
            clock=clock,
        )
        alerting = config.alerting
        route = routes_from_config(config)  # grouping and paging timings: one declaration
        self.engine = IncidentEngine(
            self.store,
            self.db,
            self.outbox,
            clock=clock,
            group_by=route.group_by or DEFAULT_GROUP_BY,
        )
        self.evaluator = Evaluator(build_rules(config), self.store)
        # Issue 14: paging by route and group timers, silences (loaded from the database
        # at start), maintenance windows, flap detection, alert state kept across restarts.
        self.silences = Silences(
            maintenance=[Maintenance.from_config(w) for w in alerting.maintenance]
        )
        self.flaps = FlapDetector.from_settings(alerting.flapping)
        self._flap_changes: list[FlapChange] = []
        dispatcher = self.engine.dispatcher
        dispatcher.route = route
        dispatcher.silences = self.silences
        dispatcher.flaps = self.flaps
        self.alert_state = AlertStateKeeper(self.evaluator, self.db)
        self.silence_book = SilenceBook(self.silences, self.db, clock=clock)
        # Predictions (issue 7): anomaly scores, forecasts, advice, root-cause hints.
        self.predictor: PredictionEngine | None = (
            PredictionEngine(self.store, config, clock=clock)
            if config.predictions.enabled
            else None
        )
        # Containers and clusters (issue 6): built only when configured, so neither SDK is
        # imported otherwise; actions are shared by the API, the TUI and recovery.
        self.docker_source: Any = None
        self.kube_source: Any = None
        names = tuple(s.name for s in config.services)
        if config.docker.enabled:
            from devmentor_monitor.workloads.docker_source import DockerSource

            self.docker_source = DockerSource(config.docker, names, config.auto_discover)
            self.sources.append(self.docker_source)
        if config.kubernetes.enabled:
            from devmentor_monitor.workloads.kube_source import KubeSource

            self.kube_source = KubeSource(config.kubernetes, names, config.auto_discover)
            self.sources.append(self.kube_source)
        self.actions = WorkloadActions(
            self.store,
            config.scaling,
            self.engine,
            docker=self.docker_source,
            kube=self.kube_source,
        )
        self.engine.recovery.actions = self.actions.recover
        self.clock = clock
        self.leader_token: int | None = None  # in a fleet: ours while we lead (_on_leader)
        self._handovers: set[asyncio.Task[None]] = set()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._alert_sub: Subscription | None = None  # the dashboard's, made before its checks
        self._early_checks: list[CheckResult] | None = None  # held until flaps are read
        self._running = AsyncExitStack()  # each started part's stop, undone in reverse
        self._stopped = asyncio.Event()
        self.started_at = time.time()
        self.event_processor = EventProcessor(
            self.engine, self.db, config.events.rules, self.health.check_now, clock
        )
        # The single-writer jobs (cluster/duties.py): alone, this instance always leads.
        self.leadership = Leadership(
            store=self.store,
            db=self.db,
            engine=self.engine,
            evaluator=self.evaluator,
            silences=self.silence_book,
            jobs={"notify": self.outbox.run},
            clock=clock,
        )
        self.event_processor.leading = lambda: self.leadership.leading
        if first is None:
            self.intake = StoreIntake(
                self.store,
                clock=clock,
                events=self.event_processor,
                checks=self._checked,
                history=self.history,
            )
        else:  # what came in before: flap detection once its state is read, the rest held
            self.intake = first.intake
            self._early_checks = first.checks
            self._alert_sub = first.sub
            self.intake.attach(
                events=self.event_processor, checks=self._checked, history=self.history
            )
        # Issue 20: in a fleet, the checks split through Redis and results shared
        # (cluster/node.py); _on_leader hears when this instance leads.
        self.cluster: Any = None
        if config.cluster.enabled:
            from devmentor_monitor.cluster.node import ClusterNode

            self.cluster = ClusterNode.from_config(config, self.health, self._on_leader)
            self.sources.append(self.cluster)
            # A beat pushed to one instance (the balancer's pick) is heard by all.
            self.heartbeats.shared = self.cluster.share_beat
            self.cluster.heard_beat = self.heartbeats.beat
            self._probed = frozenset(s.name for s in self.health.services)
            self.intake.scrapes_written_here = self._scrapes_written_here
        self.publisher: Any = None
        if config.redis_url:
            from devmentor_monitor.events.publisher import IncidentPublisher
            from devmentor_monitor.events.redis_source import RedisEventSource

            self.sources.append(RedisEventSource(config.redis_url, config.events))
            from devmentor_monitor.server.shapes import incident_change_json

            self.publisher = IncidentPublisher(
                config.redis_url,
                config.events.publish_channel,
                self.store.bus,
                incident_change_json,
            )
        else:
            self.store.set_source(
                SourceStatus(
                    "redis",
                    SourceState.NOT_CONFIGURED,
                    "in-process event bus only; set REDIS_URL to hear platform events",
                )
            )
        # What views get instead of the monitor: every write, and the reads from disk.
        self.pusher = Pusher(self.store, self.intake, config.custom_metrics, clock)
        self.commands = Commands(
            self.engine,
            self.actions,
            self.db,
            self.silence_book,
            pusher=self.pusher,
            heartbeats=self.heartbeats,
            read_only=config.server.read_only,
        )
        if self.cluster is not None:  # a follower's writes are made by the leader
            alone_after = 2 * config.cluster.lease  # any lease held before has run out
            self.leadership.join(self._forwarder(), self.commands.made_here, alone_after)
            self.commands.forward = self.leadership.forwarder
            self.commands.made_elsewhere = self.leadership.made_elsewhere
        self.queries = Queries(
            self.db,
            self.event_processor,
            self.evaluator,
            self.silence_book,
            flaps=self.flaps,
            clock=clock,
            store=self.store,
            history=self.history,
        )

    def _scrapes_written_here(self, service: str) -> bool:
        """A service's scrapes go to the shared history from the instance whose share
        holds its check (all of them in fallback), or from each if it has no check."""
        return self.health.owns(service) or service not in self._probed

    def _on_leader(self, token: int | None) -> None:
        """The cluster node's hook (cluster/node.py): called when leadership changes, with
        this instance's fencing token when it becomes leader, None when it stops being
        leader (lease lost, Redis unreachable, stopping). Never called without a cluster.
        The single-writer jobs (incident engine, outbox, escalation, retention, recovery)
        follow it (cluster/duties.py), in the order told; the token fences the store."""
        self.leader_token = token
        change = self.leadership.lead(token) if token is not None else self.leadership.follow()
        task = asyncio.get_running_loop().create_task(change, name="leadership")
        self._handovers.add(task)
        task.add_done_callback(self._handed_over)

    def _handed_over(self, task: asyncio.Task[None]) -> None:
        self._handovers.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("leadership change failed", exc_info=task.exception())

    def _forwarder(self) -> Forwarder:
        """Writes asked here go to the leader over Redis while another instance leads
        (cluster/forward.py); its own client, apart from the node's."""
        import redis.asyncio as aioredis

        from devmentor_monitor.cluster.forward import Forwarder

        assert self.config.redis_url is not None
        assert self.cluster is not None
        client = aioredis.from_url(
            self.config.redis_url, socket_connect_timeout=2, socket_timeout=10
        )
        cluster = self.cluster

        def leader() -> str | None:
            return cluster.leader if cluster.mode == "member" else None

        def alone() -> bool:  # Redis away: writes are made here, as a lone instance's
            return bool(cluster.mode == "fallback")

        return Forwarder(client, cluster.me, leader, alone=alone)

    def _history_state(self, loop: asyncio.AbstractEventLoop) -> Callable[[str | None], None]:
        """The history writer's trouble (told from its thread) as the "history" source."""

        def tell(reason: str | None) -> None:
            state = SourceState.OK if reason is None else SourceState.UNAVAILABLE
            status = SourceStatus("history", state, reason or "")
            loop.call_soon_threadsafe(self.intake.observe, status)

        return tell

    # ------------------------------------------------------------------ lifecycle
    async def start(self, *, require_server: bool = True) -> None:
        """Open the database, start the exporter (unless told not to), then the tasks.

        With ``require_server`` an unbindable port raises OSError before any source
        starts (headless: nothing to do without it), and the API serves only once the
        history is restored; without (the dashboard), it becomes the exporter's visible
        state and the rest runs (the TUI is still useful), and the health checks start
        first (`_start_first_sources`), before the exporter and the history's figures:
        the screen waits for them.
        Each part started is paired with its stop, so a failure part-way leaves nothing
        running: what had started is stopped, in reverse order, before the error is
        raised.
        """
        # Blocking calls (psutil) run in threads; two are plenty, and each extra thread
        # costs a malloc arena (RSS) for nothing.
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(max_workers=2, thread_name_prefix="blocking")
        )
        async with AsyncExitStack() as stack:
            stack.callback(self._drop_alert_sub)
            stack.push_async_callback(self._cancel_tasks)
            if not require_server:  # the dashboard: its first values while the files open
                self._start_first_sources()
            await asyncio.to_thread(self.db.open)  # StorageError: a clear message, no start
            stack.push_async_callback(asyncio.to_thread, self.db.close)
            stack.push_async_callback(self.outbox.close)
            self.history.on_state = self._history_state(asyncio.get_running_loop())
            await asyncio.to_thread(self.history.open)
            stack.push_async_callback(self.history.close)
            stack.push_async_callback(self._cancel_tasks)  # the first sources, before it
            stack.callback(self.intake.release_history)  # a failed start: held writes go on
            await self._restore_last_known()
            await self.engine.load()
            await self._load_alerting()
            stack.push_async_callback(self._save_flaps)
            if require_server:  # the API serves the figures as they were, never empty ones
                await self._restore_history()
                await self._restore_pushed()
            elif self._first is not None:  # adopted: the first round was waited for already
                self._start_sources(FIRST_SOURCES)
            else:  # the host's first read and the exporter's set-up: after the first round
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(FIRST_ROUND_WAIT):
                        await self.health.first_round.wait()
                self._start_sources(FIRST_SOURCES)
            await self._start_server(stack, require_server)
            stack.push_async_callback(self._cancel_tasks)  # before the server stops
            for name in self.health.later:  # the monitor's own /health: listening now
                self.health.check_now(name)
            self.health.later = set()
            if not require_server:  # the figures, filled in as they are read
                await self._restore_history()
                await self._restore_pushed()
            self._start_tasks()
            self._running = stack.pop_all()  # started: stop() undoes it
        log.info(
            "monitor started",
            extra={
                "fields": {
                    "services": len(self.config.services),
                    "listen": self.server.url if self.server else "off",
                    "config": self.config.source,
                    "read_only": self.config.server.read_only,
                }
            },
        )

    def _start_first_sources(self) -> None:
        """The dashboard's first values, before the rest of the start: the health checks
        run while the files open and the state is read (in threads); the host's first read
        (a process scan) and the exporter's set-up, which would hold up the loop and add to
        the checks' measured times, wait for their first round. The monitor's own /health
        is left for after the exporter; history writes and flap results wait for the
        restores."""
        if self._first is not None:  # out already (first_checks.py): supervised from here
            task = self._first.task
            self._tasks[self.health.name] = asyncio.create_task(
                self._supervise(self.health, running=task), name=f"source:{self.health.name}"
            )
            return
        self.health.later = {
            s.name for s in self.health.services if s.url and is_self(s.url, self.config)
        }
        self.intake.hold_history()
        self._early_checks = []
        self._alert_sub = self.store.bus.subscribe()  # the alert loop sees their changes
        self._start_sources({self.health.name})

    async def _restore_last_known(self) -> None:
        """Each service's last status as the history left it, shown as stale until its
        first check; an unreadable history costs only that."""
        try:
            found = await self.intake.restore_last_known()
        except Exception as exc:
            log.error("last known statuses not restored", exc_info=exc)
            return
        if found:
            log.info("last known statuses restored", extra={"fields": {"services": found}})

    async def _restore_history(self) -> None:
        """Uptime, SLO and budget as the history left them (headless: before any source
        runs); a history that cannot be read costs the figures, never the start."""
        try:
            took = await self.intake.restore_history()
        except Exception as exc:
            log.error("history not restored: figures start empty", exc_info=exc)
            return
        log.info("history restored", extra={"fields": {"seconds": round(took, 3)}})

    async def _restore_pushed(self) -> None:
        """Pushed metrics' latest values and heartbeats' last beats, as history kept them:
        a restart neither empties /metrics nor resets a grace."""
        try:
            custom = await self.pusher.restore(self.history)
            beats = await self.heartbeats.restore(self.history, self.config.retention.metrics)
        except Exception as exc:  # history unreadable: start without them, and say so
            log.error("pushed metrics and heartbeats not restored", exc_info=exc)
            return
        if custom or beats:
            log.info(
                "pushed data restored",
                extra={"fields": {"custom_series": custom, "heartbeats": len(beats)}},
            )

    async def _load_alerting(self) -> None:
        """Silences, flap state and pending/firing alerts as the last run left them."""
        await self.silence_book.load()
        self.flaps.restore(await self.db.run(self.db.load_flap_states))
        early, self._early_checks = self._early_checks, None
        for result in early or ():
            self._checked(result)
        restored = await self.alert_state.restore()
        signals = [sig for inc in self.store.open_incidents() for sig in inc.signals]
        adopted = adopt(self.evaluator, signals)
        if restored or adopted:
            log.info(
                "alert state restored",
                extra={"fields": {"alerts": restored, "adopted_from_incidents": adopted}},
            )

    async def _save_flaps(self) -> None:
        try:
            await self.db.run(self.db.save_flap_states, self.flaps.snapshot())
        except Exception as exc:  # at stop: say so, and stop anyway
            log.error("flap state not saved", exc_info=exc)

    def _checked(self, result: CheckResult) -> None:
        """Every check result feeds flap detection; a start or stop is acted on by the
        alert loop. The dashboard's first ones wait until the flap state is read."""
        if not self.store.has_service(result.service):
            return
        if self._early_checks is not None:
            self._early_checks.append(result)
            return
        change = self.flaps.observe(result.service, result.ok)
        if change is not None:
            self._flap_changes.append(change)

    async def _flapping(self) -> None:
        """A service that started (stopped) flapping: its flapping signal fires (clears)."""
        changes, self._flap_changes = self._flap_changes, []
        if not changes:
            return
        severity = Severity(self.config.alerting.flapping.severity)
        now = self.clock()
        for change in changes:
            log.warning(
                "service flapping" if change.flapping else "service no longer flapping",
                extra={"fields": {"service": change.service, "change": round(change.change, 2)}},
            )
            await self.engine.on_signal(
                make_signal(
                    FLAPPING_RULE,
                    change.service,
                    change.service,
                    severity,
                    change.flapping,
                    now,
                    metric="flapping",
                    value=change.change,
                    threshold=self.config.alerting.flapping.high,
                )
            )
        await self._save_flaps()

    async def _start_server(self, stack: AsyncExitStack, require_server: bool) -> None:
        """Listen on the exporter's port. Headless, the HTTP stack is loaded at once; under
        the dashboard, by the first connection (listener.py), and until then the monitor's
        own check of its /health is answered here (`_answer_self`)."""
        if not self.serve:
            self.intake.observe(SourceStatus("exporter", SourceState.NOT_CONFIGURED, "--no-serve"))
            return
        from devmentor_monitor.config.schema import is_loopback
        from devmentor_monitor.server.listener import Exporter
        from devmentor_monitor.server.tls_error import TlsError

        cfg = self.config.server
        if self.config.anonymous_read and not is_loopback(cfg.host):
            log.warning(
                "auth.anonymous_read is on: every read (incidents, events, container logs, "
                "the dashboard) is open to anyone who can reach %s:%d",
                cfg.host,
                cfg.port,
            )
        tell = self.intake.observe
        server = Exporter(self._http_stack, cfg.host, cfg.port, cfg.tls, on_state=tell)
        try:
            await server.start(lazy=not require_server)
        except (OSError, TlsError) as exc:
            if require_server:
                raise
            why = str(exc) if isinstance(exc, TlsError) else exc.strerror or str(exc)
            self.intake.observe(
                SourceStatus(
                    "exporter",
                    SourceState.UNAVAILABLE,
                    f"cannot listen on {server.host}:{server.port}: {why}",
                )
            )
            return
        self.server = server
        stack.push_async_callback(server.stop)
        self.intake.observe(
            SourceStatus("exporter", SourceState.OK, server.url, last_ok=time.time())
        )
        # Its own /health, answered here while the exporter sleeps: only plain HTTP to an
        # address its sockets are bound to (a certificate, a bind that URL does not reach,
        # are what a check over the network is for: asked over HTTP, as ever).
        for svc in self.health.services:
            url = urlsplit(svc.url or "")
            own = url.scheme == "http" and url.path == "/health" and not url.query
            if own and server.reached_by(url.hostname or "", url.port or 80):
                self.health.checker.answered_here[svc.name] = self._answer_self

    def _http_stack(self) -> HttpStack:
        """The API over this monitor's parts (server/app.py, imported by the time the
        exporter calls this)."""
        from devmentor_monitor.server.app import ApiSettings, HttpStack, build_app

        app = build_app(
            self.store,
            self.commands,
            self.queries,
            settings=ApiSettings.from_config(self.config),
            started_at=self.started_at,
            self_check=self.self_check,
            clock=self.clock,
        )
        return HttpStack(app)

    def _answer_self(self) -> tuple[int, bytes] | None:
        """The monitor's own /health while its exporter has not loaded its HTTP stack:
        the same body the route gives (shapes.health_json), from here. Asked over HTTP,
        its own check would load aiohttp and the app (~12 MiB) in every `ultra`, to hear
        what this process knows. None once the stack is loaded: checked over HTTP then."""
        if self.server is None or not self.server.dormant:
            return None
        ok, problems = self.self_check()
        body = health_json(self.store, ok, problems, self.started_at, time.time())
        return (200 if ok else 503), json.dumps(body, separators=(",", ":")).encode()

    def _drop_alert_sub(self) -> None:
        """A start that failed before the alert loop took its subscription: close it."""
        if self._alert_sub is not None:
            self._alert_sub.close()
            self._alert_sub = None

    def _start_sources(self, names: Collection[str] | None = None) -> None:
        """Start the sources (those named only), each once."""
        for source in self.sources:
            if source.name not in self._tasks and (names is None or source.name in names):
                self._tasks[source.name] = asyncio.create_task(
                    self._supervise(source), name=f"source:{source.name}"
                )

    def _start_tasks(self) -> None:
        self._tasks["alerts"] = asyncio.create_task(self._alert_loop(), name="alerts")
        if self.predictor is not None:
            self._tasks["predictions"] = asyncio.create_task(
                self._predict_loop(), name="predictions"
            )
        self.leadership.start_jobs()  # the outbox's delivery, while this instance leads
        self._tasks["events"] = asyncio.create_task(self.event_processor.run(), name="events")
        if self.publisher is not None:
            self._tasks["publish"] = asyncio.create_task(self.publisher.run(), name="publish")
        self._start_sources()

    async def _cancel_tasks(self) -> None:
        """Cancel every task and wait for them, but not for ever: a task that swallows its
        cancel (Python 3.11's wait_for can, in a race) must not keep SIGTERM from stopping
        the monitor. It is named in the log, with where it is waiting, and cancelled again."""
        await self.leadership.stop_jobs()
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in await cancel_within(tasks, STOP_GRACE):
            log.error(
                "task did not stop when cancelled",
                extra={"fields": {"task": task.get_name(), "waiting_at": _waiting_at(task)}},
            )
            task.cancel()

    async def _supervise(
        self, source: Supervised, running: asyncio.Task[None] | None = None
    ) -> None:
        """Keep a source running: a bug in one source is state, not the end of the monitor.
        ``running``: its run, started before the monitor (first_checks.py), awaited first."""
        backoff = Backoff(*RESTART_BACKOFF, healthy_after=60.0)
        while True:
            backoff.started()
            try:
                if running is not None:
                    run, running = running, None
                    await run  # cancelling this task cancels it too
                else:
                    await source.run(self.intake)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                retry = backoff.next()
                log.error(
                    "source crashed",
                    exc_info=exc,
                    extra={"fields": {"source": source.name, "retry_in_s": round(retry, 1)}},
                )
                self.intake.observe(
                    SourceStatus(
                        source.name,
                        SourceState.UNAVAILABLE,
                        f"crashed: {type(exc).__name__}: {exc}",
                        retry_at=time.time() + retry,
                    )
                )
                await asyncio.sleep(retry)

    async def _alert_loop(self, interval: float = 1.0) -> None:
        """Evaluate the rules once a second over what changed; act on the transitions."""
        sub = self._alert_sub or self.store.bus.subscribe()
        self._alert_sub = None
        housekeeping_at = 0.0
        try:
            while True:
                # a turn of its own (slices.my_turn): the rules over what changed took
                # 1-3 ms of CPU at 1,000 services, in one callback once a second
                await my_turn()
                topics = sub.take()
                changed = {t.removeprefix("service:") for t in topics if t.startswith("service:")}
                await self.evaluate(changed)
                if self.leadership.leading:
                    await self._dispatch()
                    counts, errors = self.outbox.counts(), dict(self.outbox.last_errors)
                    self.store.set_notifications(counts, errors)
                    if time.monotonic() >= housekeeping_at:  # once a minute
                        housekeeping_at = time.monotonic() + 60
                        await self._housekeeping()
                else:  # a follower: what the leader wrote, on this screen and API
                    self._flap_changes.clear()  # the leader's detector acts on them
                    await self._mirror()
                if self.cluster is not None:
                    await self._watch_lead()
                await asyncio.sleep(interval)
        finally:
            sub.close()

    async def _predict_loop(self) -> None:
        """Run the prediction engine once per `predictions.interval`, in slices that give
        the loop back (slices.py); a failure is logged and retried on the next tick, never
        the end of the monitor."""
        assert self.predictor is not None
        failures = 0
        while True:
            try:
                await in_slices(self.predictor.stepping(self.clock()), background=True)
                failures = 0
            except Exception as exc:
                failures += 1
                if failures in (1, 10) or failures % 600 == 0:  # log, but do not flood
                    log.error(
                        "prediction step failed",
                        exc_info=exc,
                        extra={"fields": {"failures": failures}},
                    )
            await asyncio.sleep(self.config.predictions.interval)

    async def _watch_lead(self) -> None:
        cluster = self.cluster
        try:
            await self.leadership.watch(cluster.mode, time.monotonic(), cluster.token)
        except Exception as exc:  # the store away mid hand-over: tried again next second
            log.error("leadership hand-over failed", exc_info=exc)

    async def _mirror(self) -> None:
        try:
            await self.leadership.mirror()
        except Exception as exc:  # the shared store away: state, retried next second
            log.error("incidents not mirrored from the shared store", exc_info=exc)

    async def _housekeeping(self) -> None:
        """Escalate unacknowledged incidents; forget what retention says to forget."""
        try:
            await self.engine.escalate()
            self.pusher.expire()
            await self._save_flaps()
            cutoff = self.clock() - self.config.retention.incidents
            await self.db.run(self.db.purge, cutoff)
            await self.silence_book.purge(cutoff)
            await self.db.run(self.db.purge_events, self.clock() - self.config.retention.events)
        except Exception as exc:
            log.error("housekeeping failed", exc_info=exc)

    async def _dispatch(self) -> None:
        """After the rules: flapping signals, notifications due, alert state to disk."""
        try:
            await self._flapping()
            await self.engine.release_held()
            await self.engine.dispatcher.tick(self.clock())
            await self.alert_state.sync()
        except Exception as exc:  # state, not the end of alerting
            log.error("alert dispatch failed", exc_info=exc)

    async def evaluate(self, changed: set[str] | None = None) -> None:
        transitions = self.evaluator.evaluate(self.clock(), changed)
        firing = dict.fromkeys((r.name for r in self.evaluator.rules), 0)
        for alert in self.evaluator.firing():
            firing[alert.rule.name] += 1
        self.store.set_alerts_firing(firing)
        if not self.leadership.leading:  # the leader acts on them; kept warm here
            return
        for transition in self.engine.order(transitions):
            if not self.leadership.leading:  # the lead lost meanwhile: no more writes
                return
            try:
                await self.engine.on_transition(transition)
            except Exception as exc:  # a failed write is state, not the end of alerting
                log.error(
                    "incident update failed",
                    exc_info=exc,
                    extra={
                        "fields": {
                            "rule": transition.alert.rule.name,
                            "subject": transition.alert.subject,
                        }
                    },
                )

    async def stop(self) -> None:
        """Undo what start did, in reverse: tasks, exporter, outbox, database."""
        for task in list(self._handovers):  # a hand-over must not start jobs after this
            task.cancel()
        await asyncio.gather(*self._handovers, return_exceptions=True)
        running, self._running = self._running, AsyncExitStack()
        await running.aclose()
        if self.leadership.forwarder is not None:
            with contextlib.suppress(Exception):
                await self.leadership.forwarder.close()
        self._stopped.set()
        log.info("monitor stopped")

    async def __aenter__(self) -> Monitor:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ own health
    def self_check(self) -> tuple[bool, list[str]]:
        """Is the monitor doing its job? Every source task alive and the host sampled lately."""
        problems = []
        for name, task in self._tasks.items():
            if task.done():
                problems.append(f"source {name} stopped")
        now = time.time()
        grace = 3 * self.config.intervals.system
        sample = self.store.system
        if now - self.started_at > grace and (sample is None or now - sample.ts > grace):
            problems.append(f"no host sample in {grace:g} s")
        return not problems, problems
