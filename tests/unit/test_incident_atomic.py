"""An incident's state and its timeline change together, as any reader sees them (issue 12,
finding 5): while the change is being written to SQLite, readers see the incident as it
was; once it is on disk, they see the new state and its timeline entry at once."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from support.waiting import eventually

from devmentor_monitor.config.schema import parse_text
from devmentor_monitor.incidents.engine import Actor, IncidentEngine
from devmentor_monitor.incidents.model import Incident, IncidentState, Severity, TimelineEntry
from devmentor_monitor.storage.db import Database
from devmentor_monitor.store import Store

CONFIG = "services:\n  - name: auth\n    url: http://127.0.0.1:1/health\n"
OPS = Actor("ops", "test")


class HeldSave:
    """Wraps Database.save_incident (it runs in the database thread): each call waits
    there until the test lets it go, so the test can read the store mid-write."""

    def __init__(self, db: Database) -> None:
        self.real = db.save_incident
        self.saving = threading.Event()
        self.go = threading.Event()

    def __call__(self, inc: Incident, entries: list[TimelineEntry]) -> None:
        self.saving.set()
        self.go.wait(10)
        self.real(inc, entries)


@pytest.fixture
def engine(tmp_path) -> Iterator[tuple[IncidentEngine, Database]]:
    store = Store(parse_text(CONFIG))
    db = Database(tmp_path / "monitor.db")
    db.open()
    yield IncidentEngine(store, db, None), db
    db.close()


def consistent(inc: Incident | None) -> bool:
    """A state other than open is only shown with the timeline entry that says so."""
    if inc is None or inc.state is IncidentState.OPEN:
        return True
    return inc.state.value in [e.kind for e in inc.timeline]


async def read_mid_write(
    engine: IncidentEngine, db: Database, incident_id: str, change: Callable[[], Awaitable[Any]]
) -> tuple[Incident | None, Any]:
    """Start ``change``, read the incident while its write is on its way to disk, finish;
    return what was read and what ``change`` returned."""
    held = HeldSave(db)
    db.save_incident = held  # type: ignore[method-assign]
    try:
        task = asyncio.create_task(change())
        await eventually(held.saving.is_set, 5, what="the write to start")
        seen = engine.store.incident(incident_id)  # frozen: it stays as it was read
        held.go.set()
        result = await task
    finally:
        db.save_incident = held.real  # type: ignore[method-assign]
    return seen, result


@pytest.mark.parametrize("kind", ["acknowledged", "resolved"])
async def test_no_reader_sees_a_state_before_its_timeline_entry(engine, kind):
    eng, db = engine
    inc = await eng.open_manual("auth", "down", Severity.HIGH, OPS)
    act = eng.acknowledge if kind == "acknowledged" else eng.resolve
    seen, inc = await read_mid_write(eng, db, inc.id, lambda: act(inc.id, OPS, "on it"))
    assert consistent(seen), (seen.state, [e.kind for e in seen.timeline])
    assert seen is not None
    assert seen.state is IncidentState.OPEN
    assert inc.state.value == kind
    assert inc.timeline[-1].kind == kind
    stored = await db.run(db.load_incident, inc.id)
    assert stored is not None
    assert stored.state.value == kind
    assert [e.kind for e in stored.timeline] == [e.kind for e in inc.timeline]


async def test_changes_to_one_incident_land_in_order_and_none_is_lost(engine):
    """An event entry added while a resolve is being written waits for it: the row on
    disk stays resolved (no older snapshot written over it) and the timeline order on
    disk is the order readers saw."""
    eng, db = engine
    inc = await eng.open_manual("auth", "down", Severity.HIGH, OPS)
    entry = TimelineEntry(inc.opened_at + 1, "event", "monitor", "deploy.failed")
    held = HeldSave(db)
    db.save_incident = held  # type: ignore[method-assign]
    resolve = asyncio.create_task(eng.resolve(inc.id, OPS))
    await eventually(held.saving.is_set, 5, what="the resolve to be written")
    add = asyncio.create_task(eng.add_timeline(inc, [entry]))
    await asyncio.sleep(0)  # one turn of the loop (not a wait): `add` starts and queues
    held.go.set()
    _, inc = await asyncio.gather(resolve, add)  # the incident as the last change left it
    db.save_incident = held.real  # type: ignore[method-assign]
    stored = await db.run(db.load_incident, inc.id)
    assert stored is not None
    assert stored.state is IncidentState.RESOLVED
    assert [e.kind for e in inc.timeline] == ["opened", "resolved", "event"]
    assert [e.kind for e in stored.timeline] == ["opened", "resolved", "event"]


async def test_the_store_hands_out_frozen_records_and_a_change_makes_a_new_one(engine):
    """A reader cannot edit the store's incident, and an acknowledge puts a new record
    in the store while the one read before it stays as it was."""
    eng, _db = engine
    opened = await eng.open_manual("auth", "down", Severity.HIGH, OPS)
    before = eng.store.incident(opened.id)
    assert before is not None
    with pytest.raises(AttributeError):  # frozen
        before.state = IncidentState.RESOLVED  # type: ignore[misc]
    with pytest.raises(AttributeError):  # a tuple: no append
        before.timeline.append(TimelineEntry(0.0, "event", "reader", "x"))  # type: ignore[attr-defined]

    acked = await eng.acknowledge(opened.id, OPS, "on it")

    after = eng.store.incident(opened.id)
    assert after is acked
    assert after is not before
    assert after.state is IncidentState.ACKNOWLEDGED
    assert [e.kind for e in after.timeline] == ["opened", "acknowledged"]
    assert before.state is IncidentState.OPEN  # what was read stays as read
    assert before.acknowledged_by is None
    assert [e.kind for e in before.timeline] == ["opened"]
