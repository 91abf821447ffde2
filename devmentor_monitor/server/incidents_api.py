"""/api/incidents: list and read (open to all on loopback), open, acknowledge, resolve
(operator role). Every write, allowed or denied, lands in the audit trail."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ..aio import web
from ..engine.incidents import IncidentError
from ..model import IncidentState, Severity
from ..report import incident_json
from .auth import operator
from .params import int_between, since
from .predictions_api import cause_json

if TYPE_CHECKING:
    from ..runtime import Monitor

MAX_BODY = 64 * 1024
MAX_DESCRIPTION = 2000


class BadBody(Exception):
    """A request body the API cannot use; becomes a 400 with this message."""


def _choice(values: tuple[str, ...]):
    def parse(raw: str) -> str:
        if raw not in values:
            raise ValueError(f"must be one of {', '.join(values)}, got {raw!r}")
        return raw
    return parse


class IncidentsApi:
    def __init__(self, monitor: Monitor, query, json_response, error_response) -> None:
        self.monitor = monitor
        self.query, self.json, self.error = query, json_response, error_response

    async def list(self, request: web.Request) -> web.Response:
        p = self.query(request, {
            "state": _choice(tuple(s.value for s in IncidentState)),
            "service": str, "severity": _choice(tuple(s.value for s in Severity)),
            "since": since, "limit": int_between(1, 1000)})
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
        body = await self._body(request, required={"service", "description", "severity"},
                                optional=set())
        service, description, severity = (body["service"], body["description"],
                                          body["severity"])
        if not isinstance(service, str) or not self.monitor.store.has_service(service):
            known = ", ".join(self.monitor.store.service_names())
            raise BadBody(f"unknown service {service!r}; known: {known}")
        if not isinstance(description, str) or not description.strip():
            raise BadBody("description must be a non-empty string")
        if len(description) > MAX_DESCRIPTION:
            raise BadBody(f"description is over {MAX_DESCRIPTION} characters")
        if severity not in tuple(s.value for s in Severity):
            raise BadBody(f"severity must be one of {', '.join(s.value for s in Severity)}")
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
        body = await self._body(request, required=set(), optional={"comment"}, empty_ok=True)
        comment = body.get("comment", "")
        if not isinstance(comment, str) or len(comment) > MAX_DESCRIPTION:
            raise BadBody("comment must be a string of at most 2000 characters")
        try:
            inc = await step(incident_id, actor, comment)
        except IncidentError as exc:
            return self.error(exc.status, str(exc))
        return self.json(incident_json(inc))


    async def _body(self, request: web.Request, *, required: set[str], optional: set[str],
                    empty_ok: bool = False) -> dict[str, Any]:
        if request.content_length is not None and request.content_length > MAX_BODY:
            raise BadBody(f"body over {MAX_BODY} bytes")
        raw = await request.read()
        if not raw.strip() and empty_ok:
            return {}
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadBody(f"body is not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise BadBody("body must be a JSON object")
        unknown = set(data) - required - optional
        if unknown:
            raise BadBody(f"unknown field(s) {', '.join(sorted(unknown))}; expected "
                          f"{', '.join(sorted(required | optional))}")
        missing = required - set(data)
        if missing:
            raise BadBody(f"missing field(s) {', '.join(sorted(missing))}")
        return data

