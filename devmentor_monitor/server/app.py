"""The embedded HTTP exporter: aiohttp in the monitor's own event loop.

Read-only in this version; every error is JSON with the right status code.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..aio import web
from ..report import check_json, series_json, service_json, source_json, system_json
from ..state import HOUR
from ..units import parse_duration
from .auth import Denied
from .exposition import CachedExposition
from .incidents_api import BadBody, IncidentsApi
from .openapi import openapi_document
from .predictions_api import PredictionsApi
from .streams import StreamsApi
from .workloads_api import WorkloadsApi

if TYPE_CHECKING:
    from ..runtime import Monitor

log = logging.getLogger("devmentor_monitor.server")

PROM_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MAX_WINDOW = 7 * 86400.0
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None
                  ) -> web.Response:
    return web.Response(body=json.dumps(data, separators=(",", ":")).encode(), status=status,
                        content_type="application/json", headers=headers)


def error_response(status: int, message: str, headers: dict[str, str] | None = None
                   ) -> web.Response:
    from http import HTTPStatus

    reason = HTTPStatus(status).phrase
    return json_response({"error": {"status": status, "reason": reason, "message": message}},
                         status=status, headers=headers)


class BadRequest(Exception):
    """A query parameter the API cannot use; becomes a 400 with this message."""


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except (BadRequest, BadBody) as exc:
        return error_response(400, str(exc))
    except Denied as exc:
        headers = {"WWW-Authenticate": 'Bearer realm="devmentor-monitor"'} \
            if exc.status == 401 else None
        return error_response(exc.status, exc.message, headers=headers)
    except web.HTTPMethodNotAllowed as exc:
        allowed = ", ".join(sorted(exc.allowed_methods))
        return error_response(405, f"{request.method} is not allowed on {request.path}; "
                              f"use {allowed}", headers={"Allow": allowed})
    except web.HTTPNotFound:
        return error_response(404, f"no such endpoint: {request.path} "
                              "(see /api/openapi.json)")
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(exc.status, exc.text or exc.reason, headers=None)
    except Exception:
        log.exception("request failed", extra={"fields": {"path": request.path}})
        return error_response(500, "internal error; see the monitor's log")


def query(request: web.Request, allowed: dict[str, Callable[[str], Any]]) -> dict[str, Any]:
    """Validate query parameters: unknown names and bad values are a 400, never ignored."""
    out: dict[str, Any] = {}
    for name, raw in request.query.items():
        parse = allowed.get(name)
        if parse is None:
            known = ", ".join(sorted(allowed)) or "none"
            raise BadRequest(f"unknown query parameter {name!r} (allowed: {known})")
        try:
            out[name] = parse(raw)
        except ValueError as exc:
            raise BadRequest(f"bad value for {name!r}: {exc}") from None
    return out


def window(raw: str) -> float:
    seconds = parse_duration(raw)
    if not 0 < seconds <= MAX_WINDOW:
        raise ValueError(f"window must be between 1s and 7d, got {raw!r}")
    return seconds


class Api:
    """Handlers; they read the store and never write it."""

    def __init__(self, monitor: Monitor) -> None:
        self.monitor = monitor
        self.store = monitor.store
        self.exposition = CachedExposition(monitor.store, monitor.started_at,
                                           monitor.config.server.metrics_cache)
        self._services_body = b""
        self._services_key: tuple[int, int] = (-1, -1)

    async def health(self, request: web.Request) -> web.Response:
        ok, problems = self.monitor.self_check()
        now = time.time()
        body = {"status": "ok" if ok else "fail", "problems": problems, "version": __version__,
                "uptime_s": round(now - self.monitor.started_at, 1),
                "services": self.store.counts(),
                "sources": [source_json(s, now) for s in self.store.sources()]}
        return json_response(body, 200 if ok else 503)

    async def metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=self.exposition.body(),
                            headers={"Content-Type": PROM_CONTENT_TYPE})

    async def services(self, request: web.Request) -> web.Response:
        query(request, {})
        key = (self.store.version, int(time.monotonic()))  # at most one render per second
        if key != self._services_key:
            services = [service_json(s) for s in self.store.services()]
            self._services_body = json.dumps(
                {"services": services, "counts": self.store.counts()},
                separators=(",", ":")).encode()
            self._services_key = key
        return web.Response(body=self._services_body, content_type="application/json")

    async def service(self, request: web.Request) -> web.Response:
        params = query(request, {"window": window})
        name = request.match_info["name"]
        if not self.store.has_service(name):
            known = ", ".join(self.store.service_names())
            return error_response(404, f"no service named {name!r}; known: {known}")
        since = time.time() - params.get("window", HOUR)
        ts, vs = self.store.latency_history(name).since(since)
        body = service_json(self.store.service(name))
        body["recent_checks"] = [check_json(c) for c in reversed(self.store.recent_checks(name))]
        body["latency_history_ms"] = [[t, round(v * 1000, 2)] for t, v in zip(ts, vs,
                                                                              strict=True)]
        return json_response(body)

    async def metrics_api(self, request: web.Request) -> web.Response:
        def series_list(raw: str) -> list[str]:
            names = [n for n in raw.split(",") if n]
            known = self.store.series_names()
            unknown = [n for n in names if n not in known]
            if unknown or not names:
                raise ValueError(f"unknown series {', '.join(unknown) or '(empty)'}; "
                                 f"known: {', '.join(known)}")
            return names

        params = query(request, {"window": window, "series": series_list})
        now = time.time()
        body: dict[str, Any] = {"ts": now, "system": system_json(self.store.system)}
        if "window" in params or "series" in params:
            names = params.get("series") or self.store.series_names()
            body["window_s"] = params.get("window", 300.0)
            body["series"] = series_json(self.store, names, now - body["window_s"])
        return json_response(body)

    async def alerts(self, request: web.Request) -> web.Response:
        """Every rule, and every alert it has raised with its state (inactive, pending,
        firing, resolved)."""
        query(request, {})
        ev = self.monitor.evaluator
        rules = [{"name": r.name, "metric": r.metric, "op": ">" if r.above else "<",
                  "threshold": None if r.threshold < 0 else r.threshold,
                  "threshold_from_slo": r.threshold < 0, "clear": r.clear, "for_s": r.for_s,
                  "severity": r.severity.value, "description": r.description}
                 for r in ev.rules]
        alerts = [{"rule": a.rule.name, "subject": a.subject, "state": a.state.value,
                   "since": a.since, "value": a.value, "threshold": a.threshold}
                  for a in sorted(ev.alerts.values(), key=lambda a: (a.rule.name, a.subject))]
        return json_response({"rules": rules, "alerts": alerts})

    async def openapi(self, request: web.Request) -> web.Response:
        return json_response(openapi_document())


ROUTES: list[tuple[str, str, str]] = [  # method, path, handler ("incidents." = IncidentsApi)
    ("GET", "/health", "health"),
    ("GET", "/metrics", "metrics"),
    ("GET", "/api/services", "services"),
    ("GET", "/api/services/{name}", "service"),
    ("GET", "/api/metrics", "metrics_api"),
    ("GET", "/api/alerts", "alerts"),
    ("GET", "/api/incidents", "incidents.list"),
    ("POST", "/api/incidents", "incidents.create"),
    ("GET", "/api/incidents/{id}", "incidents.get"),
    ("POST", "/api/incidents/{id}/acknowledge", "incidents.acknowledge"),
    ("POST", "/api/incidents/{id}/resolve", "incidents.resolve"),
    ("GET", "/api/openapi.json", "openapi"),
    ("GET", "/api/predictions", "predictions.list"),
    ("GET", "/api/events", "streams.events"),
    ("GET", "/api/events/stream", "streams.sse"),
    ("GET", "/ws", "streams.ws"),
    ("GET", "/dashboard", "streams.dashboard"),
    ("GET", "/api/containers", "workloads.containers"),
    ("GET", "/api/containers/{id}", "workloads.container"),
    ("GET", "/api/containers/{id}/logs", "workloads.container_logs"),
    ("POST", "/api/containers/{id}/{action}", "workloads.container_action"),
    ("GET", "/api/kubernetes/pods", "workloads.kube_list"),
    ("GET", "/api/kubernetes/deployments", "workloads.kube_list"),
    ("GET", "/api/kubernetes/nodes", "workloads.kube_list"),
    ("GET", "/api/kubernetes/events", "workloads.kube_list"),
    ("POST", "/api/kubernetes/deployments/{name}/restart", "workloads.kube_restart"),
    ("POST", "/api/kubernetes/deployments/{name}/scale", "workloads.kube_scale"),
    ("DELETE", "/api/kubernetes/pods/{name}", "workloads.kube_delete_pod"),
]


def build_app(monitor: Monitor) -> web.Application:
    app = web.Application(middlewares=[json_errors], client_max_size=1 << 20)
    api = Api(monitor)
    incidents = IncidentsApi(monitor, query, json_response, error_response)
    owners = {"": api, "incidents": incidents,
              "workloads": WorkloadsApi(monitor, query, json_response, error_response),
              "predictions": PredictionsApi(monitor, query, json_response, error_response),
              "streams": StreamsApi(monitor, query, json_response)}
    for method, path, attr in ROUTES:
        owner, _, name = attr.rpartition(".")
        handler = getattr(owners[owner], name)
        app.router.add_route(method, path, handler)
    app["api"] = api
    app["streams"] = owners["streams"]
    return app


class ExporterServer:
    """Starts and stops the aiohttp site; `url` is where it listens."""

    def __init__(self, monitor: Monitor) -> None:
        self.monitor = monitor
        self.host = monitor.config.server.host
        self.port = monitor.config.server.port
        self.app = build_app(monitor)
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False,
                                     shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        try:
            await site.start()
        except OSError:
            await self._runner.cleanup()
            self._runner = None
            raise

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
