"""The cluster's Redis scripts against a real redis-server (cluster/membership.py,
cluster/lease.py): a member that stops beating is gone after its TTL, one that leaves is
gone at once; the lease is one holder's at a time, lost means not leader at once, and
fencing tokens only go up, even across a Redis restart."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import redis.asyncio as aioredis
from support.redis_server import RedisServer

from devmentor_monitor.cluster.lease import Lease
from devmentor_monitor.cluster.membership import MemberInfo, Membership

pytestmark = pytest.mark.integration


async def test_a_silent_member_expires_after_its_ttl_and_a_leaver_at_once(
    redis_server: Any,
) -> None:
    client = aioredis.from_url(redis_server.url)
    try:
        a = Membership(client, "a", MemberInfo("http://127.0.0.1:1", 1.0), ttl=0.6)
        b = Membership(client, "b", MemberInfo("http://127.0.0.1:2", 2.0), ttl=0.6)
        c = Membership(client, "c", MemberInfo("http://127.0.0.1:3", 3.0), ttl=0.6)
        await b.beat()
        await c.beat()
        seen = await a.beat()
        assert sorted(seen.members) == ["a", "b", "c"]
        assert seen.members["b"] == MemberInfo("http://127.0.0.1:2", 2.0)
        await c.leave()
        assert sorted((await a.beat()).members) == ["a", "b"]  # gone at once
        silent = time.monotonic()  # b beats no more, as after kill -9
        while "b" in (await a.beat()).members:
            assert time.monotonic() - silent < 1.0, "b still listed past its TTL"
            await asyncio.sleep(0.05)
        assert time.monotonic() - silent >= 0.5  # not before its TTL either
    finally:
        await client.aclose()


async def test_one_leader_at_a_time_lost_is_lost_at_once_tokens_rise(
    redis_server: RedisServer,
) -> None:
    client = aioredis.from_url(redis_server.url)
    try:
        a, b = Lease(client, "a", 0.5), Lease(client, "b", 0.5)
        first = await a.attempt()
        assert first.holder == "a"
        assert isinstance(first.token, int)
        assert a.held() == first.token
        other = await b.attempt()
        assert (other.holder, other.token, b.held()) == ("a", None, None)
        assert 0 < other.pttl <= 0.5
        renewed = await a.attempt()
        assert renewed.token == first.token  # a renewal keeps the token
        # a stops renewing (paused): b takes over once the lease has run out
        taken = time.monotonic()
        while (await b.attempt()).token is None:
            assert time.monotonic() - taken < 1.0, "b never took the lease"
            await asyncio.sleep(0.02)
        assert b.token is not None
        assert b.token > first.token
        late = await a.attempt()  # a wakes up and renews: the lease is b's
        assert (late.holder, late.token, a.held()) == ("b", None, None)
        # Redis restarted with nothing kept: the next token is still higher
        await client.flushall()
        again = await a.attempt()
        assert again.token is not None
        assert again.token > b.token
    finally:
        await client.aclose()
