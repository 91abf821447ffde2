"""/api/incidents: list and read (open to all on loopback), open, acknowledge, resolve
(operator role). Every write, allowed or denied, lands in the audit trail."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from devmentor_monitor.aio import web
from devmentor_monitor.incidents.engine import Actor, IncidentError
from devmentor_monitor.incidents.model import Incident, IncidentState, Severity
from devmentor_monitor.server.auth import operator
from devmentor_monitor.server.params import (
    LIMIT,
    BadRequest,
    choice,
    json_object,
    query,
    since,
    text,
)
from devmentor_monitor.server.predictions_api import cause_json
from devmentor_monitor.server.responses import error_response, json_response
from devmentor_monitor.server.shapes import incident_detail_json, incident_json

if TYPE_CHECKING:
    from devmentor_monitor.commands import Commands
    from devmentor_monitor.queries import Queries
    from devmentor_monitor.server.deps import ApiSettings
    from devmentor_monitor.store import Store

Step = Callable[[str, Actor, str], Awaitable[Incident]]  # acknowledge or resolve

MAX_DESCRIPTION = 2000
SEVERITIES = tuple(s.value for s in Severity)
LIST_QUERY = {  # enforced by `list` and stated by /api/openapi.json
    "state": choice((s.value for s in IncidentState), "open, acknowledged or resolved"),
    "service": text,
    "severity": choice(SEVERITIES, "low, medium, high or critical"),
    "since": since,
    "limit": LIMIT,
}


class IncidentsApi:
    """Open incidents from the store, the rest from disk; writes through the commands."""

    def __init__(
        self, store: Store, commands: Commands, queries: Queries, settings: ApiSettings
    ) -> None:
        self.store, self.commands, self.queries = store, commands, queries
        self.keys = settings.api_keys
        self.query, self.json, self.error = query, json_response, error_response

    async def list(self, request: web.Request) -> web.Response:
        p = self.query(request, LIST_QUERY)
        found = await self.queries.incidents(
            state=p.get("state"),
            service=p.get("service"),
            severity=p.get("severity"),
            since=p.get("since"),
            limit=p.get("limit", 200),
        )
        return self.json({"incidents": [incident_json(i, timeline=False) for i in found]})

    async def get(self, request: web.Request) -> web.Response:
        """The incident with its signals, dependents, silence, who was notified when and
        why it paged (or did not)."""
        self.query(request, {})
        incident_id = request.match_info["id"]
        # A shared store (several instances) is read, not this instance's copy: a change
        # made through another instance is seen here at once.
        inc = None if self.queries.shared else self.store.incident(incident_id)
        if inc is None:
            inc = await self.queries.incident(incident_id)
        if inc is None:
            return self.error(404, f"no incident {incident_id!r}")
        body = incident_detail_json(
            inc,
            notifications=await self.queries.notifications(inc.id),
            why_paged=self.queries.why_paged(inc),
            silence=self.queries.silence(inc.silenced_by) if inc.silenced_by else None,
        )
        # Ranked by the prediction engine while the incident was open (best first).
        body["root_causes"] = [cause_json(c) for c in self.store.root_causes(incident_id)]
        return self.json(body)

    async def create(self, request: web.Request) -> web.Response:
        actor = await operator(request, self.keys, self.commands, "incident.open", "new")
        body = await json_object(
            request, required=frozenset({"service", "description", "severity"})
        )
        service, description, severity = (body["service"], body["description"], body["severity"])
        if not isinstance(service, str) or not self.store.has_service(service):
            known = ", ".join(self.store.service_names())
            raise BadRequest(f"unknown service {service!r}; known: {known}")
        if not isinstance(description, str) or not description.strip():
            raise BadRequest("description must be a non-empty string")
        if len(description) > MAX_DESCRIPTION:
            raise BadRequest(f"description is over {MAX_DESCRIPTION} characters")
        if severity not in SEVERITIES:
            raise BadRequest(f"severity must be one of {', '.join(SEVERITIES)}")
        inc = await self.commands.open_incident(
            service, description.strip(), Severity(severity), actor
        )
        # On disk before this answer: the engine awaited the SQLite commit.
        return self.json(
            incident_json(inc), status=201, headers={"Location": f"/api/incidents/{inc.id}"}
        )

    async def acknowledge(self, request: web.Request) -> web.Response:
        return await self._transition(request, "incident.acknowledge", self.commands.acknowledge)

    async def resolve(self, request: web.Request) -> web.Response:
        return await self._transition(request, "incident.resolve", self.commands.resolve)

    async def _transition(self, request: web.Request, action: str, step: Step) -> web.Response:
        incident_id = request.match_info["id"]
        actor = await operator(request, self.keys, self.commands, action, incident_id)
        body = await json_object(request, optional=frozenset({"comment"}), empty_ok=True)
        comment = body.get("comment", "")
        if not isinstance(comment, str) or len(comment) > MAX_DESCRIPTION:
            raise BadRequest("comment must be a string of at most 2000 characters")
        try:
            inc = await step(incident_id, actor, comment)
        except IncidentError as exc:
            return self.error(exc.status, str(exc))
        return self.json(incident_json(inc))
