"""The incidents open at a moment (the TUI's time travel): opened_at <= t < resolved_at."""

from __future__ import annotations

from pathlib import Path

from devmentor_monitor.incidents.model import Incident, IncidentState, Severity
from devmentor_monitor.storage.db import Database


def incident(iid: str, opened: float, resolved: float | None) -> Incident:
    state = IncidentState.OPEN if resolved is None else IncidentState.RESOLVED
    return Incident(
        iid, "auth", "manual", Severity.HIGH, iid, "", state, opened, opened, resolved_at=resolved
    )


def test_open_at_a_moment(tmp_path: Path) -> None:
    db = Database(tmp_path / "monitor.db")
    db.open()
    try:
        for inc in (
            incident("before", 100.0, 150.0),  # resolved before 200
            incident("across", 150.0, 250.0),  # open at 200
            incident("resolved-at", 150.0, 200.0),  # resolved at 200: not open then
            incident("opened-at", 200.0, None),  # opened at 200: open then
            incident("after", 201.0, None),  # not yet
            incident("still-open", 50.0, None),
        ):
            db.save_incident(inc, [])
        open_ids = [i.id for i in db.load_incidents(open_at=200.0)]
        assert sorted(open_ids) == ["across", "opened-at", "still-open"]
        assert open_ids[0] == "opened-at"  # newest first
    finally:
        db.close()
