"""The embedded HTTP exporter: aiohttp in the monitor's own event loop.

Every error is JSON with the right status code, protocol-level ones included
(connections.GuardedHandler); connections are admitted by connections.Gate.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from devmentor_monitor.aio import web
from devmentor_monitor.commands import Commands, ReadOnlyError
from devmentor_monitor.health.slo import HOUR
from devmentor_monitor.queries import Queries
from devmentor_monitor.server.audit_api import AuditApi
from devmentor_monitor.server.auth import (
    DENIED_AUDIT,
    GUARD,
    DeniedAudit,
    Guard,
    authenticate,
)
from devmentor_monitor.server.connections import Gate, connection_cap, fd_limit, head_received
from devmentor_monitor.server.deps import COMMANDS, QUERIES, SETTINGS, STORE, ApiSettings, SelfCheck
from devmentor_monitor.server.exposition import CachedExposition
from devmentor_monitor.server.history_api import HISTORY_PARAMS, RANGE_QUERY, HistoryApi
from devmentor_monitor.server.incidents_api import IncidentsApi
from devmentor_monitor.server.keyring import Denied, KeyRing
from devmentor_monitor.server.keys_api import KeysApi
from devmentor_monitor.server.openapi import openapi_document
from devmentor_monitor.server.params import (
    MAX_BODY,
    WINDOW,
    BadRequest,
    UnsupportedMediaType,
    query,
)
from devmentor_monitor.server.predictions_api import PredictionsApi
from devmentor_monitor.server.push_api import PushApi
from devmentor_monitor.server.ratelimit import WRITE_LIMITS, Rate, RateLimited, WriteLimits
from devmentor_monitor.server.reports_api import ReportsApi
from devmentor_monitor.server.responses import Pieces, error_response, json_response
from devmentor_monitor.server.routes import ROUTES
from devmentor_monitor.server.services_body import ServicesBody
from devmentor_monitor.server.sessions import Sessions
from devmentor_monitor.server.shapes import (
    alert_json,
    check_json,
    fleet_json,
    health_json,
    self_cost_json,
    series_json,
    service_json,
    system_json,
)
from devmentor_monitor.server.silences_api import SilencesApi
from devmentor_monitor.server.streams import StreamsApi
from devmentor_monitor.server.workloads_api import WorkloadsApi
from devmentor_monitor.store import Store

log = logging.getLogger("devmentor_monitor.server")

PROM_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
__all__ = [
    "API",
    "ROUTES",
    "STREAMS",
    "ApiSettings",
    "HttpStack",
    "build_app",
    "error_response",
    "json_response",
]


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except BadRequest as exc:
        return error_response(400, str(exc))
    except UnsupportedMediaType as exc:
        return error_response(415, str(exc))
    except Denied as exc:
        headers = (
            {"WWW-Authenticate": 'Bearer realm="devmentor-monitor"'} if exc.status == 401 else None
        )
        return error_response(exc.status, exc.message, headers=headers)
    except ReadOnlyError as exc:
        return error_response(403, str(exc))
    except RateLimited as exc:
        return error_response(429, exc.message, headers={"Retry-After": str(exc.retry_after)})
    except web.HTTPMethodNotAllowed as exc:
        allowed = ", ".join(sorted(exc.allowed_methods))
        return error_response(
            405,
            f"{request.method} is not allowed on {request.path}; use {allowed}",
            headers={"Allow": allowed},
        )
    except web.HTTPNotFound:
        return error_response(404, f"no such endpoint: {request.path} (see /api/openapi.json)")
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(exc.status, exc.text or exc.reason, headers=None)
    except Exception:
        log.exception("request failed", extra={"fields": {"path": request.path}})
        return error_response(500, "internal error; see the monitor's log")


class Api:
    """Handlers; they read the store (and the rules, through the queries), never write."""

    def __init__(
        self,
        store: Store,
        queries: Queries,
        settings: ApiSettings,
        *,
        started_at: float,
        self_check: SelfCheck,
    ) -> None:
        self.store = store
        self.queries = queries
        self.settings = settings
        self.started_at = started_at
        self.self_check = self_check
        self.exposition = CachedExposition(store, started_at, settings.metrics_cache)
        self.services_body = ServicesBody(store, queries)
        self.gate: Gate | None = None  # set by ExporterServer once it listens
        self.history = HistoryApi(store, queries)

    async def health(self, request: web.Request) -> web.Response:
        ok, problems = self.self_check()
        body = health_json(self.store, ok, problems, self.started_at, time.time())
        if self.gate is not None:  # saturation is the gate working, not a failure
            body["connections"] = self.gate.snapshot()
        return json_response(body, 200 if ok else 503)

    async def metrics(self, request: web.Request) -> web.Response:
        return web.Response(
            body=self.exposition.body(), headers={"Content-Type": PROM_CONTENT_TYPE}
        )

    async def services(self, request: web.Request) -> web.Response:
        query(request, {})
        body = self.services_body
        await body.ready()
        return web.Response(body=Pieces(body.chunks(), body.size, "application/json"))

    async def service(self, request: web.Request) -> web.Response:
        params = query(request, {"window": WINDOW})
        name = request.match_info["name"]
        if not self.store.has_service(name):
            known = ", ".join(self.store.service_names())
            return error_response(404, f"no service named {name!r}; known: {known}")
        now = time.time()
        ts, vs = await self.history.latency(name, now - params.get("window", HOUR), now)
        q = self.queries
        body = service_json(self.store.service(name), q.flap_state(name), q.burn_rates(name))
        body["recent_checks"] = [check_json(c) for c in reversed(self.store.recent_checks(name))]
        body["latency_history_ms"] = [[t, round(v * 1000, 2)] for t, v in zip(ts, vs, strict=True)]
        return json_response(body)

    async def metrics_api(self, request: web.Request) -> web.Response:
        """Host metrics now, their live history (window, series: host keys), or with
        since/until/step any stored series from history.db (history_api.py)."""
        if not HISTORY_PARAMS.isdisjoint(request.query):
            return await self.history.metrics(request)

        def series_list(raw: str) -> list[str]:
            names = [n for n in raw.split(",") if n]
            known = self.store.series_names()
            unknown = [n for n in names if n not in known]
            if unknown or not names:
                raise ValueError(
                    f"unknown series {', '.join(unknown) or '(empty)'}; known: {', '.join(known)}"
                    " (stored series such as host:cpu are read with since, until or step)"
                )
            return names

        # since/until/step are read above (history); named here so a 400 lists them too
        params = query(request, {"window": WINDOW, "series": series_list, **RANGE_QUERY})
        now = time.time()
        body: dict[str, Any] = {"ts": now, "system": system_json(self.store.system)}
        if "window" in params or "series" in params:
            names = params.get("series") or self.store.series_names()
            body["window_s"] = params.get("window", 300.0)
            since = now - body["window_s"]
            points = {n: await self.history.host(n, since, now) for n in names}
            body["series"] = series_json(points)
        return json_response(body)

    async def self_cost(self, request: web.Request) -> web.Response:
        """The monitor's own CPU, memory and each source's poll times (selfcost.py)."""
        query(request, {})
        return json_response(self_cost_json(self.store.cost))

    async def fleet(self, request: web.Request) -> web.Response:
        """The fleet as this instance sees it (cluster/): members and their shares, the
        leader, the mode ("solo", "member", "fallback") and why."""
        query(request, {})
        return json_response(fleet_json(self.store.fleet))

    async def alerts(self, request: web.Request) -> web.Response:
        """Every rule, and every alert it has raised with its state (inactive, pending,
        firing, resolved), the incident holding it and why it is quiet (silenced,
        inhibited by a dependency's incident, flapping)."""
        query(request, {})
        rules = [
            {
                "name": r.name,
                "metric": r.metric,
                "op": ">" if r.above else "<",
                "threshold": None if r.threshold < 0 else r.threshold,
                "threshold_from_slo": r.threshold < 0,
                "clear": r.clear,
                "for_s": r.for_s,
                "severity": r.severity.value,
                "description": r.description,
            }
            for r in self.queries.rules()
        ]
        q = self.queries
        alerts = [
            alert_json(a, q.alert_reasons(a), q.flap_state(a.service).flapping) for a in q.alerts()
        ]
        return json_response({"rules": rules, "alerts": alerts})

    async def openapi(self, request: web.Request) -> web.Response:
        query(request, {})
        return json_response(
            openapi_document(
                self.store.service_names(), self.settings.replicas, self.settings.open_reads
            )
        )


# Routed with a tighter pattern than documented: `logs` is a read with its own GET route,
# so POST .../logs is a 405 (Allow: GET), never an action attempt to audit.
_PATTERNS = {"/api/containers/{id}/{action}": "/api/containers/{id}/{action:(?!logs$)[^/]+}"}


API = web.AppKey("api", Api)
STREAMS = web.AppKey("streams", StreamsApi)


def build_app(
    store: Store,
    commands: Commands,
    queries: Queries,
    *,
    settings: ApiSettings,
    started_at: float,
    self_check: SelfCheck,
    clock: Callable[[], float] = time.time,
) -> web.Application:
    """The routed app over exactly these parts (see deps.py). Refusals counted in memory
    are written at cleanup too (aiohttp's cleanup_ctx), however the app is run."""
    app = web.Application(
        middlewares=[head_received, json_errors, authenticate], client_max_size=MAX_BODY
    )
    api = Api(store, queries, settings, started_at=started_at, self_check=self_check)
    ring = KeyRing(settings.api_keys, settings.scrape_token, commands.list_keys, clock)
    denied = DeniedAudit(commands.audit_denied, clock)
    sessions = Sessions(
        ring,
        commands,
        denied,
        secret=settings.session_secret,
        ttl=settings.session_ttl,
        secure=settings.tls,
        clock=clock,
    )
    guard = Guard(
        ring,
        open_reads=settings.open_reads,
        denied=denied,
        session=sessions.read,
        login_page=sessions.login_page,
        read_only=commands.read_only,
    )
    streams = StreamsApi(store, queries)
    owners: dict[str, Any] = {
        "": api,
        "incidents": IncidentsApi(store, commands, queries, settings),
        "silences": SilencesApi(commands, queries, settings, clock),
        "workloads": WorkloadsApi(store, commands, settings),
        "predictions": PredictionsApi(store, enabled=settings.predictions),
        "reports": ReportsApi(store, queries, clock),
        "streams": streams,
        "push": PushApi(store, commands, settings, settings.custom_metrics, clock),
        "history": api.history,
        "keys": KeysApi(commands, ring, clock),
        "sessions": sessions,
        "audit": AuditApi(queries, settings, clock),
    }
    for route in ROUTES:
        owner, _, name = route.handler.rpartition(".")
        handler = getattr(owners[owner], name)
        added = app.router.add_route(route.method, _PATTERNS.get(route.path, route.path), handler)
        guard.routes[added] = route
    app[STORE], app[COMMANDS], app[QUERIES], app[SETTINGS] = store, commands, queries, settings
    app[API] = api
    app[STREAMS] = streams
    app[DENIED_AUDIT] = denied
    app[GUARD] = guard
    app[WRITE_LIMITS] = WriteLimits(
        {
            "write": Rate(*settings.write_rate, "auth.write"),
            "push": Rate(*settings.push_rate, "auth.push"),
        }
    )

    async def flush_denied(_: web.Application) -> AsyncIterator[None]:
        yield
        await denied.flush()

    async def managed_keys(_: web.Application) -> AsyncIterator[None]:
        try:
            await ring.refresh()
        except Exception as exc:  # the database is checked at start; log and go on
            log.error("cannot read the managed API keys", exc_info=exc)
        task = asyncio.create_task(ring.keep_fresh(), name="managed-keys")
        yield
        task.cancel()

    async def services_body(_: web.Application) -> AsyncIterator[None]:
        yield
        api.services_body.close()  # its keeper task

    app.cleanup_ctx.append(flush_denied)
    app.cleanup_ctx.append(managed_keys)
    app.cleanup_ctx.append(services_body)
    return app


class HttpStack:
    """The app behind the exporter's sockets (listener.py): its runner, and the gate that
    admits connections (connections.py)."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.gate: Gate | None = None
        self._runner: web.AppRunner | None = None

    async def start(self) -> Gate:
        """Set the app up (its startup hooks run); the gate is the sockets' protocol
        factory."""
        self._runner = web.AppRunner(
            self.app, access_log=None, handle_signals=False, shutdown_timeout=1.0
        )
        await self._runner.setup()
        assert self._runner.server is not None
        self.gate = Gate(self._runner.server, connection_cap(fd_limit()), access_log=None)
        self.app[API].gate = self.gate
        return self.gate

    async def stop(self) -> None:
        """Once the sockets are closed: the connections, the counted refusals, clean up."""
        if self.gate is not None:
            self.gate.close()
        await self.app[DENIED_AUDIT].flush()  # before waiting on connections, as ever
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
