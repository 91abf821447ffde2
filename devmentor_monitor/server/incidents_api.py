"""/api/incidents: list and read (open to all on loopback), open, acknowledge, resolve
(operator role). Every write, allowed or denied, lands in the audit trail."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..aio import web
from ..engine.incidents import IncidentError
from ..model import IncidentState, Severity
from ..report import incident_json
from .auth import operator
from .params import LIMIT, BadRequest, choice, json_object, since, text
from .predictions_api import cause_json

if TYPE_CHECKING:
    from ..runtime import Monitor

MAX_DESCRIPTION = 2000
SEVERITIES = tuple(s.value for s in Severity)
LIST_QUERY = {  # enforced by `list` and stated by /api/openapi.json
    "state": choice((s.value for s in IncidentState), "open, acknowledged or resolved"),
    "service": text, "severity": choice(SEVERITIES, "low, medium, high or critical"),
    "since": since, "limit": LIMIT}


class IncidentsApi:
    def __init__(self, monitor: Monitor, query, json_response, error_response) -> None:
        self.monitor = monitor
        self.query, self.json, self.error = query, json_response, error_response

    async def list(self, request: web.Request) -> web.Response:
        p = self.query(request, LIST_QUERY)
        db = self.monitor.db
        found = await db.run(db.load_incidents, state=p.get("state"),
                             service=p.get("service"), severity=p.get("severity"),
                             since=p.get("since"), limit=p.get("limit", 200))
        return self.json({"incidents": [incident_json(i, timeline=False) for i in found]})

    async def get(self, request: web.Request) -> web.Response:
        self.query(request, {})
        incident_id = request.match_info["id"]
        inc = self.monitor.store.incident(incident_id)
        if inc is None:
            db = self.monitor.db
            inc = await db.run(db.load_incident, incident_id)
        if inc is None:
            return self.error(404, f"no incident {incident_id!r}")
        body = incident_json(inc)
        # Ranked by the prediction engine while the incident was open (best first).
        body["root_causes"] = [cause_json(c)
                               for c in self.monitor.store.root_causes(incident_id)]
        return self.json(body)

    async def create(self, request: web.Request) -> web.Response:
        actor = await operator(request, self.monitor, "incident.open", "new")
        body = await json_object(request,
                                 required=frozenset({"service", "description", "severity"}))
        service, description, severity = (body["service"], body["description"],
                                          body["severity"])
        if not isinstance(service, str) or not self.monitor.store.has_service(service):
            known = ", ".join(self.monitor.store.service_names())
            raise BadRequest(f"unknown service {service!r}; known: {known}")
        if not isinstance(description, str) or not description.strip():
            raise BadRequest("description must be a non-empty string")
        if len(description) > MAX_DESCRIPTION:
            raise BadRequest(f"description is over {MAX_DESCRIPTION} characters")
        if severity not in SEVERITIES:
            raise BadRequest(f"severity must be one of {', '.join(SEVERITIES)}")
        inc = await self.monitor.engine.open_manual(service, description.strip(),
                                                    Severity(severity), actor)
        # On disk before this answer: the engine awaited the SQLite commit.
        return self.json(incident_json(inc), status=201,
                         headers={"Location": f"/api/incidents/{inc.id}"})

    async def acknowledge(self, request: web.Request) -> web.Response:
        return await self._transition(request, "incident.acknowledge",
                                      self.monitor.engine.acknowledge)

    async def resolve(self, request: web.Request) -> web.Response:
        return await self._transition(request, "incident.resolve", self.monitor.engine.resolve)

    async def _transition(self, request: web.Request, action: str, step) -> web.Response:
        incident_id = request.match_info["id"]
        actor = await operator(request, self.monitor, action, incident_id)
        body = await json_object(request, optional=frozenset({"comment"}), empty_ok=True)
        comment = body.get("comment", "")
        if not isinstance(comment, str) or len(comment) > MAX_DESCRIPTION:
            raise BadRequest("comment must be a string of at most 2000 characters")
        try:
            inc = await step(incident_id, actor, comment)
        except IncidentError as exc:
            return self.error(exc.status, str(exc))
        return self.json(incident_json(inc))
