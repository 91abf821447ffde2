"""The leader lease: ``SET leader <id> NX PX <lease>`` and a fencing token, in one Lua
script so no instance can take the lease without a new token.

The token is ``INCR token``, but never below Redis's time in microseconds: Redis runs
without persistence here, and a restarted Redis would count from 1 again, under the
highest token the store has seen, and no leader could ever write. With the floor, the
next token is above every earlier one while Redis's clock moves forward. (Milliseconds
were too coarse: a token taken from the floor within the millisecond of the one before
equalled it, as a CI run found. Microseconds, ~1.8e15, stay exact in Lua's doubles.)

Renewed at a third of the lease, only while the key still names this instance; a renewal
that finds another holder (or none) means the lease was lost: not leader from that
answer on. The local deadline (`valid_until`) is counted from *before* the renewal was
sent, so it never outlives the key in Redis.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import msgspec

from devmentor_monitor.cluster.membership import LEADER, TOKEN

if TYPE_CHECKING:
    import redis.asyncio as aioredis

# KEYS: leader, token. ARGV: me, lease ms, "renew" (this instance believes it holds it) or
# "take". Returns {state, token, pttl, holder}: state 1 taken (a new token), 2 renewed,
# 0 held by another (pttl: how long it still has).
_LEASE = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] and ARGV[3] == 'renew' then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {2, 0, tonumber(ARGV[2]), holder}
end
if holder == false or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  local t = redis.call('TIME')
  local floor = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local token = redis.call('INCR', KEYS[2])
  if token < floor then
    redis.call('SET', KEYS[2], string.format('%d', floor))
    token = floor
  end
  return {1, token, tonumber(ARGV[2]), ARGV[1]}
end
return {0, 0, redis.call('PTTL', KEYS[1]), holder}
"""


class LeaseAnswer(msgspec.Struct, frozen=True):
    holder: str | None
    token: int | None  # ours, while we hold it
    pttl: float  # seconds the holder's lease has left


class Lease:
    """Take or renew the lease; ``token`` is ours while held (None: not leader)."""

    def __init__(self, client: aioredis.Redis, me: str, lease: float) -> None:
        self.me = me
        self.lease = lease
        self.token: int | None = None
        self.valid_until = 0.0  # time.monotonic() past which the lease may be gone
        self._script = client.register_script(_LEASE)

    def held(self) -> int | None:
        """Our token if the lease is ours by the local deadline too, else None."""
        if self.token is not None and time.monotonic() < self.valid_until:
            return self.token
        return None

    async def attempt(self) -> LeaseAnswer:
        """Renew the lease if held, else try to take it."""
        sent = time.monotonic()
        mode = "renew" if self.token is not None else "take"
        state, token, pttl, holder = await self._script(
            keys=[LEADER, TOKEN], args=[self.me, round(self.lease * 1000), mode]
        )
        state = int(state)
        if state == 1:
            self.token = int(token)
        elif state == 0:
            self.token = None
        if self.token is not None:
            self.valid_until = sent + self.lease
        name = holder.decode() if isinstance(holder, bytes) else holder
        return LeaseAnswer(name or None, self.token, max(0.0, int(pttl) / 1000))

    def drop(self) -> None:
        """Not leader from now on (Redis unreachable: nothing says the lease is ours)."""
        self.token = None
        self.valid_until = 0.0
