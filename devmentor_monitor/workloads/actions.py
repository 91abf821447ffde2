"""Container and cluster actions, shared by the API, the TUI and the incident engine.

One place decides what is allowed (scale within MIN_REPLICAS..MAX_REPLICAS, automatic
scaling only with AUTO_SCALE_ENABLED) and audits every attempt, allowed or not. The
sources do the I/O, in threads with timeouts.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

from devmentor_monitor.incidents.engine import ENGINE, Actor
from devmentor_monitor.incidents.model import Incident
from devmentor_monitor.model import SourceState
from devmentor_monitor.workloads.model import ContainerInfo, DeploymentInfo

if TYPE_CHECKING:
    from devmentor_monitor.config.schema import Scaling
    from devmentor_monitor.store import Store
    from devmentor_monitor.workloads.docker_source import DockerSource
    from devmentor_monitor.workloads.kube_source import KubeSource

log = logging.getLogger(__name__)


class ActionError(Exception):
    """Refused or failed; ``status`` is the HTTP status that fits (400, 404, 502, 503)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class AuditTrail(Protocol):
    """Where every attempt is written (the incident engine's audit)."""

    def audit(self, actor: Actor, action: str, target: str, outcome: str) -> Awaitable[None]: ...


def find_container(store: Store, ref: str) -> ContainerInfo | None:
    """By full id, name, or an unambiguous id prefix of at least 6 characters."""
    items: list[ContainerInfo] = store.docker.items("containers")
    for c in items:
        if ref in (c.id, c.name):
            return c
    found = [c for c in items if len(ref) >= 6 and c.id.startswith(ref)]
    return found[0] if len(found) == 1 else None


class WorkloadActions:
    """Given exactly what the actions use: the store (targets and source states), the
    scaling limits, the audit trail and the two sources (None when not configured)."""

    def __init__(
        self,
        store: Store,
        scaling: Scaling,
        audit: AuditTrail,
        *,
        docker: DockerSource | None = None,
        kube: KubeSource | None = None,
    ) -> None:
        self.store = store
        self.scaling = scaling
        self.audit_trail = audit
        self.docker_source = docker
        self.kube_source = kube

    # ------------------------------------------------------------------ docker
    def find_container(self, ref: str) -> ContainerInfo | None:
        return find_container(self.store, ref)

    def _docker(self) -> DockerSource:
        source = self.docker_source
        if source is None:
            raise ActionError(
                503,
                "docker: not available: not configured (add a docker: "
                "section to services.yaml or set DOCKER_HOST)",
            )
        status = self.store.source("docker")
        if status is None or status.state is not SourceState.OK:
            why = status.reason if status is not None else "connecting"
            raise ActionError(503, f"docker: not available: {why}")
        return source

    async def container(self, ref: str, action: str, actor: Actor) -> ContainerInfo:
        from devmentor_monitor.workloads.docker_source import ACTIONS, DockerError

        target = ref
        try:
            if action not in ACTIONS:
                raise ActionError(400, f"unknown action {action!r}; one of {', '.join(ACTIONS)}")
            source = self._docker()
            c = self.find_container(ref)
            if c is None:
                raise ActionError(404, f"no container {ref!r}")
            target = c.name
            try:
                await source.act(c.id, action)
            except DockerError as exc:
                raise ActionError(502, f"docker {action} {c.name}: {exc}") from None
        except ActionError as exc:
            await self._audit(actor, f"container.{action}", target, f"failed: {exc}")
            raise
        await self._audit(actor, f"container.{action}", target, "ok")
        return c

    async def container_logs(self, ref: str, lines: int | None = None) -> list[str]:
        from devmentor_monitor.workloads.docker_source import DockerError

        source = self._docker()
        c = self.find_container(ref)
        if c is None:
            raise ActionError(404, f"no container {ref!r}")
        try:
            return await source.logs(c.id, lines)
        except DockerError as exc:
            raise ActionError(502, str(exc)) from None

    # ------------------------------------------------------------------ kubernetes
    def _kube(self) -> KubeSource:
        source = self.kube_source
        if source is None:
            raise ActionError(
                503,
                "kubernetes: not available: not configured (add a "
                "kubernetes: section to services.yaml)",
            )
        return source

    async def _kube_call(
        self, actor: Actor, action: str, target: str, call: Callable[[KubeSource], Awaitable[None]]
    ) -> None:
        from devmentor_monitor.workloads.kube_source import KubeError

        try:
            source = self._kube()
            try:
                await call(source)
            except KubeError as exc:
                raise ActionError(exc.status, f"{action} {target}: {exc}") from None
        except ActionError as exc:
            await self._audit(actor, action, target, f"failed: {exc}")
            raise
        await self._audit(actor, action, target, "ok")

    async def restart_deployment(self, name: str, actor: Actor) -> None:
        await self._kube_call(
            actor, "deployment.restart", name, lambda s: s.restart_deployment(name)
        )

    async def delete_pod(self, name: str, actor: Actor) -> None:
        await self._kube_call(actor, "pod.delete", name, lambda s: s.delete_pod(name))

    async def scale(
        self, name: str, replicas: int, actor: Actor, *, automatic: bool = False
    ) -> None:
        """Scale within MIN_REPLICAS..MAX_REPLICAS; automatic only with AUTO_SCALE_ENABLED."""
        scaling = self.scaling
        action = "deployment.scale"
        target = f"{name} to {replicas}"
        problem = None
        if automatic and not scaling.enabled:
            problem = ActionError(400, "automatic scaling is off (set AUTO_SCALE_ENABLED=true)")
        elif not scaling.min_replicas <= replicas <= scaling.max_replicas:
            problem = ActionError(
                400,
                f"replicas must be within MIN_REPLICAS.."
                f"MAX_REPLICAS ({scaling.min_replicas}.."
                f"{scaling.max_replicas}), got {replicas}",
            )
        if problem is not None:
            await self._audit(actor, action, target, f"denied: {problem}")
            raise problem
        await self._kube_call(actor, action, target, lambda s: s.scale(name, replicas))

    # ------------------------------------------------------------------ recovery
    async def recover(self, incident: Incident, action: str) -> str:
        """A recovery action for the incident engine: one line for timeline and audit."""
        service = incident.service
        try:
            if action.startswith("docker."):
                verb = action.removeprefix("docker.")
                bound = [c for c in self.store.docker.items("containers") if c.service == service]
                if not bound:
                    return f"failed: no container bound to {service}"
                for c in bound:
                    await self.container(c.id, verb, ENGINE)
                return f"ok: {action} {', '.join(c.name for c in bound)}"
            deployments: list[DeploymentInfo] = [
                d for d in self.store.kube.items("deployments") if d.service == service
            ]
            if not deployments:
                return f"failed: no deployment bound to {service}"
            for d in deployments:
                if action == "kubernetes.restart":
                    await self.restart_deployment(d.name, ENGINE)
                else:  # kubernetes.scale-up
                    await self.scale(d.name, d.desired + 1, ENGINE, automatic=True)
            return f"ok: {action} {', '.join(d.name for d in deployments)}"
        except ActionError as exc:
            return f"failed: {exc}"

    async def _audit(self, actor: Actor, action: str, target: str, outcome: str) -> None:
        log.info(
            "workload action",
            extra={
                "fields": {
                    "actor": actor.name,
                    "action": action,
                    "target": target,
                    "outcome": outcome,
                }
            },
        )
        try:
            await self.audit_trail.audit(actor, action, target, outcome)
        except Exception as exc:  # the audit trail failing must not hide the action's result
            log.error("audit write failed", exc_info=exc)
