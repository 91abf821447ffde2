"""The Database methods on both stores: SQLite, and a real PostgreSQL (storage.url), where
each of SQLite's dialect quirks the methods use is translated (storage/postgres.py).
Plus what only a shared store needs: outbox claims that two senders never share, claims
that run out and are taken again, and the fence that refuses a stale leader's writes."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
from support import notifying
from support.http import Receiver
from support.notifying import rows, running, settings
from support.waiting import eventually

from devmentor_monitor.events.model import Event, EventSeverity
from devmentor_monitor.incidents.flapping import FlapSnapshot
from devmentor_monitor.incidents.model import (
    Incident,
    IncidentState,
    Severity,
    Signal,
    TimelineEntry,
)
from devmentor_monitor.incidents.silences import Matcher, Silence
from devmentor_monitor.model import AuditEntry
from devmentor_monitor.notify.outbox import Outbox
from devmentor_monitor.notify.settings import ChannelSettings
from devmentor_monitor.storage.db import Database, StaleLeader, StorageError
from devmentor_monitor.storage.keys import KeyProblem, KeyTable

pytestmark = pytest.mark.integration
# Each test using `db` runs on SQLite and on PostgreSQL (tests/conftest.py).
BOTH_STORES = True


def incident(iid: str = "inc-1", opened: float = 1_700_000_000.25, **kw: Any) -> Incident:
    base = Incident(
        iid, "auth", "health", Severity.CRITICAL, "down", "refused", IncidentState.OPEN,
        opened, opened,
    )  # fmt: skip
    return msgspec.structs.replace(base, **kw)


def test_incident_round_trip_keeps_times_signals_and_timeline_order(db: Database) -> None:
    sig = Signal(
        "health", "auth", "auth", "down", Severity.CRITICAL, True, "firing",
        1_700_000_000.25, 1_700_000_060.5, 0.123456789, 0.1, (("env", "prod"),),
    )  # fmt: skip
    late = Signal("latency", "auth", "auth", "latency", Severity.HIGH, False, "firing", 1.0, 2.0)
    inc = incident(signals=(sig, late), dependents=("memory",), paged_channels=("ops",))
    same_ts = [TimelineEntry(5.0, "note", "a", f"n{i}") for i in range(4)]
    db.save_incident(inc, [TimelineEntry(1.0, "opened", "monitor", "down"), *same_ts])
    # INSERT OR REPLACE: an update of the same id, with a new timeline entry appended
    acked = incident(
        state=IncidentState.ACKNOWLEDGED, acknowledged_at=1_700_000_100.75, acknowledged_by="k",
        signals=(sig, late), dependents=("memory",), paged_channels=("ops",),
    )  # fmt: skip
    db.save_incident(acked, [TimelineEntry(6.0, "ack", "k", "mine")])
    (back,) = db.load_incidents()
    assert back.state is IncidentState.ACKNOWLEDGED
    assert back.opened_at == 1_700_000_000.25  # a double: PostgreSQL's REAL would round it
    assert back.acknowledged_at == 1_700_000_100.75
    assert [s.rule for s in back.signals] == ["latency", "health"]  # by first_at
    assert back.signals[1].value == 0.123456789
    assert back.signals[1].labels == (("env", "prod"),)
    assert back.signals[1].outage is True
    # entries at the same second keep the order they were written in (rowid)
    assert [e.text for e in back.timeline] == ["down", "n0", "n1", "n2", "n3", "mine"]
    assert (back.dependents, back.paged_channels) == (("memory",), ("ops",))
    assert db.load_incident("inc-1") == back
    assert db.load_incidents(state="acknowledged", since=1.0, until=2e9)[0].id == "inc-1"
    assert db.load_incidents(open_only=True, service="memory") == []


def test_open_at_a_moment(db: Database) -> None:
    for iid, opened, resolved in (
        ("before", 100.0, 150.0),
        ("across", 150.0, 250.0),
        ("resolved-at", 150.0, 200.0),
        ("opened-at", 200.0, None),
        ("after", 201.0, None),
    ):
        state = IncidentState.OPEN if resolved is None else IncidentState.RESOLVED
        db.save_incident(incident(iid, opened, state=state, resolved_at=resolved), [])
    assert [i.id for i in db.load_incidents(open_at=200.0)] == ["opened-at", "across"]


def test_silences_upsert_expire_and_purge(db: Database) -> None:
    s = Silence("s1", (Matcher("service", "auth"),), 100.0, 500.0, "k", "deploy", 90.0)
    db.save_silence(s)
    regex = (Matcher("service", "a.*", is_regex=True),)
    db.save_silence(Silence("s1", regex, 100.0, 600.0, "k", "longer", 90.0))
    (back,) = db.load_silences()
    assert (back.ends_at, back.comment, back.matchers[0].is_regex) == (600.0, "longer", True)
    # not started yet: ending it starts it then too (SQLite's MIN(a, b): LEAST)
    db.save_silence(Silence("s2", (Matcher("service", "x"),), 300.0, 900.0, "k", "", 95.0))
    assert db.expire_silence("s2", 250.0) is True
    assert db.expire_silence("s2", 260.0) is False
    s2 = next(x for x in db.load_silences() if x.id == "s2")
    assert (s2.starts_at, s2.ends_at) == (250.0, 250.0)
    assert [x.id for x in db.load_silences(ended_after=300.0)] == ["s1"]
    assert db.purge_silences(300.0) == 1


def test_alert_and_flap_state(db: Database) -> None:
    db.save_alert_states([("r", "auth", "pending", 1.0, None, 0.5)], [])
    firing = ("r", "auth", "firing", 1.0, 0.9, 0.5)
    db.save_alert_states([firing, ("r", "mem", "pending", 2.0, 1.5, 1.0)], [])
    assert sorted(db.load_alert_states()) == [
        ("r", "auth", "firing", 1.0, 0.9, 0.5),
        ("r", "mem", "pending", 2.0, 1.5, 1.0),
    ]
    db.save_alert_states([], [("r", "auth")])
    assert [r[1] for r in db.load_alert_states()] == ["mem"]
    db.save_flap_states({"auth": FlapSnapshot("0101", True)})
    assert db.load_flap_states() == {"auth": FlapSnapshot("0101", True)}


def test_events_filters_and_purge(db: Database) -> None:
    db.save_events(
        [
            Event(10.0, "deploy.started", "auth", EventSeverity.INFO, "go", {"v": 1}),
            Event(20.0, "deploy.failed", "auth", EventSeverity.ERROR, "no", {}),
            Event(30.0, "scale.up", "memory", EventSeverity.WARNING, "more", {}),
        ]
    )
    assert [e.type for e in db.load_events(type_prefix="deploy.")] == [
        "deploy.failed",
        "deploy.started",
    ]
    warn = db.load_events(min_severity=EventSeverity.WARNING, since=15.0, until=40.0)
    assert [e.type for e in warn] == ["scale.up", "deploy.failed"]
    assert db.load_events(service="auth", limit=1)[0].data == {}
    assert db.purge_events(25.0) == 2


def test_audit_chain_prune_and_verify(db: Database) -> None:
    for i in range(5):
        db.audit(AuditEntry(float(i), "k", "incident.ack", f"inc-{i}", "api", "ok"))
    db.require_chained_audit()
    assert db.verify_audit().problem is None
    assert [e.target for e in db.load_audit(actor="k", action="incident.", since=2.0)] == [
        "inc-4",
        "inc-3",
        "inc-2",
    ]
    db.purge(2.0)  # rows before 2.0 go; the anchor keeps the chain verifiable
    db.purge(3.0)  # the anchor's upsert: pruned counts add up
    anchor = db.audit_anchor()
    assert anchor is not None
    assert anchor.pruned == 3
    check = db.verify_audit()
    assert (check.problem, check.entries) == (None, 2)


def test_outbox_rows_erase_and_counts(db: Database) -> None:
    db.save_incident(incident("inc-1"), [TimelineEntry(1.0, "opened", "m", "x")])
    first = db.enqueue("inc-1", "ops", "open", {"a": 1}, 1_700_000_000.0)
    second = db.enqueue("inc-1", "ops", "resolved", {"a": 2}, 1_700_000_000.0)
    assert second == first + 1  # lastrowid
    db.mark_notification(first, sent=True, attempts=1, error=None, next_at=None, now=2e9)
    assert db.notification_counts() == {("ops", "sent"): 1, ("ops", "pending"): 1}
    assert db.count_notifications(0.0, 3e9) == [
        ("ops", "open", "sent", 1),
        ("ops", "resolved", "pending", 1),
    ]
    assert [n.kind for n in db.load_notifications("inc-1")] == ["open", "resolved"]
    counts = db.erase(service="auth", before=None)
    assert (counts["incidents"], counts["notifications"], counts["timeline"]) == (1, 2, 1)
    assert db.load_incidents() == []


def test_api_keys(db: Database) -> None:
    table = KeyTable(db.conn)
    key, secret = table.create("ci", "operator", now=1.0, scopes=("incidents",))
    with pytest.raises(KeyProblem) as taken:
        table.create("ci", "viewer", now=2.0)
    assert taken.value.status == 409
    (stored,) = table.list()
    assert (stored.hash, stored.scopes) == (key.hash, ("incidents",))
    assert table.revoke("ci", 3.0).revoked == 3.0
    assert secret.startswith("dmk_")


# --------------------------------------------------------------------------- claims


def test_a_claimed_head_is_no_one_elses_until_it_runs_out(db: Database) -> None:
    a = db.enqueue("inc-1", "ops", "open", {}, 100.0)
    db.enqueue("inc-1", "ops", "resolved", {}, 100.0)  # waits behind its head
    b = db.enqueue("inc-2", "ops", "open", {}, 100.0)
    db.enqueue("inc-3", "ops", "open", {}, 500.0)  # not due yet
    got = db.claim_notifications(200.0, 10, "one", 30.0)
    assert [r["id"] for r in got] == [a, b]
    assert db.claim_notifications(210.0, 10, "two", 30.0) == []
    assert db.next_notification_at(210.0) == 230.0  # the claims run out then
    # "one" crashed: its claims run out and "two" takes them
    assert [r["id"] for r in db.claim_notifications(230.0, 10, "two", 30.0)] == [a, b]
    # an attempt's end clears the claim: a retry is anyone's once due
    db.mark_notification(a, sent=False, attempts=1, error="x", next_at=240.0, now=231.0)
    assert db.claim_notifications(239.0, 10, "one", 30.0) == []
    assert [r["id"] for r in db.claim_notifications(240.0, 10, "one", 30.0)] == [a]
    assert db.release_notifications("two") == 1  # b, given back
    assert [r["id"] for r in db.claim_notifications(241.0, 10, "one", 30.0)] == [b]


@pytest.fixture
def other(db: Database) -> Iterator[Database]:
    """A second connection to the same store, as another instance has."""
    if db.shared:
        from devmentor_monitor.storage.postgres import PgDatabase

        o: Database = PgDatabase(db.url)  # type: ignore[attr-defined]
    else:
        o = Database(db.path)
    o.open()
    yield o
    o.close()


def test_senders_claiming_at_once_never_get_the_same_row(db: Database, other: Database) -> None:
    ids = [db.enqueue(f"inc-{i}", "ops", "open", {}, 100.0) for i in range(60)]
    got: dict[str, list[int]] = {"a": [], "b": []}
    start = threading.Barrier(2)

    def claim(store: Database, name: str) -> None:
        start.wait()
        for _ in range(len(ids)):  # bounded: a claim that did not hold would loop forever
            claimed = store.claim_notifications(200.0, 3, name, 60.0)
            if not claimed:
                return
            got[name] += [r["id"] for r in claimed]

    threads = [
        threading.Thread(target=claim, args=(db, "a")),
        threading.Thread(target=claim, args=(other, "b")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not set(got["a"]) & set(got["b"])
    assert sorted(got["a"] + got["b"]) == ids


def webhook(r: Receiver) -> ChannelSettings:
    return ChannelSettings(name="ops", type="webhook", url=f"{r.base}/hook", timeout=2)


async def test_two_senders_on_one_store_send_each_page_once(
    db: Database, other: Database, receiver: Receiver
) -> None:
    ch = webhook(receiver)
    one, two = Outbox(db, [ch], settings(ch)), Outbox(other, [ch], settings(ch))
    async with running(one), running(two):
        # both started (on SQLite, a starting sender frees the claims it finds: a file's
        # one sender restarting after a crash)
        await eventually(lambda: one._waiting and two._waiting, what="both idle")
        for i in range(15):  # each instance queues pages; either may send any of them
            await one.notify(notifying.incident(f"a-{i}"), "open")
            await two.notify(notifying.incident(f"b-{i}"), "open")
        await eventually(lambda: len(receiver.requests) >= 30, 20, "every page")
        await asyncio.sleep(0.3)  # a duplicate would arrive about now
    sent = sorted(b["incident_id"] for b in receiver.bodies())
    assert sent == sorted([f"a-{i}" for i in range(15)] + [f"b-{i}" for i in range(15)])
    assert {r[3] for r in rows(db)} == {"sent"}


async def test_a_crashed_senders_claim_runs_out_and_another_sends(
    db: Database, other: Database, receiver: Receiver
) -> None:
    ch = webhook(receiver)
    crashed = Outbox(db, [ch], settings(ch))  # queues, claims, and dies before sending
    await crashed.notify(notifying.incident("inc-1"), "open")
    claimed_at = time.time()
    hold = 1.5 if db.shared else 60.0
    assert len(db.claim_notifications(claimed_at, 10, crashed.owner, hold)) == 1
    async with running(Outbox(other, [ch], settings(ch))):
        await eventually(lambda: len(receiver.requests) == 1, 10, "the page after the claim")
        if db.shared:  # another instance may still be sending: not before the claim ran out
            assert time.time() >= claimed_at + hold
        else:  # a file's one sender, restarted: its old claims are a crashed run's, at once
            assert time.time() < claimed_at + 10
        await asyncio.sleep(0.3)
    assert [b["incident_id"] for b in receiver.bodies()] == ["inc-1"]


# --------------------------------------------------------------------------- fence


def test_a_stale_leader_writes_nothing(db: Database, other: Database) -> None:
    if not db.shared:
        pytest.skip("fencing is the shared store's (SQLite is never shared by a fleet)")
    db.token = 7
    db.save_incident(incident("by-7"), [])
    other.token = 6  # the old leader, back from a pause
    with pytest.raises(StaleLeader, match="token 6 is older than the store's \\(7\\)"):
        other.save_incident(incident("by-6"), [TimelineEntry(1.0, "opened", "m", "x")])
    with pytest.raises(StaleLeader):
        other.enqueue("by-6", "ops", "open", {}, 1.0)  # a single statement too
    with pytest.raises(StaleLeader):
        other.claim_notifications(2e9, 10, "old", 30.0)
    assert isinstance(StaleLeader("x"), StorageError)
    assert [i.id for i in other.load_incidents()] == ["by-7"]  # reads still work
    assert other.load_notifications("by-6") == []
    other.token = 8  # a newer leader: writes, and moves the fence up
    other.save_incident(incident("by-8"), [])
    with pytest.raises(StaleLeader):
        db.audit(AuditEntry(time.time(), "k", "x", "y", "api", "ok"))
    db.token = None  # not fenced: a solo instance's writes
    db.audit(AuditEntry(time.time(), "k", "x", "y", "api", "ok"))


def test_a_lost_connection_is_opened_again(db: Database, other: Database) -> None:
    if not db.shared:
        pytest.skip("a file has no connection to lose")

    def drop() -> None:  # what a server restart does to the connection, as the client sees
        (pid,) = db.conn.execute("SELECT pg_backend_pid()").fetchone()
        other.conn.execute("SELECT pg_terminate_backend(?)", (pid,))

    drop()
    assert db.load_incidents() == []  # a read: sent again on a new connection
    drop()
    db.save_incident(incident("tx"), [])  # a transaction: begun again on a new one
    drop()
    silence = Silence("s", (Matcher("service", "auth"),), 1.0, 2.0, "k", "", 1.0)
    with pytest.raises(StorageError, match="connection lost"):  # one statement: not sent
        db.save_silence(silence)  # twice (the server may have committed it)
    db.save_silence(silence)  # the next call has a connection again
    assert [i.id for i in other.load_incidents()] == ["tx"]
    assert [s.id for s in other.load_silences()] == ["s"]
