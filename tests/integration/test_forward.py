"""A write asked of a follower is made by the fleet's leader (cluster/forward.py), over a
real Redis: once, in the leader's store, with the caller's name; the leader's refusal is
the follower's answer; a leader that does not answer is a 503 and nothing is written."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis.asyncio as aioredis

from devmentor_monitor.cluster.forward import Forwarder
from devmentor_monitor.commands import Commands
from devmentor_monitor.config.schema import parse_text
from devmentor_monitor.incidents.engine import Actor, IncidentEngine, IncidentError
from devmentor_monitor.incidents.model import IncidentState, Severity
from devmentor_monitor.incidents.silence_book import SilenceBook, SilenceError
from devmentor_monitor.incidents.silences import Matcher, Silences
from devmentor_monitor.storage.db import Database
from devmentor_monitor.store import Store
from devmentor_monitor.workloads.actions import WorkloadActions

CONFIG = """
services:
  - {name: auth, url: "http://127.0.0.1:9/health"}
"""
OPS = Actor("ops", "10.0.0.7")


class Instance:
    """One instance's writers over its own file: its engine, silence book and Commands."""

    def __init__(
        self, path, redis_url: str, me: str, leader: list[str | None], alone: list[bool]
    ) -> None:
        config = parse_text(CONFIG)
        self.db = Database(path)
        self.db.open()
        store = Store(config)
        engine = IncidentEngine(store, self.db)
        self.silences = SilenceBook(Silences(), self.db)
        actions = WorkloadActions(store, config.scaling, engine)
        self.commands = Commands(engine, actions, self.db, self.silences)
        self.client = aioredis.from_url(redis_url)
        self.commands.forward = Forwarder(
            self.client, me, lambda: leader[0], alone=lambda: alone[0], answer_within=1.0
        )

    async def close(self) -> None:
        await self.client.aclose()
        self.db.close()


@pytest.fixture
async def pair(tmp_path, redis_server):
    leader: list[str | None] = ["a"]
    alone = [False]
    a = Instance(tmp_path / "a.db", redis_server.url, "a", leader, alone)
    b = Instance(tmp_path / "b.db", redis_server.url, "b", leader, alone)
    assert a.commands.forward is not None
    serving = asyncio.create_task(a.commands.forward.serve(a.commands.made_here))
    yield a, b, leader, serving, alone
    serving.cancel()
    await asyncio.wait([serving], timeout=5)
    for instance in (a, b):
        async with asyncio.timeout(5):
            await instance.close()


async def test_a_followers_writes_are_made_once_by_the_leader(pair) -> None:
    a, b, _, _, _ = pair
    opened = await b.commands.open_incident("auth", "login fails", Severity.CRITICAL, OPS)
    acked = await b.commands.acknowledge(opened.id, OPS, "looking")
    assert acked.state is IncidentState.ACKNOWLEDGED
    assert acked.acknowledged_by == "ops"
    # In the leader's store, not the follower's: one writer.
    (stored,) = a.db.load_incidents()
    assert (stored.id, stored.state) == (opened.id, IncidentState.ACKNOWLEDGED)
    assert b.db.load_incidents() == []
    audit = [(e.actor, e.action, e.source) for e in a.db.load_audit()]
    assert ("ops", "incident.acknowledge", "10.0.0.7") in audit

    made = await b.commands.silence_add(
        [Matcher("service", "auth")], comment="deploy", actor=OPS, duration=600
    )
    assert a.db.load_silences()[0].id == made.id
    assert a.silences.match({"service": "auth"}) is not None  # live on the leader
    ended = await b.commands.silence_expire(made.id, OPS)
    assert ended.ends_at <= time.time()


async def test_the_leaders_refusal_is_the_followers_answer(pair) -> None:
    _, b, _, _, _ = pair
    with pytest.raises(IncidentError) as refused:
        await b.commands.acknowledge("inc-nope", OPS)
    assert refused.value.status == 404
    assert "inc-nope" in str(refused.value)
    with pytest.raises(SilenceError) as bad:
        await b.commands.silence_add(
            [Matcher("service", "auth")], comment=" ", actor=OPS, duration=60
        )
    assert bad.value.status == 400
    assert "comment" in str(bad.value)


async def test_a_silent_leader_is_a_503_and_nothing_is_written(pair) -> None:
    a, b, _, serving, _ = pair
    serving.cancel()
    await asyncio.gather(serving, return_exceptions=True)
    started = time.monotonic()
    with pytest.raises(IncidentError) as silent:
        await b.commands.open_incident("auth", "x", Severity.MEDIUM, OPS)
    assert silent.value.status == 503
    assert "did not answer within 1 s; nothing was changed, try again" in str(silent.value)
    assert time.monotonic() - started < 3
    assert a.db.load_incidents() == []
    assert b.db.load_incidents() == []
    # taken back from the leader's list: a leader that catches up later does not make it
    assert a.commands.forward is not None
    again = asyncio.create_task(a.commands.forward.serve(a.commands.made_here))
    try:
        await asyncio.sleep(1.5)  # a served request would be written by now
        assert a.db.load_incidents() == []
    finally:
        again.cancel()
        await asyncio.wait([again], timeout=5)


async def test_with_no_leader_alone_the_write_is_made_here_and_mid_election_refused(
    pair,
) -> None:
    a, b, leader, _, alone = pair
    leader[0] = None  # an election under way: a write made here would be undone
    with pytest.raises(IncidentError) as electing:
        await b.commands.open_incident("auth", "x", Severity.MEDIUM, OPS)
    assert electing.value.status == 503
    assert "choosing its leader" in str(electing.value)
    assert b.db.load_incidents() == []
    alone[0] = True  # Redis unreachable: alone, this instance makes it
    opened = await b.commands.open_incident("auth", "x", Severity.MEDIUM, OPS)
    assert [i.id for i in b.db.load_incidents()] == [opened.id]
    assert a.db.load_incidents() == []
