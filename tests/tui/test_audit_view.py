"""`A`: the audit trail as the runtime wrote it (real SQLite file), newest first, with who,
what, when, from where and the outcome; `/` narrows it; an action taken in the TUI shows
up on coming back."""

from __future__ import annotations

from typing import Any

from support.waiting import until
from textual.widgets import DataTable
from tui_data import T, settle

from devmentor_monitor.incidents.engine import Actor
from devmentor_monitor.incidents.model import Severity
from devmentor_monitor.model import AuditEntry
from devmentor_monitor.tui.audit_view import AuditScreen

SIZE = (140, 40)


def rows(app: Any) -> list[list[str]]:
    table = app.screen.query_one("#audit-table", DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def test_the_audit_view_lists_who_did_what_from_where(
    make_app: Any, screen_text: Any
) -> None:
    app = make_app()
    monitor = app.monitor
    inc = await monitor.engine.open_manual(
        "auth", "login errors", Severity.HIGH, Actor("ops", "10.0.0.7")
    )
    await monitor.db.run(
        monitor.db.audit,
        AuditEntry(T - 1, "anonymous", "incident.resolve", "*", "203.0.113.9", "denied: 401", 7),
    )
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("A")
        await settle(pilot)
        assert isinstance(app.screen, AuditScreen)
        await until(pilot, lambda: len(rows(app)) == 2, "the audit rows")
        await settle(pilot)
        assert rows(app) == [  # newest first; the clock shows UTC here (the utc fixture)
            ["2023-11-14 22:13:20", "ops", "10.0.0.7", "incident.open", inc.id, "ok"],
            [
                "2023-11-14 22:13:19",
                "anonymous",
                "203.0.113.9",
                "incident.resolve",
                "*",
                "denied: 401 (x7)",
            ],
        ]
        text = screen_text(app)
        assert "Audit trail" in text
        assert "2 entries" in text
        assert "denied: 401 (x7)" in text

        await pilot.press("slash", *"10.0.0", "enter")
        await settle(pilot)
        assert [r[1] for r in rows(app)] == ["ops"]  # the source matches, not the other row
        assert "1 matching '10.0.0'" in screen_text(app)
        await pilot.press("escape")  # closes the filter: every row again
        await settle(pilot)
        assert len(rows(app)) == 2

        await pilot.press("i", "a")  # acknowledge from the incidents view (actor "tui")
        await until(pilot, lambda: len(monitor.db.load_audit()) == 3, "the acknowledgement")
        await pilot.press("A")  # back: read again on entering
        await until(pilot, lambda: len(rows(app)) == 3, "the new row")
        newest = rows(app)[0]
        assert newest[1:] == ["tui", "tui", "incident.acknowledge", inc.id, "ok"]
