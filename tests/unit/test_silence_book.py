"""The silence book: the one writer of the live `Silences` (on disk first, then in memory,
then audited), what it refuses and why, and that a reloaded book sees the same set."""

from __future__ import annotations

import pytest
from support.clock import FakeClock

from devmentor_monitor.incidents.engine import Actor
from devmentor_monitor.incidents.silence_book import SilenceBook, SilenceError, silence_state
from devmentor_monitor.incidents.silences import Maintenance, Matcher, Silences
from devmentor_monitor.storage.db import Database

OPS = Actor("ops", "127.0.0.1")
AUTH = [Matcher("service", "auth")]

# Each test using `db` runs on SQLite and on PostgreSQL (tests/conftest.py).
BOTH_STORES = True


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def db(tmp_path):
    database = Database(tmp_path / "monitor.db")
    database.open()
    yield database
    database.close()


async def test_add_is_on_disk_live_and_audited(db, clock) -> None:
    live = Silences()
    book = SilenceBook(live, db, clock=clock)
    made = await book.add(AUTH, comment=" auth deploy ", actor=OPS, duration=7200)
    assert (made.starts_at, made.ends_at, made.created_by) == (clock.now, clock.now + 7200, "ops")
    assert made.comment == "auth deploy"
    assert live.match({"service": "auth", "rule": "service_down"}, clock.now) == made  # same set
    assert book.match({"service": "memory"}) is None
    assert db.load_silences() == [made]
    (row,) = db.load_audit()
    assert (row.actor, row.action, row.target, row.source) == (
        "ops",
        "silence.create",
        made.id,
        "127.0.0.1",
    )
    assert row.outcome.startswith("ok: service='auth' until ")

    clock.advance(60)
    ended = await book.expire(made.id, OPS)
    assert ended.ends_at == clock.now
    assert silence_state(ended, clock.now) == "expired"
    assert book.match({"service": "auth"}) is None
    assert book.listed() == []
    assert book.listed(include_expired=True) == [ended]
    assert db.load_silences()[0].ends_at == clock.now
    assert [a.action for a in db.load_audit()] == ["silence.expire", "silence.create"]

    again = SilenceBook(Silences(), db, clock=clock)  # a restart: the same set back
    assert await again.load() == 1
    assert again.get(made.id) == ended


async def test_pending_then_active_with_ends_at(db, clock) -> None:
    book = SilenceBook(Silences(), db, clock=clock)
    made = await book.add(
        AUTH, comment="later", actor=OPS, starts_at=clock.now + 600, ends_at=clock.now + 1200
    )
    assert silence_state(made, clock.now) == "pending"
    assert book.match({"service": "auth"}) is None
    clock.advance(600)
    assert book.match({"service": "auth"}) == made
    assert silence_state(made, clock.now) == "active"


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"duration": 60, "ends_at": 2e9}, "either endsAt or duration"),
        ({}, "either endsAt or duration"),
        ({"duration": 0}, "duration must be positive"),
        ({"ends_at": 1.0}, "is not in the future"),
        ({"duration": 400 * 86400}, "within 366 days"),
        ({"duration": 60, "comment": "  "}, "comment must say why"),
        ({"duration": 60, "comment": "x" * 2001}, "over 2000 characters"),
        ({"duration": 60, "matchers": []}, "at least one matcher"),
        (
            {"duration": 60, "matchers": [Matcher("service", ".*", is_regex=True)]},
            "must not match an empty or missing label",
        ),
    ],
)
async def test_bad_silences_are_400_and_leave_nothing(db, clock, kwargs, needle) -> None:
    book = SilenceBook(Silences(), db, clock=clock)
    args = {"matchers": AUTH, "comment": "why", **kwargs}
    with pytest.raises(SilenceError, match=needle) as caught:
        await book.add(args.pop("matchers"), actor=OPS, **args)
    assert caught.value.status == 400
    assert book.listed() == []
    assert db.load_silences() == []
    assert db.load_audit() == []


async def test_expire_refusals(db, clock) -> None:
    window = Maintenance("backup", tuple(AUTH), start=clock.now - 60, end=clock.now + 60)
    book = SilenceBook(Silences(maintenance=[window]), db, clock=clock)
    with pytest.raises(SilenceError, match="no silence 'nope'") as caught:
        await book.expire("nope", OPS)
    assert caught.value.status == 404
    (virtual,) = book.listed()
    assert virtual.created_by == "maintenance:backup"
    assert book.get(virtual.id) == virtual
    with pytest.raises(SilenceError, match="maintenance window from the config") as caught:
        await book.expire(virtual.id, OPS)
    assert caught.value.status == 409
    made = await book.add(AUTH, comment="x", actor=OPS, duration=60)
    await book.expire(made.id, OPS)
    with pytest.raises(SilenceError, match="already expired") as caught:
        await book.expire(made.id, OPS)
    assert caught.value.status == 409


async def test_purge_forgets_on_disk_and_in_memory(db, clock) -> None:
    book = SilenceBook(Silences(), db, clock=clock)
    made = await book.add(AUTH, comment="x", actor=OPS, duration=60)
    clock.advance(3600)
    assert await book.purge(clock.now - 60) == 1
    assert book.get(made.id) is None
    assert db.load_silences() == []
