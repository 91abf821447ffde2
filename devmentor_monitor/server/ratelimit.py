"""Per-key token buckets on writes: one key's flood gets 429s, the other keys do not notice.

Every write route authorizes through server/auth.operator(), which takes a token here
once the key is known, so no write can skip the limit. Writes and actions share one
bucket per key (auth.write_rate, auth.write_burst); pushed data (POST /api/metrics,
heartbeats) has its own, larger one (auth.push_rate, auth.push_burst), since a job pushes
far more often than an operator acts. Buckets are kept per key name, at most MAX_BUCKETS
of them: keys are configured or created by an admin, so this bounds nothing in practice,
but memory stays bounded whatever happens; the bucket idle longest goes first and comes
back full.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from devmentor_monitor.aio import web

MAX_BUCKETS = 10_000


class RateLimited(Exception):
    """Over a key's limit: a 429 with this message and Retry-After (whole seconds)."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.message, self.retry_after = message, retry_after


@dataclass(frozen=True, slots=True)
class Rate:
    """Tokens a second (0: no limit) and the most held at once."""

    per_second: float
    burst: int
    setting: str  # the config prefix, for the message: "auth.write"


class _Bucket:
    __slots__ = ("at", "tokens")

    def __init__(self, tokens: float, at: float) -> None:
        self.tokens, self.at = tokens, at


class WriteLimits:
    """Token buckets per (kind, key name); ``take`` spends one or raises RateLimited."""

    def __init__(
        self, rates: Mapping[str, Rate], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rates, self.clock = dict(rates), clock
        self._buckets: OrderedDict[tuple[str, str], _Bucket] = OrderedDict()

    def take(self, kind: str, key: str) -> None:
        rate = self.rates[kind]
        if rate.per_second <= 0:
            return
        now = self.clock()
        bucket = self._buckets.get((kind, key))
        if bucket is None:
            bucket = _Bucket(float(rate.burst), now)
            self._buckets[(kind, key)] = bucket
            if len(self._buckets) > MAX_BUCKETS:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end((kind, key))
            elapsed = max(0.0, now - bucket.at)
            bucket.tokens = min(float(rate.burst), bucket.tokens + elapsed * rate.per_second)
            bucket.at = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return
        wait = max(1, math.ceil((1.0 - bucket.tokens) / rate.per_second))
        raise RateLimited(
            f"key {key!r} is over its {kind} limit of {rate.per_second:g}/s "
            f"(burst {rate.burst}; {rate.setting}_rate, {rate.setting}_burst); "
            f"retry in {wait} s",
            wait,
        )

    def __len__(self) -> int:
        return len(self._buckets)


WRITE_LIMITS = web.AppKey("write_limits", WriteLimits)
