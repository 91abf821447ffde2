"""Pushed data (operator role): POST /api/metrics takes custom metric samples, POST
/api/heartbeat/{name} a heartbeat service's beat. Validation and caps are
custom/model.py's; the beat goes to the heartbeat source (health/heartbeat.py). Both are
audited, aggregated per minute."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from devmentor_monitor.aio import web
from devmentor_monitor.custom.model import PushError, parse_body
from devmentor_monitor.incidents.engine import Actor
from devmentor_monitor.server.auth import DENIED_AUDIT, operator
from devmentor_monitor.server.params import json_body, query
from devmentor_monitor.server.responses import error_response, json_response

if TYPE_CHECKING:
    from devmentor_monitor.commands import Commands
    from devmentor_monitor.config.schema import CustomMetrics
    from devmentor_monitor.server.deps import ApiSettings
    from devmentor_monitor.store import Store


class PushApi:
    def __init__(
        self,
        store: Store,
        commands: Commands,
        settings: ApiSettings,
        limits: CustomMetrics,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store, self.commands, self.limits, self.clock = store, commands, limits, clock
        self.keys = settings.api_keys

    async def push(self, request: web.Request) -> web.Response:
        """One sample ``{name, value, labels?, ts?}`` or a list of them, all or none."""
        actor = await operator(
            request, self.keys, self.commands, "metrics.push", "custom", kind="push"
        )
        query(request, {})
        body = await json_body(request)
        try:
            samples = parse_body(body, self.clock(), self.limits)
            self.commands.push_metrics(samples)
        except PushError as exc:
            return error_response(exc.status, exc.message)
        await _audit(request, actor, "metrics.push", "custom")
        return json_response({"accepted": len(samples), "series": len(self.store.custom_latest())})

    async def heartbeat(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        actor = await operator(request, self.keys, self.commands, "heartbeat", name, kind="push")
        query(request, {})
        if not self.store.has_service(name):
            beating = [
                n for n in self.store.service_names() if self.store.service_config(n).heartbeat
            ]
            known = ", ".join(beating) or "none (declare one with heartbeat: {grace: 10m})"
            return error_response(404, f"no service named {name!r}; heartbeat services: {known}")
        if self.store.service_config(name).heartbeat is None:
            return error_response(
                409,
                f"{name} is checked over HTTP at its url, not by heartbeat; declare it with "
                "'heartbeat: {grace: ...}' instead of 'url' to push beats",
            )
        ts = self.commands.heartbeat(name)
        if ts is None:
            return error_response(
                503, "the heartbeat source is not running (starting or restarting); retry"
            )
        await _audit(request, actor, "heartbeat", name)
        s = self.store.service(name)
        return json_response({"service": name, "ts": ts, "status": s.status.value})


async def _audit(request: web.Request, actor: Actor, action: str, target: str) -> None:
    """Pushed data is audited like refusals are (server/auth.DeniedAudit): one row per
    key, source and action per minute with a count, so a job pushing every second adds a
    row a minute, not a fsync'd row a request."""
    audit = request.app.get(DENIED_AUDIT)
    if audit is not None:
        await audit.record(actor, action, target, "ok")
