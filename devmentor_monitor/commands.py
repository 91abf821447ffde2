"""Every write a view may ask for, in one object: incidents, silences and workload actions,
audited.

Views (the HTTP API and the TUI) get this instead of the runtime, so what they can change
is exactly what is listed here; the runtime builds it from its engine and actions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from devmentor_monitor.incidents.engine import Actor, IncidentEngine
from devmentor_monitor.workloads.actions import WorkloadActions

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from devmentor_monitor.cluster.forward import Forwarder
    from devmentor_monitor.custom.model import CustomSample
    from devmentor_monitor.custom.pusher import Pusher
    from devmentor_monitor.health.heartbeat import HeartbeatSource
    from devmentor_monitor.incidents.model import Incident, Severity
    from devmentor_monitor.incidents.silence_book import SilenceBook
    from devmentor_monitor.incidents.silences import Matcher, Silence
    from devmentor_monitor.model import AuditEntry
    from devmentor_monitor.storage.db import Database
    from devmentor_monitor.storage.keys import KeyTable, StoredKey
    from devmentor_monitor.workloads.model import ContainerInfo

__all__ = ["READ_ONLY", "Commands", "ReadOnlyError"]

READ_ONLY = "the monitor runs read-only (--read-only)"


class ReadOnlyError(Exception):
    """A write asked of a read-only monitor: the API answers 403, the TUI says so."""

    def __init__(self, action: str) -> None:
        super().__init__(f"{READ_ONLY}: {action} is disabled")
        self.action = action


class Commands:
    """Open, acknowledge and resolve incidents; create and expire silences; act on
    containers and deployments.

    Incident and silence writes are on disk when they return; every workload action,
    allowed or refused, is in the audit trail (WorkloadActions writes it). With
    ``read_only`` (server.read_only, --read-only) every one of them raises ReadOnlyError
    before it touches anything: this is the one place both views are refused.
    """

    def __init__(
        self,
        engine: IncidentEngine,
        workloads: WorkloadActions,
        db: Database,
        silences: SilenceBook,
        pusher: Pusher | None = None,
        heartbeats: HeartbeatSource | None = None,
        *,
        read_only: bool = False,
    ) -> None:
        self.read_only = read_only
        self._engine = engine
        self._workloads = workloads
        self._db = db
        self._silences = silences
        self._pusher = pusher
        self._heartbeats = heartbeats
        self._keys: KeyTable | None = None
        # In a fleet (cluster/): incident and silence writes go to the leader's engine,
        # the one writer of incidents; set by the runtime.
        self.forward: Forwarder | None = None
        self.made_elsewhere: Callable[[Any], None] | None = None  # the leader's answer, here

    def check_writable(self, action: str) -> None:
        """ReadOnlyError when the monitor runs read-only; views may ask before a form."""
        if self.read_only:
            raise ReadOnlyError(action)

    # ------------------------------------------------------------------ pushed data
    # Data, not control: the API audits them aggregated per minute (server/push_api.py),
    # not one row each (a job pushing every second would fill the trail).
    def push_metrics(self, samples: Sequence[CustomSample]) -> None:
        """Take pushed samples (all or none): PushError(422) past a cap."""
        self.check_writable("metrics.push")
        if self._pusher is None:
            from devmentor_monitor.custom.model import PushError

            raise PushError(503, "custom metrics are not available in this runtime")
        self._pusher.push(samples)

    def heartbeat(self, service: str) -> float | None:
        """A heartbeat service beat now: its time, or None while its source is not running."""
        self.check_writable("heartbeat")
        return None if self._heartbeats is None else self._heartbeats.beat(service)

    # ------------------------------------------------------------------ incidents
    async def open_incident(
        self, service: str, description: str, severity: Severity, actor: Actor
    ) -> Incident:
        self.check_writable("incident.open")
        args = {"service": service, "description": description, "severity": str(severity)}
        return await self._made("incident.open", args, actor)  # type: ignore[no-any-return]

    async def acknowledge(self, incident_id: str, actor: Actor, comment: str = "") -> Incident:
        self.check_writable("incident.acknowledge")
        args = {"incident_id": incident_id, "comment": comment}
        return await self._made("incident.acknowledge", args, actor)  # type: ignore[no-any-return]

    async def resolve(self, incident_id: str, actor: Actor, comment: str = "") -> Incident:
        self.check_writable("incident.resolve")
        args = {"incident_id": incident_id, "comment": comment}
        return await self._made("incident.resolve", args, actor)  # type: ignore[no-any-return]

    # ------------------------------------------------------------------ silences
    async def silence_add(
        self,
        matchers: Sequence[Matcher],
        *,
        comment: str,
        actor: Actor,
        ends_at: float | None = None,
        duration: float | None = None,
        starts_at: float | None = None,
    ) -> Silence:
        """Mute what all ``matchers`` match until ``ends_at`` or for ``duration`` seconds;
        SilenceError(400) on a bad one. On disk and audited when it returns."""
        self.check_writable("silence.create")
        args = {
            "matchers": [m.to_json() for m in matchers],
            "comment": comment,
            "ends_at": ends_at,
            "duration": duration,
            "starts_at": starts_at,
        }
        return await self._made("silence.create", args, actor)  # type: ignore[no-any-return]

    async def silence_expire(self, silence_id: str, actor: Actor) -> Silence:
        """End a silence now; SilenceError 404 (unknown) or 409 (ended, or from config)."""
        self.check_writable("silence.expire")
        return await self._made("silence.expire", {"silence_id": silence_id}, actor)  # type: ignore[no-any-return]

    async def _made(self, op: str, args: dict[str, Any], actor: Actor) -> Any:
        """Made by the fleet's leader when another instance leads, else here."""
        leader = self.forward.elsewhere() if self.forward is not None else None
        if leader is not None and self.forward is not None:
            made = await self.forward.call(leader, op, args, actor)
            if self.made_elsewhere is not None:  # on this screen and API at once
                self.made_elsewhere(made)
            return made
        return await self.made_here(op, args, actor)

    async def made_here(self, op: str, args: dict[str, Any], actor: Actor) -> Any:
        """One incident or silence write, made by this instance's engine and book (the
        leader answers forwarded ones with this: never forwarded again)."""
        from devmentor_monitor.incidents.model import Severity
        from devmentor_monitor.incidents.silences import Matcher

        if op == "incident.open":
            severity = Severity(args["severity"])
            return await self._engine.open_manual(
                args["service"], args["description"], severity, actor
            )
        if op == "incident.acknowledge":
            return await self._engine.acknowledge(args["incident_id"], actor, args["comment"])
        if op == "incident.resolve":
            return await self._engine.resolve(args["incident_id"], actor, args["comment"])
        if op == "silence.create":
            return await self._silences.add(
                tuple(Matcher.from_json(m) for m in args["matchers"]),
                comment=args["comment"],
                actor=actor,
                ends_at=args["ends_at"],
                duration=args["duration"],
                starts_at=args["starts_at"],
            )
        if op == "silence.expire":
            return await self._silences.expire(args["silence_id"], actor)
        raise ValueError(f"unknown write {op!r}")

    # ------------------------------------------------------------------ audit
    async def audit(self, actor: Actor, action: str, target: str, outcome: str) -> None:
        await self._engine.audit(actor, action, target, outcome)

    async def audit_denied(self, entry: AuditEntry) -> None:
        """Refusals counted per window (server.auth.DeniedAudit): a row with a count."""
        await self._db.run(self._db.audit, entry)

    # ------------------------------------------------------------------ API keys
    async def list_keys(self) -> list[StoredKey]:
        return await self._db.run(self._key_table().list)

    async def create_key(
        self,
        name: str,
        role: str,
        actor: Actor,
        *,
        now: float,
        expires: float | None,
        scopes: tuple[str, ...],
    ) -> tuple[StoredKey, str]:
        """A managed key and its secret (only the hash is stored); audited. KeyProblem 409
        when the name is taken."""

        def create() -> tuple[StoredKey, str]:
            return self._key_table().create(name, role, now=now, expires=expires, scopes=scopes)

        key, secret = await self._db.run(create)
        await self.audit(actor, "key.create", name, f"ok: role {role}")
        return key, secret

    async def revoke_key(self, name: str, actor: Actor, *, now: float) -> StoredKey:
        """Revoke a managed key (sessions made with it end too); audited. KeyProblem 404."""
        key = await self._db.run(lambda: self._key_table().revoke(name, now))
        await self.audit(actor, "key.revoke", name, "ok")
        return key

    def _key_table(self) -> KeyTable:  # in the database thread only
        if self._keys is None:
            from devmentor_monitor.storage.keys import KeyTable

            self._keys = KeyTable(self._db.conn)
        return self._keys

    # ------------------------------------------------------------------ workloads
    async def container(self, ref: str, action: str, actor: Actor) -> ContainerInfo:
        self.check_writable(f"container.{action}")
        return await self._workloads.container(ref, action, actor)

    async def container_logs(self, ref: str, lines: int | None = None) -> list[str]:
        """Not a write, but the same audited gateway to the Docker source's threads."""
        return await self._workloads.container_logs(ref, lines)

    async def restart_deployment(self, name: str, actor: Actor) -> None:
        self.check_writable("deployment.restart")
        await self._workloads.restart_deployment(name, actor)

    async def delete_pod(self, name: str, actor: Actor) -> None:
        self.check_writable("pod.delete")
        await self._workloads.delete_pod(name, actor)

    async def scale(self, name: str, replicas: int, actor: Actor) -> None:
        self.check_writable("deployment.scale")
        await self._workloads.scale(name, replicas, actor)
