"""Membership through Redis: each instance beats every `cluster.heartbeat` with a TTL of
three beats, and reads the live members in the same atomic script.

Keys (prefix ``devmentor-cluster:``): ``members``, a sorted set whose score is when the
member expires, in milliseconds of *Redis server* time (one clock for the whole fleet:
instances' clocks may differ, Redis's is the one that judges); ``member:<id>``, the
member's JSON (API url, start time), expiring with it. An instance killed with -9 stops
beating and is gone from every member's list once its TTL has passed; one that stops
cleanly leaves at once (`leave`).

The scripts name other members' keys from an argument prefix: a single Redis (or a
replicated one), not Redis Cluster, where every key must be declared.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

if TYPE_CHECKING:
    import redis.asyncio as aioredis

PREFIX = "devmentor-cluster:"
MEMBERS = PREFIX + "members"
MEMBER = PREFIX + "member:"
LEADER = PREFIX + "leader"
TOKEN = PREFIX + "token"
CHECKS = PREFIX + "checks"  # the pub/sub channel of shared check results
TTL_BEATS = 3  # a member is gone after this many missed beats

# KEYS: members, member:<me>, leader. ARGV: me, ttl ms, my info JSON, member key prefix.
# Returns {now ms, leader or false, id1, info1, id2, info2, ...}.
_BEAT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('SET', KEYS[2], ARGV[3], 'PX', ttl)
local out = {now, redis.call('GET', KEYS[3])}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  out[#out + 1] = id
  out[#out + 1] = redis.call('GET', ARGV[4] .. id) or ''
end
return out
"""

# KEYS: members, member:<me>, leader. ARGV: me. Leaves, and gives up the lease if held.
_LEAVE = """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
if redis.call('GET', KEYS[3]) == ARGV[1] then redis.call('DEL', KEYS[3]) end
return 1
"""


class MemberInfo(msgspec.Struct, frozen=True):
    """What a member says about itself in ``member:<id>``."""

    url: str
    started: float


class Beat(msgspec.Struct, frozen=True):
    """One heartbeat's answer: Redis's time, the lease holder, the live members."""

    now_ms: int
    leader: str | None
    members: dict[str, MemberInfo]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class Membership:
    """This instance's heartbeat in the fleet's member list."""

    def __init__(self, client: aioredis.Redis, me: str, info: MemberInfo, ttl: float) -> None:
        self.me = me
        self.ttl_ms = max(1, round(ttl * 1000))
        self._info = msgspec.json.encode(info)
        self._beat = client.register_script(_BEAT)
        self._leave = client.register_script(_LEAVE)
        self._decode = msgspec.json.Decoder(MemberInfo)

    async def beat(self) -> Beat:
        """Beat, drop expired members, read the live ones (one atomic script)."""
        reply = await self._beat(
            keys=[MEMBERS, MEMBER + self.me, LEADER],
            args=[self.me, self.ttl_ms, self._info, MEMBER],
        )
        members: dict[str, MemberInfo] = {}
        for i in range(2, len(reply) - 1, 2):
            member, raw = _text(reply[i]), reply[i + 1]
            try:
                members[member] = self._decode.decode(raw)
            except (msgspec.DecodeError, TypeError):  # expired between the two reads
                members[member] = MemberInfo("", 0.0)
        leader = _text(reply[1]) if reply[1] else None
        return Beat(int(reply[0]), leader, members)

    async def leave(self) -> None:
        """Out of the list now (and the lease freed if this instance held it)."""
        await self._leave(keys=[MEMBERS, MEMBER + self.me, LEADER], args=[self.me])
