"""How the overview shares its rows: each pane takes the rows its content needs, up to a
cap, and what is left goes where it helps most. The one place the heights are computed.

Order: incidents and predictions first (up to a quarter of the rows, half during an
outage), then the services table (its rows, leaving the latency trends a share), and the
rest to the latency trends (a wider trend per service) and the host pane, whose spare
rows draw CPU, memory and network history. Below 30 rows everything stays as compact as
it always was (80x24 fits).
"""

from __future__ import annotations

import msgspec

BORDER = 2  # a pane's top and bottom border
SHORT = 30  # screens under this many rows keep the compact layout
TRENDS_MIN = 5  # the latency trends pane: three services on a line each, or nothing
SERVICES_MIN = 5  # the services pane: its header and two rows
HOST_MIN = 6  # the host pane when stacked (narrow screens), as the stylesheet says
HOST_NEED = 14  # the host pane's meters with their borders (charts come on top)


class OverviewPlan(msgspec.Struct, frozen=True):
    """Rows, borders included; 0: not shown."""

    services: int
    trends: int
    bottom: int


def plan_overview(
    rows: int,
    *,
    wide: bool,
    services: int,
    incidents: int,
    predictions: int,
) -> OverviewPlan:
    """Heights for ``rows`` between the header and the event ticker.

    ``wide``: services and trends on the left, the host on the right (else stacked, the
    host below taking what is left). ``incidents``: open now (any: an outage, so the
    incidents pane may take half the rows)."""
    short = rows < SHORT - 3
    outage = incidents > 0
    caps = {(True, False): 3, (True, True): 6, (False, False): rows // 4, (False, True): rows // 2}
    cap = caps[short, outage]  # short screens: as compact as always
    least = SERVICES_MIN + (0 if wide else HOST_MIN)  # what the panes above keep
    bottom = min(max(incidents, predictions, 1) + BORDER, max(3, cap), max(3, rows - least))
    top = rows - bottom
    table = services + 1 + BORDER  # its header row
    # The rows for the services table and the trends (stacked: the host's go first).
    room = top if wide else max(SERVICES_MIN, top - (HOST_MIN if short else HOST_NEED))
    if short and not wide:  # 80x24: the table, then the host; no trends
        return OverviewPlan(max(min(SERVICES_MIN, room), min(table, room)), 0, bottom)
    trends_min = max(TRENDS_MIN, top // 5)
    svc = table if table + trends_min <= room else max(min(SERVICES_MIN, room), room - trends_min)
    left = room - svc
    if left < TRENDS_MIN:  # no room for trends: the table takes it (stacked: the host)
        return OverviewPlan(svc + left if wide else svc, 0, bottom)
    trends = left if wide else left // 2  # stacked: half to the host's charts
    return OverviewPlan(svc, trends if trends >= TRENDS_MIN else 0, bottom)
