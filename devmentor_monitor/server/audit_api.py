"""GET /api/audit: the audit trail, newest first, for the admin role: who did what, when,
from where and how it ended, with each row's place in the hash chain (`devmentor-monitor
audit verify` checks the chain itself)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from devmentor_monitor.aio import web
from devmentor_monitor.server.params import LIMIT, Param, query, text
from devmentor_monitor.server.responses import json_response
from devmentor_monitor.server.shapes import audit_json
from devmentor_monitor.units import SINCE_PATTERN, SINCE_WORDS, parse_since

if TYPE_CHECKING:
    from devmentor_monitor.queries import Queries
    from devmentor_monitor.server.deps import ApiSettings

DEFAULT_LIMIT = 200


def _query(clock: Callable[[], float]) -> dict[str, Param]:
    return {
        "actor": Param(str, text.schema, "the key's name (anonymous: refused without a key)"),
        "action": Param(
            str, text.schema, "exactly, e.g. incident.open; ending in '.' a prefix: incident."
        ),
        "since": Param(
            lambda raw: parse_since(raw, clock()),
            {"type": "string", "pattern": SINCE_PATTERN},
            f"written at or after {SINCE_WORDS}",
        ),
        "limit": Param(LIMIT.parse, LIMIT.schema, f"1-1000, default {DEFAULT_LIMIT}"),
    }


QUERY = _query(time.time)  # enforced by `list` and stated by /api/openapi.json


class AuditApi:
    def __init__(
        self, queries: Queries, settings: ApiSettings, clock: Callable[[], float] = time.time
    ) -> None:
        self.queries = queries  # the admin role is enforced by the auth middleware
        self.params = QUERY if clock is time.time else _query(clock)

    async def list(self, request: web.Request) -> web.Response:
        p = query(request, self.params)
        entries = await self.queries.audit(
            p.get("limit", DEFAULT_LIMIT),
            actor=p.get("actor"),
            action=p.get("action"),
            since=p.get("since"),
        )
        return json_response({"entries": [audit_json(e) for e in entries]})
