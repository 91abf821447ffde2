"""/api/silences: list and read (open, like every read), create and expire (operator role).

The body is Alertmanager API v2's PostableSilence, less what the server knows better:
``matchers`` ([{name, value, isRegex, isEqual}], all must match), ``endsAt`` (ISO 8601
with an offset) or ``duration`` ("2h"), an optional ``startsAt``, and a ``comment``. The
creator is the API key's name. Expiring is `DELETE /api/silences/{id}` (ends it now, as
Alertmanager does). Every write, allowed or denied, lands in the audit trail.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from devmentor_monitor.aio import web
from devmentor_monitor.incidents.silence_book import MAX_COMMENT, MAX_SILENCE, SilenceError
from devmentor_monitor.incidents.silences import MAX_MATCHERS, Matcher, parse_instant
from devmentor_monitor.server.auth import operator
from devmentor_monitor.server.params import BadRequest, choice, duration_between, json_object, query
from devmentor_monitor.server.responses import error_response, json_response
from devmentor_monitor.server.shapes import silence_json

if TYPE_CHECKING:
    from devmentor_monitor.commands import Commands
    from devmentor_monitor.queries import Queries
    from devmentor_monitor.server.deps import ApiSettings

LABEL_NAME = r"[a-zA-Z_][a-zA-Z0-9_]*"  # Prometheus' label names
MATCHER_FIELDS = ("name", "value", "isRegex", "isEqual")
# RFC 3339 date-time, as JSON Schema's "date-time" format reads it: an offset is required.
DATE_TIME = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})"
)
DURATION = duration_between(
    1.0, MAX_SILENCE, ("1s", "366d"), "How long from startsAt (or now): 30m, 2h, 7d (1s to 366d)"
)
LIST_QUERY = {  # enforced by `list` and stated by /api/openapi.json
    "expired": choice(("true", "false"), "also list expired silences (default false)"),
}


def parse_matchers(raw: object) -> list[Matcher]:
    """The body's ``matchers``; BadRequest naming the first one that is wrong and why."""
    if not isinstance(raw, list) or not raw:
        raise BadRequest("matchers must be a non-empty list of {name, value, isRegex, isEqual}")
    if len(raw) > MAX_MATCHERS:
        raise BadRequest(f"at most {MAX_MATCHERS} matchers, got {len(raw)}")
    out = []
    for i, doc in enumerate(raw):
        where = f"matchers[{i}]"
        if not isinstance(doc, dict):
            raise BadRequest(f"{where} must be an object {{name, value, isRegex, isEqual}}")
        unknown = sorted(set(doc) - set(MATCHER_FIELDS))
        if unknown:
            raise BadRequest(
                f"{where}: unknown field(s) {', '.join(unknown)}; expected "
                f"{', '.join(MATCHER_FIELDS)}"
            )
        missing = [f for f in ("name", "value") if f not in doc]
        if missing:
            raise BadRequest(f"{where}: missing field(s) {', '.join(missing)}")
        name = doc["name"]
        if not isinstance(name, str) or not re.fullmatch(LABEL_NAME, name):
            raise BadRequest(f"{where}: name must be a label name like service, got {name!r}")
        try:
            out.append(Matcher.from_json(doc))
        except ValueError as exc:
            raise BadRequest(f"{where}: {exc}") from None
    return out


def _instant(body: dict[str, Any], field: str) -> float | None:
    value = body.get(field)
    if value is None and field not in body:
        return None
    if not isinstance(value, str) or not re.fullmatch(DATE_TIME, value):
        raise BadRequest(
            f"{field} must be an ISO 8601 date-time with an offset, e.g. "
            f"2026-03-01T02:00:00Z, got {value!r}"
        )
    try:
        return parse_instant(value)
    except ValueError as exc:
        raise BadRequest(f"{field}: {exc}") from None


def _duration(body: dict[str, Any]) -> float | None:
    if "duration" not in body:
        return None
    value = body["duration"]
    if not isinstance(value, str):
        raise BadRequest(f"duration must be a string such as 2h or 30m, got {value!r}")
    try:
        seconds: float = DURATION(value)
    except ValueError as exc:
        raise BadRequest(f"duration: {exc}") from None
    return seconds


class SilencesApi:
    """Reads through the queries, writes through the commands (the runtime's SilenceBook)."""

    def __init__(
        self,
        commands: Commands,
        queries: Queries,
        settings: ApiSettings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.commands, self.queries, self.clock = commands, queries, clock
        self.keys = settings.api_keys

    async def list(self, request: web.Request) -> web.Response:
        p = query(request, LIST_QUERY)
        found = self.queries.silences(include_expired=p.get("expired") == "true")
        now = self.clock()
        return json_response({"silences": [silence_json(s, now) for s in found]})

    async def get(self, request: web.Request) -> web.Response:
        query(request, {})
        silence_id = request.match_info["id"]
        found = self.queries.silence(silence_id)
        if found is None:
            return error_response(404, f"no silence {silence_id!r}")
        return json_response(silence_json(found, self.clock()))

    async def create(self, request: web.Request) -> web.Response:
        actor = await operator(request, self.keys, self.commands, "silence.create", "new")
        query(request, {})
        body = await json_object(
            request,
            required=frozenset({"matchers", "comment"}),
            optional=frozenset({"endsAt", "duration", "startsAt"}),
        )
        matchers = parse_matchers(body["matchers"])
        comment = body["comment"]
        if not isinstance(comment, str) or not comment.strip():
            raise BadRequest("comment must be a non-empty string saying why")
        if len(comment) > MAX_COMMENT:
            raise BadRequest(f"comment is over {MAX_COMMENT} characters")
        if ("endsAt" in body) == ("duration" in body):
            raise BadRequest("give either endsAt (an ISO date-time) or duration (e.g. 2h)")
        try:
            silence = await self.commands.silence_add(
                matchers,
                comment=comment,
                actor=actor,
                ends_at=_instant(body, "endsAt"),
                duration=_duration(body),
                starts_at=_instant(body, "startsAt"),
            )
        except SilenceError as exc:
            return error_response(exc.status, str(exc))
        # On disk before this answer: the book awaited the SQLite commit.
        return json_response(
            silence_json(silence, self.clock()),
            status=201,
            headers={"Location": f"/api/silences/{silence.id}"},
        )

    async def expire(self, request: web.Request) -> web.Response:
        silence_id = request.match_info["id"]
        actor = await operator(request, self.keys, self.commands, "silence.expire", silence_id)
        query(request, {})
        try:
            silence = await self.commands.silence_expire(silence_id, actor)
        except SilenceError as exc:
            return error_response(exc.status, str(exc))
        return json_response(silence_json(silence, self.clock()))


__all__ = ["DATE_TIME", "DURATION", "LABEL_NAME", "LIST_QUERY", "SilencesApi", "parse_matchers"]
