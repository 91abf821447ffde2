"""/api/containers and /api/kubernetes/*: reads from the store, actions (operator role).

Reads never touch an engine; the log tail and actions go through WorkloadActions, which
runs them in the source's threads and audits every attempt (denied ones here).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from devmentor_monitor.aio import web
from devmentor_monitor.model import SourceState
from devmentor_monitor.server.auth import operator
from devmentor_monitor.server.params import BadRequest, int_between, json_object, query
from devmentor_monitor.server.responses import error_response, json_response
from devmentor_monitor.workloads.actions import ActionError, find_container
from devmentor_monitor.workloads.docker_source import ACTIONS

if TYPE_CHECKING:
    from devmentor_monitor.commands import Commands
    from devmentor_monitor.server.deps import ApiSettings
    from devmentor_monitor.store import Store

KUBE_KINDS = ("pods", "deployments", "nodes", "events")
CONTAINER_ACTIONS = ACTIONS  # POST /api/containers/{id}/{action}
LOGS_QUERY = {"lines": int_between(1, 5000, "1-5000, default docker.log_lines (50)")}
NOT_CONFIGURED = {
    "docker": "add a docker: section to services.yaml or set DOCKER_HOST",
    "kubernetes": "add a kubernetes: section to services.yaml",
}


class WorkloadsApi:
    def __init__(self, store: Store, commands: Commands, settings: ApiSettings) -> None:
        self.store, self.commands, self.settings = store, commands, settings
        self.keys = settings.api_keys
        self.query, self.json, self.error = query, json_response, error_response

    def _source(self, name: str) -> dict[str, Any]:
        """The source's state in the words the TUI uses: ok, or not available: why."""
        configured = self.settings.docker if name == "docker" else self.settings.kubernetes
        status = self.store.source(name)
        if not configured:
            return {
                "name": name,
                "available": False,
                "state": SourceState.NOT_CONFIGURED.value,
                "reason": NOT_CONFIGURED[name],
            }
        if status is None:
            return {
                "name": name,
                "available": False,
                "state": SourceState.STARTING.value,
                "reason": "connecting",
            }
        return {
            "name": name,
            "available": status.state is SourceState.OK,
            "state": status.state.value,
            "reason": status.reason,
            "last_ok": status.last_ok,
            "retry_at": status.retry_at,
        }

    # ------------------------------------------------------------------ docker
    async def containers(self, request: web.Request) -> web.Response:
        self.query(request, {})
        now = time.time()
        items = sorted(self.store.docker.items("containers"), key=lambda c: c.name)
        events = self.store.docker.recent_events(50)
        return self.json(
            {
                "source": self._source("docker"),
                "containers": [c.to_json(now) for c in items],
                "events": [e.to_json() for e in events],
            }
        )

    async def container(self, request: web.Request) -> web.Response:
        self.query(request, {})
        ref = request.match_info["id"]
        c = find_container(self.store, ref)
        if c is None:
            return self.error(404, f"no container {ref!r} (see /api/containers)")
        return self.json(c.to_json(time.time()))

    async def container_logs(self, request: web.Request) -> web.Response:
        p = self.query(request, LOGS_QUERY)
        ref = request.match_info["id"]
        try:
            lines = await self.commands.container_logs(ref, p.get("lines"))
        except ActionError as exc:
            return self.error(exc.status, str(exc))
        return self.json({"container": ref, "lines": lines})

    async def container_action(self, request: web.Request) -> web.Response:
        ref, action = request.match_info["id"], request.match_info["action"]
        if action not in CONTAINER_ACTIONS:
            raise BadRequest(f"unknown action {action!r}; one of {', '.join(CONTAINER_ACTIONS)}")
        actor = await operator(request, self.keys, self.commands, f"container.{action}", ref)
        try:
            c = await self.commands.container(ref, action, actor)
        except ActionError as exc:
            return self.error(exc.status, str(exc))
        return self.json({"container": c.name, "id": c.id, "action": action, "outcome": "ok"})

    # ------------------------------------------------------------------ kubernetes
    async def kube_list(self, request: web.Request) -> web.Response:
        self.query(request, {})
        kind = request.path.rstrip("/").rsplit("/", 1)[-1]  # one route per kind
        now = time.time()
        kube = self.store.kube
        if kind == "events":
            items = [e.to_json() for e in sorted(kube.items("events"), key=lambda e: -e.ts)]
        else:
            items = [o.to_json(now) for o in sorted(kube.items(kind), key=lambda o: o.name)]
        namespace = self.settings.namespace
        return self.json(
            {"source": self._source("kubernetes"), "namespace": namespace, kind: items}
        )

    async def kube_restart(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        actor = await operator(request, self.keys, self.commands, "deployment.restart", name)
        return await self._run(
            self.commands.restart_deployment(name, actor), {"deployment": name, "action": "restart"}
        )

    async def kube_scale(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        actor = await operator(request, self.keys, self.commands, "deployment.scale", name)
        body = await json_object(request, required=frozenset({"replicas"}))
        replicas = body["replicas"]
        if isinstance(replicas, bool) or not isinstance(replicas, int):
            raise BadRequest('body must be {"replicas": <integer>}')
        return await self._run(
            self.commands.scale(name, replicas, actor),
            {"deployment": name, "action": "scale", "replicas": replicas},
        )

    async def kube_delete_pod(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        actor = await operator(request, self.keys, self.commands, "pod.delete", name)
        return await self._run(
            self.commands.delete_pod(name, actor), {"pod": name, "action": "delete"}
        )

    async def _run(self, call: Awaitable[None], answer: dict[str, Any]) -> web.Response:
        try:
            await call
        except ActionError as exc:
            return self.error(exc.status, str(exc))
        return self.json({**answer, "outcome": "ok"})
