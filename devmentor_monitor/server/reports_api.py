"""GET /api/report: the report `devmentor-monitor report` prints, as JSON, computed by
reports/compute.py through the queries (history on disk, incidents, the outbox)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from devmentor_monitor.aio import web
from devmentor_monitor.reports.compute import build_report
from devmentor_monitor.reports.model import ServiceTarget
from devmentor_monitor.reports.spans import MAX_SPAN, MIN_SPAN, SPAN_WORDS
from devmentor_monitor.server.params import duration_between, query
from devmentor_monitor.server.responses import json_response
from devmentor_monitor.server.shapes import report_json

if TYPE_CHECKING:
    from devmentor_monitor.queries import Queries
    from devmentor_monitor.store import Store

SINCE = duration_between(
    MIN_SPAN,
    MAX_SPAN,
    SPAN_WORDS,
    f"The period before now: 24h, 7d, 30d ({SPAN_WORDS[0]} to {SPAN_WORDS[1]}; default 7d).",
)
QUERY = {"since": SINCE}  # enforced by `get` and stated by /api/openapi.json
DEFAULT_SPAN = 7 * 86400.0


class ReportsApi:
    def __init__(
        self, store: Store, queries: Queries, clock: Callable[[], float] = time.time
    ) -> None:
        self.store, self.queries, self.clock = store, queries, clock

    async def get(self, request: web.Request) -> web.Response:
        params = query(request, QUERY)
        services = [ServiceTarget(s.name, s.slo, s.interval) for s in self.store.services()]
        report = await build_report(
            self.queries, services, params.get("since", DEFAULT_SPAN), self.clock()
        )
        return json_response(report_json(report))
