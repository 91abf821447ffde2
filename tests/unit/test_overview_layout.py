"""The overview's plan: each pane the rows its content needs, up to a cap; the rest where
it helps most (overview_layout.py is pure)."""

from __future__ import annotations

from devmentor_monitor.tui.overview_layout import OverviewPlan, plan_overview


def plan(rows: int, wide: bool, services: int, incidents: int = 0) -> OverviewPlan:
    return plan_overview(rows, wide=wide, services=services, incidents=incidents, predictions=0)


def test_80x24_stays_compact() -> None:
    """21 rows, stacked: the table's 5 rows, the host below, one line of incidents."""
    assert plan(21, False, 5) == OverviewPlan(services=8, trends=0, bottom=3)


def test_wide_screens_give_the_table_its_rows_and_the_rest_to_trends() -> None:
    for rows in (47, 67):  # 160x50, 240x70
        p = plan(rows, True, 5)
        assert p.services == 5 + 3  # header and borders
        assert p.bottom == 3
        assert p.services + p.trends + p.bottom == rows


def test_a_fleet_fills_the_table_and_keeps_a_trends_share() -> None:
    p = plan(47, True, 40)
    assert p.services + p.trends + p.bottom == 47
    assert p.trends >= 47 // 5 - 3
    assert p.services >= 30
    p = plan(67, True, 40)
    assert p.services == 43  # every row of the table


def test_an_outage_grows_the_incidents_pane() -> None:
    calm = plan(47, True, 5, incidents=0)
    outage = plan(47, True, 5, incidents=12)
    assert outage.bottom == 12 + 2
    assert outage.bottom > calm.bottom
    assert plan(47, True, 5, incidents=40).bottom == 47 // 2  # capped at half
    assert plan(21, False, 5, incidents=5).bottom == 6  # 80x24: a few lines, not all


def test_every_row_is_given_out() -> None:
    for rows in range(18, 90):
        for wide in (False, True):
            for services in (0, 1, 5, 40, 1000):
                for incidents in (0, 3, 50):
                    p = plan(rows, wide, services, incidents)
                    assert min(p.services, p.bottom) >= 3, (rows, wide, services, p)
                    assert p.trends == 0 or p.trends >= 5, (rows, wide, services, p)
                    used = p.services + p.trends + p.bottom
                    assert used <= rows, (rows, wide, services, p)
                    if wide:
                        assert used == rows, (rows, wide, services, p)
